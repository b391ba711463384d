"""How the planner's cost grows: plan() over generated desired and observed states.

Run by hand (not in CI)::

    .venv/bin/python bench/bench_plan.py            # the full grid, median of 5 runs
    .venv/bin/python bench/bench_plan.py --runs 3 --sizes 100x10 1000x100

Two scenarios per size (D deployments over N nodes, 1 to 3 replicas each, cpu and memory
requests, 3 zones in 2 clusters, a third of the deployments pinned to one cluster):

- steady: every replica already runs at the target hash (the daemon's usual pass: all NOOP);
- create: nothing runs yet (every replica goes through the allocator).

Rendering (merging and hashing) is timed apart, since the daemon caches it per commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.plan.planner import plan  # noqa: E402
from syncd.spec.models import (  # noqa: E402
    Capacity,
    Definition,
    Deployment,
    ImageSource,
    NodeSpec,
    RepoSpec,
    Resources,
    TargetRegion,
)
from syncd.spec.rendering import render_desired  # noqa: E402
from testkit.simulated import all_reachable, steady_state  # noqa: E402

GRID = [(d, n) for d in (100, 1_000, 10_000) for n in (10, 100, 1_000)]


def make_repo(deployments: int, nodes: int) -> RepoSpec:
    node_specs = tuple(
        NodeSpec(
            id=f"node-{i:04d}",
            url=f"unix:///run/node-{i}.sock",
            cluster="east" if i % 2 else "west",
            zone=f"z{i % 3}",
            # room for every replica: ~2 replicas per deployment at <= 250m and 128Mi each
            capacity=Capacity(
                cpu_millis=max(deployments * 2 * 250 // nodes * 2, 4000),
                memory_bytes=max(deployments * 2 * (128 << 20) // nodes * 2, 8 << 30),
            ),
        )
        for i in range(nodes)
    )
    definitions = tuple(
        Definition(id=f"def-{i:05d}", image=ImageSource(name=f"registry.local/app-{i}:1"))
        for i in range(deployments)
    )
    deployment_specs = tuple(
        Deployment(
            id=f"depl-{i:05d}",
            definition_id=f"def-{i:05d}",
            replicas=1 + i % 3,
            resources=Resources(
                cpu_millis=50 + (i % 5) * 50, memory_bytes=(32 + (i % 4) * 32) << 20
            ),
            target_regions=(TargetRegion("east"),) if i % 3 == 0 else (),
            envars=(("INDEX", str(i)), ("LOG_LEVEL", "info")),
        )
        for i in range(deployments)
    )
    return RepoSpec(
        root=Path("/nonexistent"),
        deployments=deployment_specs,
        definitions=definitions,
        nodes=node_specs,
    )


def median_ms(function, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", help="DxN, e.g. 1000x100 (default: the full grid)")
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes] if args.sizes else GRID
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, milliseconds")
    print(
        f"{'deployments':>11} {'nodes':>6} {'replicas':>8} {'render':>9} {'steady':>9} {'create':>9}"
    )
    for deployments, nodes in sizes:
        repo = make_repo(deployments, nodes)
        render_ms = median_ms(lambda repo=repo: render_desired(repo, environ={}), args.runs)
        desired = render_desired(repo, environ={})
        steady = steady_state(desired)
        empty = all_reachable(desired)
        steady_ms = median_ms(lambda d=desired, o=steady: plan(d, o), args.runs)
        create_ms = median_ms(lambda d=desired, o=empty: plan(d, o), args.runs)
        replicas = sum(d.replicas for d in desired.deployments)
        print(
            f"{deployments:>11} {nodes:>6} {replicas:>8} {render_ms:>9.1f} {steady_ms:>9.1f} "
            f"{create_ms:>9.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
