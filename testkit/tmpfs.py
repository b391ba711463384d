"""A small tmpfs for tests of what happens when a filesystem fills up (mounting needs root)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tiny_tmpfs_at(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (mount's ``size=`` option, e.g. ``16k``) mounted at ``mount_point``
    for the block; the test is skipped where mounting is not allowed."""
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "syncd-test", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # Lazy: a file a failed test left open must not keep the mount (and the test) alive.
        subprocess.run(["umount", "-l", str(mount_point)], check=True)
