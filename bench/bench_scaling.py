"""How a whole pass grows with the repository: load + validate + render + plan, cold and warm.

Run by hand (not in CI)::

    .venv/bin/python bench/bench_scaling.py                 # the full grid, median of 5 runs
    .venv/bin/python bench/bench_scaling.py --runs 3 --sizes 1000x100

For each size (D deployments over N nodes) it writes a real Git repository in a temp dir (one
file per deployment, one definition per 10 deployments, one file per node, committed), then
times, in one process:

- cold: a fresh ``ParseCache``: every file read, parsed, schema-checked and converted, then the
  cross-file checks, ``render_desired`` and ``plan`` against a steady observed state (every
  replica already running at its target hash: the daemon's usual pass);
- warm: the same commit again with the cache of the cold pass. One ``git ls-files`` call names
  every file's blob; the tree is clean and was loaded before, so the earlier checked result is
  returned: nothing is walked, read or parsed. Render and plan run again;
- files: the load with only the per-file level of the cache (an untracked file beside the repo
  defeats the whole-tree level): the directory is walked and the cross-file checks run again,
  but no file is read or parsed (what a new commit that changes one file costs, plus one parse).

Prints milliseconds per phase and the cache counters that prove nothing was reparsed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.plan.planner import plan  # noqa: E402
from syncd.spec.cache import ParseCache  # noqa: E402
from syncd.spec.rendering import render_desired  # noqa: E402
from syncd.spec.repository import load_repository  # noqa: E402
from syncd.state import ObservedState  # noqa: E402
from testkit.simulated import steady_state  # noqa: E402

GRID = [(100, 10), (1_000, 100), (10_000, 1_000)]

DEPLOYMENT = """\
id: "depl_{i:05d}"
definitionId: "def_{d:04d}"
name: "service-{i}"
replicas: {replicas}
strategy:
  type: RollingUpdate
  maxSurge: 1
  maxUnavailable: 0
resources:
  cpu: "{cpu}m"
  memory: "{memory}Mi"
targetRegions:
  - cluster: "{cluster}"
envars:
  INDEX: "{i}"
  LOG_LEVEL: info
"""

DEFINITION = """\
id: "def_{d:04d}"
image:
  name: "registry.local/team/app-{d}:1.0.{d}"
  internalPorts: [8080]
envars:
  - key: ENVIRONMENT
    value: production
command: ["/bin/app", "--port", "8080"]
healthCheck:
  http:
    path: /healthz
    port: 8080
  interval: 5s
"""

NODE = """\
id: "node-{n:04d}"
url: "unix:///run/syncd-bench/node-{n}.sock"
cluster: "{cluster}"
zone: "{cluster}-z{zone}"
capacity:
  cpu: "{cpu}"
  memory: "{memory}Gi"
"""


def write_repo(root: Path, deployments: int, nodes: int) -> None:
    """A committed repository of ``deployments`` over ``nodes`` (room for every replica)."""
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True)
    # ~2 replicas of <= 250m / 128Mi each per deployment, spread over the nodes, twice over
    cpu = max(deployments * 2 * 250 * 2 // nodes // 1000 + 1, 4)
    memory = max(deployments * 2 * 128 * 2 // nodes // 1024 + 1, 8)
    for n in range(nodes):
        cluster = "east" if n % 2 else "west"
        (root / "nodes" / f"node-{n:04d}.yaml").write_text(
            NODE.format(n=n, cluster=cluster, zone=n % 3, cpu=cpu, memory=memory)
        )
    for d in range((deployments + 9) // 10):
        (root / "definitions" / f"def_{d:04d}.yaml").write_text(DEFINITION.format(d=d))
    for i in range(deployments):
        (root / "deployments" / f"depl_{i:05d}.yaml").write_text(
            DEPLOYMENT.format(
                i=i,
                d=i // 10,
                replicas=1 + i % 3,
                cpu=50 + (i % 5) * 50,
                memory=32 + (i % 4) * 32,
                cluster="east" if i % 2 else "west",
            )
        )
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "gen")


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return (time.perf_counter() - start) * 1000, result


def one_pass(root: Path, cache: ParseCache, observed: ObservedState | None) -> dict[str, float]:
    """Milliseconds of load, render and plan (and their sum) for one pass over ``root``."""
    load_ms, repo = timed(lambda: load_repository(root, cache=cache))
    if observed is None:  # the per-file level alone: load only
        return {"load": load_ms}
    render_ms, desired = timed(lambda: render_desired(repo, environ={}))  # type: ignore[arg-type]
    plan_ms, result = timed(lambda: plan(desired, observed))  # type: ignore[arg-type]
    assert not result.has_changes, "steady state must be NOOP"  # type: ignore[attr-defined]
    return {
        "load": load_ms,
        "render": render_ms,
        "plan": plan_ms,
        "total": load_ms + render_ms + plan_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", help="DxN, e.g. 1000x100 (default: the grid)")
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes] if args.sizes else GRID
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, milliseconds")
    header = (
        f"{'deployments':>11} {'nodes':>5} | {'cold load':>9} {'render':>7} {'plan':>7} "
        f"{'COLD':>8} | {'warm load':>9} {'render':>7} {'plan':>7} {'WARM':>8} | {'files':>7} "
        "| parsed warm/files"
    )
    print(header)
    for deployments, nodes in sizes:
        with tempfile.TemporaryDirectory(prefix="syncd-bench-scaling-") as tmp:
            root = Path(tmp)
            write_repo(root, deployments, nodes)
            # Build the steady observed state once (untimed): it is the engines' side, not ours.
            steady = steady_state(render_desired(load_repository(root), environ={}))
            colds, warms, files = [], [], []
            for _ in range(args.runs):
                cache = ParseCache()
                colds.append(one_pass(root, cache, steady))
                before = cache.stats()
                warms.append(one_pass(root, cache, steady))
                after_warm = cache.stats()
                untracked = root / "untracked.txt"
                untracked.write_text("defeats the whole-tree level\n")
                files.append(one_pass(root, cache, None))
                untracked.unlink()
                after_files = cache.stats()
            assert after_warm.tree_hits == before.tree_hits + 1, "warm pass must be a tree hit"
            warm_parsed = after_warm.misses - before.misses
            files_parsed = after_files.misses - after_warm.misses

            def median(samples: list[dict[str, float]], key: str) -> float:
                return statistics.median(s[key] for s in samples)

            print(
                f"{deployments:>11,} {nodes:>5,} | {median(colds, 'load'):>9.1f} "
                f"{median(colds, 'render'):>7.1f} {median(colds, 'plan'):>7.1f} "
                f"{median(colds, 'total'):>8.1f} | {median(warms, 'load'):>9.1f} "
                f"{median(warms, 'render'):>7.1f} {median(warms, 'plan'):>7.1f} "
                f"{median(warms, 'total'):>8.1f} | {median(files, 'load'):>7.1f} "
                f"| {warm_parsed}/{files_parsed}",
                flush=True,
            )


if __name__ == "__main__":
    main()
