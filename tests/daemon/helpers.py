"""Helpers for daemon tests: the deployment files they commit, and process helpers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.source.gitrepos import commit_file, git

IMAGE = "syncd-test/busybox:latest"

DEFINITION = f"""\
id: def_sleeper
image:
  name: "{IMAGE}"
  internalPorts: []
# PID 1 ignores SIGTERM unless it traps it: trap it so a stop takes a second, not the grace.
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
network: "none"
"""


def deployment(replicas: int = 2, version: str = "v1", **extra: object) -> str:
    body = {
        "id": "depl_sleeper",
        "definitionId": "def_sleeper",
        "replicas": replicas,
        "envars": {"VERSION": version},
        **extra,
    }
    return yaml.safe_dump(body, sort_keys=False)


class DeploymentsRepo:
    """A bare repository (what the daemon follows) and a clone that commits and pushes to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "deployments.git"
        self.work = root / "work"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.work))
        git(self.work, "checkout", "-q", "-b", "main")

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files, commit, push; return the new sha."""
        for rel, content in files.items():
            if content is None:
                git(self.work, "rm", "-q", rel)
            else:
                commit_file(self.work, rel, content, message)
        if any(content is None for content in files.values()):
            git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def syncd(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


def start_daemon(
    config: Path, env: dict[str, str] | None = None, log_file: Path | None = None
) -> subprocess.Popen:
    """The daemon as a process; its output goes to ``log_file`` (readable while it runs) or to
    a pipe (read with ``communicate`` after it stopped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", "daemon", "--config", str(config)],
        stdout=log_file.open("w") if log_file is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def stop(daemon: subprocess.Popen) -> str:
    """Kill the daemon process if it still runs; its output."""
    if daemon.poll() is None:
        daemon.kill()
    out, _ = daemon.communicate(timeout=30)
    return out


def wait_for(
    condition: Callable[[], object],
    timeout: float = 60,
    what: str = "condition",
    interval_s: float = 0.1,
):
    """Poll ``condition`` every ``interval_s`` until it returns something truthy; fail the test
    after ``timeout`` (a safety net against hanging, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(interval_s)


def read_json(path: Path) -> dict | None:
    """The JSON at ``path``, or None while it does not exist yet."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Seen:
    """One container as one list call saw it (no per-container inspect that could race with
    the daemon removing it)."""

    node_id: str
    id: str
    labels: dict
    status: str
    client: Any = field(repr=False, compare=False)

    def remove(self, force: bool = False) -> None:
        self.client.api.remove_container(self.id, force=force)


def managed_containers(engines, deployment_id: str = "depl_sleeper") -> list[Seen]:
    """Every container syncd manages for ``deployment_id`` on the harness engines, any state."""
    from syncd.state import LABEL_DEPLOYMENT, LABEL_MANAGED

    found = []
    for node in engines.nodes:
        client = engines.docker(node.id)
        for entry in client.api.containers(
            all=True,
            filters={"label": [f"{LABEL_MANAGED}=true", f"{LABEL_DEPLOYMENT}={deployment_id}"]},
        ):
            found.append(Seen(node.id, entry["Id"], entry["Labels"], entry["State"], client))
    return found


def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def http_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
