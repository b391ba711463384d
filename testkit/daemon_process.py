"""``syncd daemon`` as a child process, for tests and benches that kill or stop it from outside."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


class DaemonProcess:
    """``syncd daemon --config FILE`` as a process whose output goes to a file (a pipe nobody
    reads would fill and block it)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
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
        """Everything the daemon wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""
