"""Shared fixtures: the real multi-node harness (testkit/harness).

``harness`` (session): three Docker engines, started in a fresh temp dir, or reused when
``SYNCD_HARNESS_DIR`` names a directory (started there and left running if it is not up yet, so
the next run starts in a second). ``engines`` (function): the harness, with every managed or
test-labelled container removed before and after the test. Tests using either are marked
``engines`` automatically (``pytest -m "not engines"`` skips them).

Area-specific fixtures belong in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.harness import Harness, HarnessHandle
from testkit.harness.processes import reached_out

ENGINE_FIXTURES = {"harness", "engines"}


@pytest.fixture(scope="session")
def harness() -> Iterator[HarnessHandle]:
    reuse_dir = os.environ.get("SYNCD_HARNESS_DIR")
    if reuse_dir:
        runner = Harness(reuse_dir)
        handle = HarnessHandle(runner.root, runner.up())
        try:
            yield handle
        finally:
            handle.cleanup()
            handle.close()
        return
    # /tmp keeps unix socket paths under their 108-byte limit (pytest's tmp dirs can be longer).
    runner = Harness(tempfile.mkdtemp(prefix="syncd-h-", dir="/tmp"))
    try:
        handle = HarnessHandle(runner.root, runner.up())
        try:
            yield handle
        finally:
            handle.close()
    finally:
        runner.down()
        Path(runner.root).rmdir()


@pytest.fixture
def engines(harness: HarnessHandle) -> Iterator[HarnessHandle]:
    harness.cleanup()
    logs = [Path(harness.dir) / node.id / "dockerd.log" for node in harness.nodes]
    sizes = {log: log.stat().st_size if log.exists() else 0 for log in logs}
    yield harness
    harness.cleanup()
    # No test may send traffic beyond loopback: an engine that resolved or dialled a registry
    # (a pull of an image it lacks) fails the test that made it.
    lines = [line for log, size in sizes.items() for line in reached_out(log, since=size)]
    assert not lines, "an engine tried to reach beyond loopback:\n" + "\n".join(lines[:3])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ENGINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engines)
