"""CPU utilisation from engine stats: the arithmetic with data, the reads against real engines."""

from __future__ import annotations

import time

import pytest

from syncd.errors import NodeError
from syncd.nodes.base import CpuReading
from syncd.nodes.containers import parse_cpu_sample
from syncd.nodes.docker_node import DockerNode
from syncd.nodes.stats import (
    CpuSample,
    CpuSampler,
    StatsTarget,
    cpu_utilization,
    utilization_between,
)
from testkit.harness import TEST_LABEL

BASE_IMAGE = "syncd-test/busybox:latest"
SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("previous", "current", "limit", "expected"),
    [
        # 2 cores; the container used 0.2 s of CPU while the host spent 2 s (1 s wall): 0.2 cores
        (CpuSample(0, 0, 2), CpuSample(SECOND // 5, 2 * SECOND, 2), 200, 100.0),
        (CpuSample(0, 0, 2), CpuSample(SECOND // 5, 2 * SECOND, 2), None, 20.0),
        (CpuSample(0, 0, 4), CpuSample(2 * SECOND, 4 * SECOND, 4), 500, 400.0),  # 2 cores vs 0.5
        (CpuSample(5, 10, 1), CpuSample(5, 10 + SECOND, 1), 1000, 0.0),  # idle
        (CpuSample(9 * SECOND, 0, 2), CpuSample(SECOND, SECOND, 2), None, None),  # restarted
        (CpuSample(0, SECOND, 2), CpuSample(SECOND, SECOND, 2), None, None),  # no time passed
    ],
)
def test_utilization_between_two_samples(previous, current, limit, expected):
    result = utilization_between(previous, current, limit)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"cpu_usage": {"total_usage": 7}, "system_cpu_usage": 9, "online_cpus": 2},
            CpuSample(7, 9, 2),
        ),
        (
            {"cpu_usage": {"total_usage": 7, "percpu_usage": [3, 4, 0]}, "system_cpu_usage": 9},
            CpuSample(7, 9, 3),
        ),
        ({"cpu_usage": {"total_usage": 0}}, None),  # a one-shot read's empty precpu_stats
        ({}, None),
        (None, None),
    ],
)
def test_parse_cpu_sample(section, expected):
    assert parse_cpu_sample(section) == expected


def _start(client, command: str, nano_cpus: int | None) -> str:
    container = client.containers.run(
        BASE_IMAGE,
        ["sh", "-c", command],
        detach=True,
        network_mode="none",
        labels={TEST_LABEL: "stats"},
        nano_cpus=nano_cpus or 0,
    )
    return container.id


def test_burning_and_idle_containers_over_tls(engines):
    node = engines.tls_node
    client = engines.docker(node.id)
    burner = _start(client, "while :; do :; done", 200_000_000)
    idle = _start(client, "sleep 600", None)
    driver = DockerNode(node)
    try:
        sampler = CpuSampler()
        targets = [
            StatsTarget(node.id, burner, 200),
            StatsTarget(node.id, idle, None),
            StatsTarget(node.id, "0" * 64, None),
        ]
        first = sampler.measure(lambda _node_id: driver, targets)
        assert first == dict.fromkeys([burner, idle, "0" * 64])  # nothing to compare with yet
        time.sleep(0.5)
        second = sampler.measure(lambda _node_id: driver, targets)
        # ~100% of its 200m on a quiet machine; less when other work competes for the cores
        assert second[burner] is not None and second[burner] > 10
        assert second[idle] is not None and second[idle] < 1
        assert second["0" * 64] is None  # no such container
        # the stand-alone read (the engine takes both samples) agrees
        alone = cpu_utilization(driver, burner, 200)
        assert alone is not None and alone > 10
    finally:
        driver.close()


def test_an_unreachable_node_measures_nothing(engines):
    sampler = CpuSampler()

    def unreachable(node_id: str):
        from syncd.errors import NodeUnreachable

        raise NodeUnreachable(node_id, "connection refused")

    assert sampler.measure(unreachable, [StatsTarget("node-x", "abc", None)]) == {"abc": None}


def test_a_pass_reads_at_most_its_bound_and_takes_turns(engines):
    node = engines.nodes[0]
    client = engines.docker(node.id)
    ids = sorted(_start(client, "sleep 600", None) for _ in range(3))
    driver = DockerNode(node)
    try:
        sampler = CpuSampler(concurrency=2, max_per_pass=2)
        targets = [StatsTarget(node.id, cid, None) for cid in ids]
        sampler.measure(lambda _node_id: driver, targets)  # reads the first two
        second = sampler.measure(lambda _node_id: driver, targets)
        # the one never read goes first, then the longest-read one: only that one has a value
        assert [second[cid] is not None for cid in ids] == [True, False, False]
        third = sampler.measure(lambda _node_id: driver, targets)
        assert [third[cid] is not None for cid in ids] == [True, True, False]
    finally:
        driver.close()


class CountingDriver:
    """A NodeDriver's stats side only: each read of a container adds 0.1 s of its CPU time
    and 1 s of the host's (1 core), so it reads 10% of one core; ``gone`` has no reading."""

    node_id = "node-x"

    def __init__(self) -> None:
        self.reads: list[tuple[str, bool]] = []

    def read_cpu(self, container_id: str, *, two_samples: bool = False) -> CpuReading | None:
        self.reads.append((container_id, two_samples))
        if container_id == "gone":
            return None
        if container_id == "refused":
            raise NodeError("node node-x: reading stats failed: no")
        n = sum(1 for cid, _ in self.reads if cid == container_id)
        current = CpuSample(n * SECOND // 10, n * SECOND, 1)
        previous = CpuSample((n - 1) * SECOND // 10, (n - 1) * SECOND, 1) if two_samples else None
        return CpuReading(current=current, previous=previous)


def test_the_sampler_reads_through_the_driver_protocol():
    driver = CountingDriver()
    sampler = CpuSampler()
    targets = [StatsTarget("node-x", cid, None) for cid in ("busy", "gone", "refused")]
    assert sampler.measure(lambda _n: driver, targets) == dict.fromkeys(["busy", "gone", "refused"])
    second = sampler.measure(lambda _n: driver, targets)
    assert second["busy"] == pytest.approx(10.0)
    assert second["gone"] is None and second["refused"] is None
    assert {two for _, two in driver.reads} == {False}  # one-shot reads only
    assert cpu_utilization(driver, "busy", 500) == pytest.approx(20.0)  # 0.1 core of 500m
    assert driver.reads[-1] == ("busy", True)
