"""One daemon per state directory: the flock, and the holder named in the refusal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from syncd.daemon.lock import StateDirLock
from syncd.errors import LockHeld


def test_second_lock_is_refused_naming_the_holder(tmp_path):
    first = StateDirLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(LockHeld) as refused:
            StateDirLock(tmp_path).acquire()
        assert f"pid {os.getpid()}" in refused.value.message
        assert refused.value.exit_code == 3
    finally:
        first.release()
    # Released: the next daemon gets it.
    with StateDirLock(tmp_path) as again:
        assert again.held


def test_lock_of_a_killed_process_is_free(tmp_path):
    # The kernel drops an flock with its process, even on SIGKILL: no stale lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from syncd.daemon.lock import StateDirLock;"
            f"StateDirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as refused:
            StateDirLock(tmp_path).acquire()
        assert f"pid {holder.pid}" in refused.value.message
    finally:
        holder.kill()
        holder.wait()
    with StateDirLock(tmp_path) as lock:
        assert lock.held
