"""Swarm fixtures: a 1-engine and a 3-engine Swarm on loopback (testkit/swarm.py), each started
the first time a test asks for it (session scope), torn down at the end of the session, and
checked after every test for an engine log line that shows a registry pull attempt."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from testkit.swarm import SwarmHarness

SWARM_FIXTURES = {"swarm_one", "swarm_three"}
_started: list[SwarmHarness] = []


def _session_swarm(size: int, first_address: int, data_path_port: int) -> Iterator[SwarmHarness]:
    root = tempfile.mkdtemp(prefix=f"sw{size}-", dir="/tmp")  # short: unix socket path limit
    harness = SwarmHarness(
        root, size=size, first_address=first_address, data_path_port=data_path_port
    )
    try:
        harness.up()
        _started.append(harness)
        yield harness
    finally:
        harness.down()


@pytest.fixture(scope="session")
def _swarm_one_session() -> Iterator[SwarmHarness]:
    yield from _session_swarm(1, 41, 4801)


@pytest.fixture(scope="session")
def _swarm_three_session() -> Iterator[SwarmHarness]:
    yield from _session_swarm(3, 51, 4802)


@pytest.fixture
def swarm_one(_swarm_one_session: SwarmHarness) -> Iterator[SwarmHarness]:
    """The 1-engine Swarm, with no service before and after the test."""
    _swarm_one_session.remove_services()
    yield _swarm_one_session
    _swarm_one_session.remove_services()


@pytest.fixture
def swarm_three(_swarm_three_session: SwarmHarness) -> Iterator[SwarmHarness]:
    """The 3-engine Swarm (nodes in zones z1, z2, z3), every node active, no service."""
    for index in range(3):
        _swarm_three_session.set_availability(index, "active")
    _swarm_three_session.remove_services()
    yield _swarm_three_session
    _swarm_three_session.remove_services()


@pytest.fixture(autouse=True)
def _no_pull_attempts() -> Iterator[None]:
    """Fail the test when any started Swarm engine tried a registry during it."""
    yield
    attempts = [line for harness in _started for line in harness.pull_attempts()]
    assert not attempts, "a Swarm engine tried to pull an image:\n" + "\n".join(attempts[:5])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SWARM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engines)
