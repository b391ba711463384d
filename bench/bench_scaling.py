"""How a whole pass grows with the repository: load + validate + render + plan, cold and warm.

Run by hand (not in CI)::

    .venv/bin/python bench/bench_scaling.py                 # the full grid, median of 5 runs
    .venv/bin/python bench/bench_scaling.py --runs 3 --sizes 1000x100
    .venv/bin/python bench/bench_scaling.py --baseline /tmp/old-checkout   # A/B, alternating

For each size (D deployments over N nodes) it writes a real Git repository in a temp dir (one
file per deployment, one definition per 10 deployments, one file per node, committed). Every run
is a fresh Python process (modules imported, nothing parsed, compiled or cached yet), which times:

- cold: a fresh ``ParseCache`` in a fresh process: every file read, parsed, schema-checked and
  converted, then the cross-file checks, ``render_desired`` and ``plan`` against a steady
  observed state (every replica already running at its target hash: the daemon's usual pass;
  built by the parent and handed over as a pickle, so building it warms nothing);
- warm: the same commit again with the cache of the cold pass. One ``git ls-files`` call names
  every file's blob; the tree is clean and was loaded before, so the earlier checked result is
  returned: nothing is walked, read or parsed. Render and plan run again;
- files: the load with only the per-file level of the cache (an untracked file beside the repo
  defeats the whole-tree level): the directory is walked and the cross-file checks run again,
  but no file is read or parsed (what a new commit that changes one file costs, plus one parse).

Each phase runs with the cyclic garbage collector paused, as ``load_revision`` and ``plan`` run
in the daemon (``syncd.spec.collector``); a phase's time includes the end of its pause (where a
collection that catches up would run), and ``gc`` times a young collection after the pass (what
is left to walk). With ``--baseline DIR`` (a checkout of another commit) the runs alternate
between DIR's code and this tree's, on the same repository and the same machine load, and print
both rows and their ratio; ``--no-helper-baseline`` makes the baseline this tree with its parse
helper turned off (``SYNCD_PARSE_HELPER=off``, ``syncd/spec/parse_helper.py``). ``--cpu``
reports CPU time (this process and the children it waited for: the git call and a parse
helper) instead of wall time, for a machine busy with other work. Prints milliseconds per phase
and the cache counters that prove nothing was reparsed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
if __name__ == "__main__" and "--child" in sys.argv:
    # A child run imports the tree it is told to (this one or --baseline's), not this file's.
    sys.path.insert(0, sys.argv[sys.argv.index("--child") + 1])
else:
    sys.path.insert(0, str(HERE.parents[1]))

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


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (the warm load's git call)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


# --cpu: CPU seconds rather than wall time (on a machine shared with other work, wall time
# mostly measures the others).
CLOCK: Callable[[], float] = (
    _cpu_seconds if os.environ.get("SYNCD_BENCH_CLOCK") == "cpu" else time.perf_counter
)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = CLOCK()
    with _collector_paused():
        result = function()
    return (CLOCK() - start) * 1000, result


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """What the daemon's pass does (``syncd.spec.collector``); a baseline tree without that
    module ran with the collector on, so it is measured as it ran."""
    try:
        from syncd.spec.collector import collector_paused
    except ImportError:
        yield
        return
    with collector_paused():
        yield


def one_pass(root: Path, cache: Any, observed: Any) -> dict[str, float]:
    """Milliseconds of load, render and plan (and their sum) for one pass over ``root``."""
    from syncd.plan.planner import plan
    from syncd.spec.rendering import render_desired
    from syncd.spec.repository import load_repository

    load_ms, repo = timed(lambda: load_repository(root, cache=cache))
    if observed is None:  # the per-file level alone: load only
        return {"load": load_ms}
    render_ms, desired = timed(lambda: render_desired(repo, environ={}))  # type: ignore[arg-type]
    plan_ms, result = timed(lambda: plan(desired, observed))  # type: ignore[arg-type]
    assert not result.has_changes, "steady state must be NOOP (the spec hashes differ?)"  # type: ignore[attr-defined]
    # The collector was paused: what it owes for the objects the pass made, paid now.
    start = CLOCK()
    gc.collect(1)
    gc_ms = (CLOCK() - start) * 1000
    return {
        "load": load_ms,
        "render": render_ms,
        "plan": plan_ms,
        "total": load_ms + render_ms + plan_ms,
        "gc": gc_ms,
    }


def child(root: Path, observed_pickle: Path) -> None:
    """One run in a fresh process: cold, warm, files; prints the figures as one JSON line."""
    from syncd.spec.cache import ParseCache

    observed = pickle.loads(observed_pickle.read_bytes())
    cache = ParseCache()
    cold = one_pass(root, cache, observed)
    before = cache.stats()
    warm = one_pass(root, cache, observed)
    after_warm = cache.stats()
    assert after_warm.tree_hits == before.tree_hits + 1, "warm pass must be a tree hit"
    untracked = root / "untracked.txt"
    untracked.write_text("defeats the whole-tree level\n")
    try:
        files = one_pass(root, cache, None)
    finally:
        untracked.unlink()
    after_files = cache.stats()
    print(
        json.dumps(
            {
                "cold": cold,
                "warm": warm,
                "files": files,
                "parsed": [
                    after_warm.misses - before.misses,
                    after_files.misses - after_warm.misses,
                ],
            }
        )
    )


def run_child(
    tree: Path, root: Path, observed_pickle: Path, cpu: bool, env: dict[str, str]
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--child", str(tree), str(root), str(observed_pickle)],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "SYNCD_BENCH_CLOCK": "cpu" if cpu else "wall",
            **env,
        },
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def row(label: str, deployments: int, nodes: int, runs: list[dict[str, Any]]) -> str:
    def median(phase: str, key: str) -> float:
        return statistics.median(run[phase][key] for run in runs)

    parsed = "/".join(str(n) for n in runs[-1]["parsed"])
    return (
        f"{label:<8} {deployments:>11,} {nodes:>5,} | {median('cold', 'load'):>9.1f} "
        f"{median('cold', 'render'):>7.1f} {median('cold', 'plan'):>7.1f} "
        f"{median('cold', 'total'):>8.1f} {median('cold', 'gc'):>5.1f} | "
        f"{median('warm', 'load'):>9.1f} {median('warm', 'render'):>7.1f} "
        f"{median('warm', 'plan'):>7.1f} {median('warm', 'total'):>8.1f} | "
        f"{median('files', 'load'):>7.1f} | {parsed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", help="DxN, e.g. 1000x100 (default: the grid)")
    parser.add_argument("--baseline", type=Path, help="a checkout of another commit to compare")
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    parser.add_argument(
        "--no-helper-baseline",
        action="store_true",
        help="the baseline is this tree with its parse helper off (SYNCD_PARSE_HELPER=off)",
    )
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes] if args.sizes else GRID
    trees: list[tuple[str, Path, dict[str, str]]] = [("this", HERE.parents[1], {})]
    if args.baseline is not None:
        trees.insert(0, ("baseline", args.baseline.resolve(), {}))
    elif args.no_helper_baseline:
        trees.insert(0, ("baseline", HERE.parents[1], {"SYNCD_PARSE_HELPER": "off"}))
    print(
        f"python {sys.version.split()[0]}, median of {args.runs} runs (one fresh process each), "
        f"{'CPU' if args.cpu else 'wall'} milliseconds, load average {os.getloadavg()[0]:.1f} "
        "at the start"
    )
    print(
        f"{'tree':<8} {'deployments':>11} {'nodes':>5} | {'cold load':>9} {'render':>7} "
        f"{'plan':>7} {'COLD':>8} {'gc':>5} | {'warm load':>9} {'render':>7} {'plan':>7} "
        f"{'WARM':>8} | {'files':>7} | parsed warm/files"
    )
    from syncd.spec.rendering import render_desired
    from syncd.spec.repository import load_repository
    from testkit.simulated import steady_state

    for deployments, nodes in sizes:
        with tempfile.TemporaryDirectory(prefix="syncd-bench-scaling-") as tmp:
            root = Path(tmp) / "repo"
            write_repo(root, deployments, nodes)
            # The steady observed state (untimed): the engines' side, not ours.
            observed_pickle = Path(tmp) / "observed.pickle"
            steady = steady_state(render_desired(load_repository(root), environ={}))
            observed_pickle.write_bytes(pickle.dumps(steady))
            samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in trees}
            for _ in range(args.runs):
                for label, tree, env in trees:  # alternate, so both sides see the same load
                    samples[label].append(run_child(tree, root, observed_pickle, args.cpu, env))
            for label, _, _ in trees:
                print(row(label, deployments, nodes, samples[label]), flush=True)
            if len(trees) > 1:
                for phase in ("cold", "warm"):
                    ratio = statistics.median(
                        new[phase]["total"] / old[phase]["total"]
                        for new, old in zip(samples["this"], samples["baseline"], strict=True)
                    )
                    print(f"{'':<8} {phase} this/baseline: {ratio:.2f}")
            print(f"{'':<8} load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        child(Path(sys.argv[at + 2]), Path(sys.argv[at + 3]))
    else:
        main()
