"""A real Git server on loopback for remote-build tests: ``git daemon`` over a folder of bare
repositories, on a free port, with a repository holding a Containerfile ``FROM`` the harness's
offline base image."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from testkit.harness.base_image import BASE_IMAGE
from testkit.harness.processes import free_port
from tests.source.gitrepos import GIT_ENV, git


@dataclass
class GitServer:
    """``git://127.0.0.1:PORT/NAME.git`` for each bare repository under ``base``."""

    base: Path
    port: int
    log: Path

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def upload_packs(self) -> int:
        """How many fetch or ls-remote requests the server has answered (its --verbose log)."""
        text = self.log.read_text() if self.log.exists() else ""
        return text.count("Request upload-pack")


@contextlib.contextmanager
def git_server(base: Path, port: int | None = None) -> Iterator[GitServer]:
    """Serve every repository under ``base`` until the block ends (the process is stopped by
    its own pid), on ``port`` (default: a free one)."""
    port = port or free_port()
    log = base.parent / f"git-daemon-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--export-all",
                "--verbose",
                "--reuseaddr",
                f"--base-path={base}",
                "--listen=127.0.0.1",
                f"--port={port}",
                str(base),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **GIT_ENV},
        )
    try:
        _wait_listening(port, process)
        yield GitServer(base, port, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, "git daemon exited at start"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"git daemon did not listen on 127.0.0.1:{port}")


@dataclass
class AppRepo:
    """A bare repository served by the Git server, and a work clone that commits to it."""

    bare: Path
    work: Path

    def commit(self, files: dict[str, str], message: str, *, tag: str | None = None) -> str:
        for relative, content in files.items():
            path = self.work / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git(self.work, "add", relative)
        git(self.work, "commit", "-q", "-m", message)
        if tag is not None:
            git(self.work, "tag", tag)
        git(self.work, "push", "-q", "--tags", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


def app_repo(base: Path, name: str = "app") -> AppRepo:
    """``base/NAME.git`` with one commit tagged v1: ``service/Containerfile`` copying a
    greeting that says which version it is."""
    bare = base / f"{name}.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    work = base.parent / f"{name}-work"
    git(base.parent, "clone", "-q", str(bare), str(work))
    git(work, "checkout", "-q", "-b", "main")
    repo = AppRepo(bare, work)
    repo.commit(greeting("v1"), "first", tag="v1")
    return repo


def greeting(version: str) -> dict[str, str]:
    """The files of the app at ``version``: its container prints ``hello VERSION``."""
    return {
        "service/greeting.txt": f"hello {version}\n",
        "service/Containerfile": (
            f'FROM {BASE_IMAGE}\nCOPY greeting.txt /greeting.txt\nCMD ["cat", "/greeting.txt"]\n'
        ),
    }
