"""Helpers for fault tests: a daemon process logging to a file, and a timestamped engine sampler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
