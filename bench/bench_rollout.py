"""Rollout speed against the floor: 20 replicas, maxSurge 4, maxUnavailable 0, three engines.

syncd (plan + ``apply_plan``) against a plain docker-py script doing the same container
operations in the same batches: start 4 new (in parallel), wait until they are healthy, then
start the next 4 while the old 4 are stopped and removed in the background (as syncd does since
stops overlap the rollout), and wait for the last removals at the end. Same image, command,
health check (1 s interval) and placement (replica i on node i mod 3). Runs alternate (syncd,
floor, syncd, floor, ...) in one process so both see the same machine load; the figure is the
ratio of the medians.

The floor is also given as its measured parts: for each batch, the container start (create and
start of the 4, in parallel) plus the wait for their first healthy report; the sum over the 5
batches is the engine's own limit for this update (nothing can serve sooner).

    .venv/bin/python bench/bench_rollout.py --harness-dir /tmp/syncd-h-bench [--runs 3] [--down]
        [--profile]   # also: where syncd's rollout spends its time (phases, and cProfile)

The harness is started in --harness-dir when it is not running (and stopped with --down).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.apply.report import ApplyOptions, ProgressEvent  # noqa: E402
from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.sync import Revision, Sync, SyncSettings  # noqa: E402
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


def syncd_rollout(handle: HarnessHandle, work: Path, run: int, profile: Profile | None) -> float:
    """Seconds for syncd to plan and roll v1 -> v2 (v1 set up untimed)."""
    repo = TestRepo(work / f"repo-{run}", list(handle.nodes))
    with NodePool(handle.nodes) as pool:
        elapsed = timed_rolling_update(
            repo, pool, apply_repo if profile is None else profile.run_pass
        )
    handle.cleanup()
    return elapsed


@dataclass
class Profile:
    """Where syncd's rollout spends its time: the progress events of the timed pass, by phase,
    and a cProfile of every thread of it (the apply workers and the background stops)."""

    events: list[tuple[float, str, str]] = field(default_factory=list)
    profiles: list[cProfile.Profile] = field(default_factory=list)

    def run_pass(self, repo: TestRepo, pool: NodePool, *, options: ApplyOptions, commit: str):  # type: ignore[no-untyped-def]
        sync = Sync(SyncSettings(), pool=pool, environ={}, options=options)
        timed = commit == "v2"
        began = time.perf_counter()

        def record(event: ProgressEvent) -> None:
            self.events.append((time.perf_counter() - began, event.phase, event.message))

        def per_thread(*_: object) -> None:
            profiler = cProfile.Profile()
            self.profiles.append(profiler)
            sys.setprofile(None)
            profiler.enable()

        if timed:
            threading.setprofile(per_thread)
            main = cProfile.Profile()
            self.profiles.append(main)
            main.enable()
        try:
            result = sync.run(
                sync.load(Revision(repo.root, commit)), events=record if timed else None
            )
        finally:
            if timed:
                main.disable()
                threading.setprofile(None)  # type: ignore[arg-type]
        assert result.plan is not None and result.report is not None
        return result.plan, result.report

    def summary(self, top: int = 25) -> str:
        lines = ["phase timeline of the last timed pass (s since it began):"]
        last = self.events[-60:]
        lines += [f"  {at:6.2f}  {phase:<10} {message}" for at, phase, message in last]
        stats = pstats.Stats(self.profiles[0])
        for profiler in self.profiles[1:]:
            stats.add(profiler)
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(top)
        # and what each node operation cost, summed over the threads that waited for it
        stats.sort_stats("cumulative").print_stats(r"syncd/nodes/docker_node\.py", top)
        lines.append(out.getvalue())
        return "\n".join(lines)


@dataclass
class FloorParts:
    """The measured parts of one floor run: per batch, seconds to create and start it, and
    seconds from then until all of it reported healthy."""

    starts: list[float] = field(default_factory=list)
    first_health: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.starts) + sum(self.first_health)


def floor_rollout(handle: HarnessHandle, run: int, parts: FloorParts) -> float:
    """Seconds for plain docker-py to do the same operations in the same batches."""
    clients = {
        n.id: docker.APIClient(base_url=f"unix://{handle.socket(n.id)}", timeout=60)
        for n in handle.nodes
    }
    node_ids = sorted(clients)
    workers = ThreadPoolExecutor(max_workers=8)
    stoppers = ThreadPoolExecutor(max_workers=4)

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
    removals = []
    for first in range(0, REPLICAS, SURGE):
        batch_began = time.perf_counter()
        batch = list(
            workers.map(lambda r: start("2", r), range(first, min(first + SURGE, REPLICAS)))
        )
        started = time.perf_counter()
        wait_healthy(batch)
        parts.starts.append(started - batch_began)
        parts.first_health.append(time.perf_counter() - started)
        removals += [stoppers.submit(remove, item) for item in old[first : first + SURGE]]
    for removal in removals:
        removal.result()
    elapsed = time.perf_counter() - began
    workers.shutdown()
    stoppers.shutdown()
    for api in clients.values():
        api.close()
    handle.cleanup()
    return elapsed


def main() -> None:
    parser = harness_bench_parser(__doc__, runs=3)
    parser.add_argument("--profile", action="store_true", help="where syncd's time goes")
    args = parser.parse_args()
    syncd_times: list[float] = []
    floor_times: list[float] = []
    floor_parts: list[FloorParts] = []
    profile = Profile() if args.profile else None
    with (
        bench_harness(args.harness_dir, down=args.down) as handle,
        tempfile.TemporaryDirectory() as work,
    ):
        for run in range(args.runs):
            syncd_times.append(syncd_rollout(handle, Path(work), run, profile))
            floor_parts.append(FloorParts())
            floor_times.append(floor_rollout(handle, run, floor_parts[-1]))
            parts = floor_parts[-1]
            print(
                f"run {run + 1}: syncd {syncd_times[-1]:.2f}s  floor {floor_times[-1]:.2f}s  "
                f"(floor's parts: starts {sum(parts.starts):.2f}s + first health "
                f"{sum(parts.first_health):.2f}s = {parts.total:.2f}s over "
                f"{len(parts.starts)} batches)",
                flush=True,
            )
    syncd_median, floor_median, ratio = median_ratio(syncd_times, floor_times)
    parts_median = statistics.median(parts.total for parts in floor_parts)
    start_median = statistics.median(s for parts in floor_parts for s in parts.starts)
    health_median = statistics.median(h for parts in floor_parts for h in parts.first_health)
    print(
        f"{REPLICAS} replicas, maxSurge {SURGE}, maxUnavailable 0, 3 engines, median of {args.runs}: "
        f"syncd {syncd_median:.2f}s, docker-py floor {floor_median:.2f}s, ratio {ratio:.2f}; "
        f"floor as batches x (start + first health): {len(floor_parts[0].starts)} x "
        f"({start_median:.2f}s + {health_median:.2f}s) medians, {parts_median:.2f}s summed, "
        f"syncd / that {syncd_median / parts_median:.2f}"
    )
    if profile is not None:
        print(profile.summary())


if __name__ == "__main__":
    main()
