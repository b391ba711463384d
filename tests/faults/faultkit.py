"""Helpers for fault tests: a daemon process logging to a file, and a timestamped engine sampler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.apply.applykit import Seen, list_deployment

# A service without network that becomes healthy at once (its health check reads a file it
# writes at start) and stops in a second (a shell as PID 1 ignores SIGTERM unless it traps it).
SERVICE_DEFINITION = """\
id: def_svc
image:
  name: "syncd-test/busybox:latest"
  internalPorts: []
command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 1 & wait; done"]
network: "none"
healthCheck:
  command: ["cat", "/tmp/ready"]
  interval: 1s
  timeout: 3s
  retries: 3
"""


def service_deployment(
    deployment_id: str,
    replicas: int,
    version: str,
    *,
    max_surge: int = 1,
    max_unavailable: int = 0,
    zone: str | None = None,
) -> str:
    lines = [
        f"id: {deployment_id}",
        "definitionId: def_svc",
        f"replicas: {replicas}",
        "strategy:",
        "  type: RollingUpdate",
        f"  maxSurge: {max_surge}",
        f"  maxUnavailable: {max_unavailable}",
        "envars:",
        f'  VERSION: "{version}"',
    ]
    if zone is not None:
        lines += ["targetRegions:", "  - cluster: test", f"    zone: {zone}"]
    return "\n".join(lines) + "\n"


class Daemon:
    """``syncd daemon --config FILE`` as a process whose output goes to a file (a pipe nobody
    reads would fill and block it)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syncd", "daemon", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=os.environ.copy(),
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to clean anything up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL when it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class TimedSampler:
    """Lists one deployment's containers on every engine every ``interval_s``, with the time."""

    sockets: dict[str, str]
    deployment_id: str
    interval_s: float = 0.1
    samples: list[tuple[float, list[Seen]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> TimedSampler:
        self._clients = {
            node_id: docker.DockerClient(base_url=f"unix://{path}", timeout=30)
            for node_id, path in self.sockets.items()
        }
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                at = time.monotonic()
                self.samples.append((at, list_deployment(self._clients, self.deployment_id)))
                self._stop.wait(self.interval_s)
        except BaseException as exc:  # surfaced in __exit__
            self._error = exc

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)
        for client in self._clients.values():
            client.close()
        if self._error is not None:
            raise self._error
