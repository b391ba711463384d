"""A real bare Git repository holding a definition, a clone the API commits through, and the
daemon's HTTP listener with the Deploy Svc API on a free loopback port."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncd.daemon.api import DeploymentStatus, DeploySvcApi
from syncd.daemon.http import HttpServer
from syncd.daemon.tokens import TokenStore
from syncd.source.editing import RepoEditor
from syncd.source.gitrepo import GitSource

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Seed Author",
    "GIT_AUTHOR_EMAIL": "seed@example.test",
    "GIT_COMMITTER_NAME": "Seed Author",
    "GIT_COMMITTER_EMAIL": "seed@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
}
ALICE_TOKEN = "alice-" + "a1" * 16
BOB_TOKEN = "bob-" + "b2" * 16

DEFINITION = """\
id: def_web
image:
  name: syncd-test/busybox:latest
  internalPorts: []
command: ["sleep", "3600"]
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    config = tmp_path_factory.mktemp("gitconfig") / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository, branch main, with definitions/def_web.yaml."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", str(bare), str(seed))
    git(seed, "checkout", "-q", "-b", "main")
    (seed / "definitions").mkdir()
    (seed / "definitions" / "def_web.yaml").write_text(DEFINITION)
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "seed")
    git(seed, "push", "-q", "origin", "main")
    return bare


def commits(bare: Path) -> list[str]:
    """Subjects on main, newest first."""
    return git(bare, "log", "--format=%s", "main").splitlines()


def show(bare: Path, path: str) -> str:
    return git(bare, "show", f"main:{path}")


@dataclass
class Api:
    url: str
    remote: Path
    editor: RepoEditor
    statuses: dict[str, DeploymentStatus] = field(default_factory=dict)
    triggered: list[str] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        body: Any,
        token: str | None = ALICE_TOKEN,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    """One listener per module (stopping one waits out its 0.5 s poll); each test registers its
    own API on it, replacing the previous test's routes."""
    listener = HttpServer("127.0.0.1:0")
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()


@pytest.fixture
def api(tmp_path: Path, remote: Path, server: HttpServer) -> Api:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# who may write\nalice {ALICE_TOKEN}\nbob {BOB_TOKEN}  # the other one\n")
    tokens.chmod(0o600)
    source = GitSource(str(remote), "main", tmp_path / "state" / "api-checkout")
    editor = RepoEditor(source.checkout_dir, "main", push=True, prepare=source.sync)
    handle = Api("", remote, editor)
    DeploySvcApi(
        TokenStore(tokens),
        editor,
        deployments_root=lambda: editor.root,
        status_of=lambda: handle.statuses,
        on_commit=handle.triggered.append,
    ).register(server)
    host, port = server.address
    handle.url = f"http://{host}:{port}"
    return handle
