"""What reading CPU for autoscaling costs per pass: one-shot reads against two-sample reads.

Run by hand (not in CI), against the test harness::

    .venv/bin/python bench/bench_stats.py                      # starts a harness in /tmp, stops it
    SYNCD_HARNESS_DIR=/tmp/syncd-h .venv/bin/python bench/bench_stats.py --passes 5

For 1, 8 and 32 idle containers on one node (unix socket, and node-b over ssh), the wall time
of one autoscaler pass (``CpuSampler.measure``: one ``one_shot=True`` read per container, 8 at
once) against the same containers read with ``cpu_utilization`` (``one_shot=False``: the engine
takes both samples), also 8 at once. Engine API calls per pass are counted by the driver.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.nodes.docker_node import DockerNode  # noqa: E402
from syncd.nodes.stats import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    CpuSampler,
    StatsTarget,
    cpu_utilization,
)
from testkit.bench import bench_harness  # noqa: E402
from testkit.harness import BASE_IMAGE, TEST_LABEL, HarnessHandle  # noqa: E402


def start(handle: HarnessHandle, node_id: str, count: int) -> list[str]:
    client = handle.docker(node_id)
    return [
        client.containers.run(
            BASE_IMAGE,
            ["sleep", "3600"],
            detach=True,
            network_mode="none",
            labels={TEST_LABEL: "bench-stats"},
        ).id
        for _ in range(count)
    ]


Figures = tuple[float, float, float, int]  # median s, max s, calls per pass, reads that failed


def one_shot_pass(driver: DockerNode, ids: list[str], passes: int) -> Figures:
    sampler = CpuSampler(max_per_pass=len(ids))
    targets = [StatsTarget(driver.node_id, cid, None) for cid in ids]
    sampler.measure(lambda _n: driver, targets)  # warm-up: connects, takes first samples
    before = driver.api_calls
    timings = []
    failed = 0
    for _ in range(passes):
        t0 = time.perf_counter()
        values = sampler.measure(lambda _n: driver, targets)
        timings.append(time.perf_counter() - t0)
        # None: the read failed now, or failed last pass so there was nothing to compare with
        failed += sum(v is None for v in values.values())
    calls = (driver.api_calls - before) / passes
    return statistics.median(timings), max(timings), calls, failed


def two_sample_pass(driver: DockerNode, ids: list[str], passes: int) -> Figures:
    before = driver.api_calls
    timings = []
    failed = 0
    with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
        for _ in range(passes):
            t0 = time.perf_counter()
            values = list(pool.map(lambda cid: cpu_utilization(driver, cid, None), ids))
            timings.append(time.perf_counter() - t0)
            failed += sum(v is None for v in values)
    calls = (driver.api_calls - before) / passes
    return statistics.median(timings), max(timings), calls, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--containers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--transports", nargs="+", default=["unix", "ssh"], choices=["unix", "ssh"])
    args = parser.parse_args()

    with bench_harness() as handle:
        specs = {"unix": handle.node("node-a"), "ssh": handle.ssh_node}
        specs = {name: spec for name, spec in specs.items() if name in args.transports}
        print(
            f"{'transport':<9} {'containers':>10} {'read':<10} {'median s':>8} {'max s':>6} "
            f"{'calls/pass':>10} {'no value':>8}"
        )
        for count in args.containers:
            handle.cleanup()
            for transport, spec in specs.items():
                ids = start(handle, spec.id, count)
                driver = DockerNode(spec)
                try:
                    for name, run in (("one-shot", one_shot_pass), ("two-sample", two_sample_pass)):
                        median, worst, calls, failed = run(driver, ids, args.passes)
                        print(
                            f"{transport:<9} {count:>10} {name:<10} {median:>8.2f} {worst:>6.2f} "
                            f"{calls:>10.1f} {failed:>8}"
                        )
                finally:
                    driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
