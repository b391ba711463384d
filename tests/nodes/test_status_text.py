"""What the list call's Status text tells (pure parsing, no engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncd.nodes.container_config import docker_healthcheck
from syncd.nodes.containers import health_from_status, started_from_status
from syncd.spec.models import HealthCheck

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "seconds_ago"),
    [
        ("Up Less than a second", 0),
        ("Up 1 second", 1),
        ("Up 42 seconds (healthy)", 42),
        ("Up About a minute (health: starting)", 60),
        ("Up 7 minutes (unhealthy)", 420),
        ("Up About an hour", 1800),
        ("Up 5 hours (Paused)", 4.5 * 3600),
        ("Up 3 days", 3 * 86400),
        ("Up 2 weeks", 14 * 86400),
        ("Up 4 months", 120 * 86400),
        ("Up 2 years", 730 * 86400),
    ],
)
def test_start_time_from_the_up_text(status: str, seconds_ago: float) -> None:
    assert started_from_status(status, NOW) == NOW - timedelta(seconds=seconds_ago)


@pytest.mark.parametrize(
    "status", ["Exited (0) 3 seconds ago", "Created", "Restarting (1) 2 seconds ago", "Up ages"]
)
def test_no_start_time_when_not_up(status: str) -> None:
    assert started_from_status(status, NOW) is None


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 3 seconds (healthy)", "healthy"),
        ("Up 3 seconds (unhealthy)", "unhealthy"),
        ("Up 3 seconds (health: starting)", "starting"),
        ("Up 3 seconds", "none"),
        ("Up 3 seconds (Paused)", "none"),
    ],
)
def test_health_from_the_status_text(status: str, health: str) -> None:
    assert health_from_status(status) == health


def test_healthchecks_in_docker_terms() -> None:
    http = docker_healthcheck(
        HealthCheck(kind="http", path="healthz", port=8080, interval_s=2, timeout_s=1.5, retries=4)
    )
    assert http == {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"],
        "interval": 2_000_000_000,
        "timeout": 1_500_000_000,
        "retries": 4,
        "start_period": 0,
    }
    command = docker_healthcheck(HealthCheck(kind="command", command=("pg_isready", "-q")))
    assert command is not None and command["test"] == ["CMD", "pg_isready", "-q"]
    assert docker_healthcheck(None) is None
