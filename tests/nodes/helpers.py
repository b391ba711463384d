"""Small builders shared by the node tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from syncd.nodes.base import ContainerRequest
from syncd.spec.models import HealthCheck
from syncd.state import (
    LABEL_COMMIT,
    LABEL_CPU,
    LABEL_DEPLOYMENT,
    LABEL_HOST_PORTS,
    LABEL_MANAGED,
    LABEL_MEMORY,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
)
from testkit.harness import BASE_IMAGE, TEST_LABEL

T = TypeVar("T")


def managed_labels(deployment: str, replica: int, **extra: str) -> tuple[tuple[str, str], ...]:
    labels = {
        LABEL_DEPLOYMENT: deployment,
        LABEL_REPLICA: str(replica),
        LABEL_SPEC_HASH: "a" * 64,
        LABEL_COMMIT: "c" * 40,
        **extra,
    }
    return tuple(labels.items())


def sleeper(name: str, deployment: str = "dep-sleep", replica: int = 0) -> ContainerRequest:
    """A managed container that just sleeps, without network."""
    return ContainerRequest(
        name=name,
        image=BASE_IMAGE,
        labels=managed_labels(
            deployment, replica, **{LABEL_CPU: "250", LABEL_MEMORY: str(64 * 1024 * 1024)}
        ),
        command=("sleep", "300"),
        network="none",
        cpu_millis=250,
        memory_bytes=64 * 1024 * 1024,
    )


def httpd(name: str, port: int, check: HealthCheck | None, replica: int = 0) -> ContainerRequest:
    """busybox httpd on 127.0.0.1:port in the host's network, serving /www (index.html)."""
    return ContainerRequest(
        name=name,
        image=BASE_IMAGE,
        labels=managed_labels("dep-web", replica, **{LABEL_HOST_PORTS: f"{port}/tcp"}),
        command=("httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"),
        network="host",
        health_check=check,
    )


def quick_http_check(port: int, path: str = "/index.html") -> HealthCheck:
    return HealthCheck(
        kind="http", path=path, port=port, interval_s=1, timeout_s=1, retries=1, start_period_s=0
    )


def wait_for(probe: Callable[[], T], until: Callable[[T], bool], limit_s: float = 30.0) -> T:
    """Poll ``probe`` until ``until(value)``; returns the last value (the caller asserts on it)."""
    deadline = time.monotonic() + limit_s
    value = probe()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = probe()
    return value


def run_impostor(raw: Any) -> Any:
    """A container that says it is not syncd's (``io.syncd.managed=false``), run beside the
    driver's: every call that would touch it must refuse (``raw``: a docker.DockerClient)."""
    return raw.containers.run(
        BASE_IMAGE,
        ["sleep", "300"],
        detach=True,
        network_mode="none",
        labels={TEST_LABEL: "1", LABEL_MANAGED: "false"},
    )
