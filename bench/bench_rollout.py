"""Rollout speed against the floor: 20 replicas, maxSurge 4, maxUnavailable 0, three engines.

syncd (plan + ``apply_plan``) against a plain docker-py script doing the same container
operations in the same batches: start 4 new (in parallel), wait until they are healthy, stop and
remove 4 old, repeat. Same image, command, health check (1 s interval) and placement (replica i
on node i mod 3). Runs alternate (syncd, floor, syncd, floor, ...) in one process so both see the
same machine load; the figure is the ratio of the medians.

    .venv/bin/python bench/bench_rollout.py --harness-dir /tmp/syncd-h-bench [--runs 3] [--down]

The harness is started in --harness-dir when it is not running (and stopped with --down).
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.nodes.pool import NodePool  # noqa: E402
from testkit.bench import (  # noqa: E402
    ROLLOUT_REPLICAS,
    ROLLOUT_SURGE,
    bench_harness,
    harness_bench_parser,
    median_ratio,
    timed_rolling_update,
)
from testkit.harness import BASE_IMAGE, TEST_LABEL, HarnessHandle  # noqa: E402
from testkit.repo import TestRepo  # noqa: E402
from testkit.services import SERVICE_SCRIPT  # noqa: E402
from tests.apply.applykit import apply_repo  # noqa: E402  (the pass the apply tests run)

REPLICAS, SURGE = ROLLOUT_REPLICAS, ROLLOUT_SURGE
HEALTHCHECK = {
    "test": ["CMD", "cat", "/tmp/ready"],
    "interval": 1_000_000_000,
    "timeout": 1_000_000_000,
    "retries": 1,
}
FLOOR_POLL_S = 0.05


def syncd_rollout(handle: HarnessHandle, work: Path, run: int) -> float:
    """Seconds for syncd to plan and roll v1 -> v2 (v1 set up untimed)."""
    repo = TestRepo(work / f"repo-{run}", list(handle.nodes))
    with NodePool(handle.nodes) as pool:
        elapsed = timed_rolling_update(repo, pool, apply_repo)
    handle.cleanup()
    return elapsed


def floor_rollout(handle: HarnessHandle, run: int) -> float:
    """Seconds for plain docker-py to do the same operations in the same batches."""
    clients = {
        n.id: docker.APIClient(base_url=f"unix://{handle.socket(n.id)}", timeout=60)
        for n in handle.nodes
    }
    node_ids = sorted(clients)
    workers = ThreadPoolExecutor(max_workers=8)

    def start(version: str, replica: int) -> tuple[str, str]:
        node_id = node_ids[replica % len(node_ids)]
        api = clients[node_id]
        container = api.create_container(
            BASE_IMAGE,
            command=["sh", "-c", SERVICE_SCRIPT],
            name=f"floor-{run}-{version}-{replica}",
            environment=[f"VERSION={version}", "MODE=ok"],
            labels={TEST_LABEL: "bench"},
            healthcheck=HEALTHCHECK,
            host_config=api.create_host_config(
                network_mode="none", restart_policy={"Name": "unless-stopped"}
            ),
        )
        api.start(container["Id"])
        return node_id, container["Id"]

    def healthy(item: tuple[str, str]) -> bool:
        node_id, container_id = item
        state = clients[node_id].inspect_container(container_id)["State"]
        return (state.get("Health") or {}).get("Status") == "healthy"

    def wait_healthy(items: list[tuple[str, str]]) -> None:
        pending = list(items)
        while pending:
            pending = [
                item
                for item, ok in zip(pending, workers.map(healthy, pending), strict=True)
                if not ok
            ]
            if pending:
                time.sleep(FLOOR_POLL_S)

    def remove(item: tuple[str, str]) -> None:
        node_id, container_id = item
        clients[node_id].stop(container_id, timeout=10)
        clients[node_id].remove_container(container_id, force=True)

    old = list(workers.map(lambda r: start("1", r), range(REPLICAS)))
    wait_healthy(old)
    began = time.perf_counter()
    for first in range(0, REPLICAS, SURGE):
        batch = list(
            workers.map(lambda r: start("2", r), range(first, min(first + SURGE, REPLICAS)))
        )
        wait_healthy(batch)
        list(workers.map(remove, old[first : first + SURGE]))
    elapsed = time.perf_counter() - began
    workers.shutdown()
    for api in clients.values():
        api.close()
    handle.cleanup()
    return elapsed


def main() -> None:
    args = harness_bench_parser(__doc__, runs=3).parse_args()
    syncd_times: list[float] = []
    floor_times: list[float] = []
    with (
        bench_harness(args.harness_dir, down=args.down) as handle,
        tempfile.TemporaryDirectory() as work,
    ):
        for run in range(args.runs):
            syncd_times.append(syncd_rollout(handle, Path(work), run))
            floor_times.append(floor_rollout(handle, run))
            print(
                f"run {run + 1}: syncd {syncd_times[-1]:.2f}s  floor {floor_times[-1]:.2f}s",
                flush=True,
            )
    syncd_median, floor_median, ratio = median_ratio(syncd_times, floor_times)
    print(
        f"{REPLICAS} replicas, maxSurge {SURGE}, maxUnavailable 0, 3 engines, median of {args.runs}: "
        f"syncd {syncd_median:.2f}s, docker-py floor {floor_median:.2f}s, ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
