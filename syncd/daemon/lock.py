"""One daemon per state directory: an exclusive ``flock`` on ``stateDir/syncd.lock``.

``flock`` (not a pid file alone) because the kernel drops it when the process dies, even by
SIGKILL: a crashed daemon never leaves a stale lock behind. The file holds the holder's pid and
start time so a refused daemon can name who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from syncd.errors import LockHeld, UsageError

LOCK_NAME = "syncd.lock"


class StateDirLock:
    """Holds the state directory's lock from ``acquire()`` until ``release()`` (or process exit)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockHeld naming the holder's pid and start time."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UsageError(
                f"cannot open the lock file {self.path}: {exc.strerror}",
                hint="stateDir must be a directory the daemon can write",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(
                f"another syncd daemon holds {self.path} ({holder})",
                hint="stop that daemon first, or give this one its own stateDir",
            ) from None
        # Ours now: record who we are for the next one that asks.
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} started {started}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StateDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
