"""Whole daemon passes over time: RSS, open files, child processes and pass duration (issue 6).

One in-process ``Daemon`` follows a bare repository with one deployment (2 replicas on the
harness's node-a) and runs ``--passes`` passes: fetch passes and reconcile passes alternating,
with a new commit (a README edit: new sha, nothing to roll out) every 100 passes. Prints the
process's resident memory, open file descriptors and child processes at a few points, the median
pass time of each kind, and how many git notes were written (one per commit whose status changed,
not one per pass). Flat columns mean nothing leaks across passes.

Run by hand (not in CI)::

    SYNCD_HARNESS_DIR=/tmp/syncd-h .venv/bin/python bench/bench_daemon_passes.py [--passes 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.daemon.config import parse_config  # noqa: E402
from syncd.daemon.loop import Daemon  # noqa: E402
from syncd.daemon.triggers import Trigger  # noqa: E402
from testkit.bench import bare_repository, bench_harness, git, rss_kib  # noqa: E402
from testkit.harness import BASE_IMAGE  # noqa: E402

DEFINITION = f"""\
id: def_sleeper
image: {{name: "{BASE_IMAGE}", internalPorts: []}}
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
network: "none"
"""
DEPLOYMENT = "id: depl_sleeper\ndefinitionId: def_sleeper\nreplicas: 2\n"


def commit(work: Path, rel: str, text: str) -> None:
    (work / rel).parent.mkdir(parents=True, exist_ok=True)
    (work / rel).write_text(text)
    git(work, "add", rel)
    git(work, "commit", "-q", "-m", f"edit {rel}")
    git(work, "push", "-q", "origin", "main")


def footprint() -> tuple[int, int, int]:
    """(RSS KiB, open fds, live child processes) of this process."""
    rss = rss_kib()
    fds = len(os.listdir("/proc/self/fd"))
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    return rss, fds, len(children)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=1000)
    args = parser.parse_args()
    with (
        bench_harness() as handle,
        tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp,
    ):
        node = handle.node("node-a")
        root = Path(tmp)
        bare, work = bare_repository(root)
        commit(work, "definitions/def_sleeper.yaml", DEFINITION)
        commit(work, "deployments/depl_sleeper.yaml", DEPLOYMENT)
        config = (
            f"repo: {{url: {bare}, branch: main}}\nstateDir: {root / 'state'}\nlisten: ''\n"
            f"nodes:\n  - {{id: {node.id}, url: '{node.url}'}}\n"
        )
        settings = parse_config(config.encode(), "bench.yaml", base_dir=root)
        daemon = Daemon(settings)
        daemon.lock.acquire()
        try:
            daemon._pass(Trigger(fetch=True, reasons=("bench",)))
            daemon._wait_for_jobs(timeout=120)
            durations: dict[str, list[float]] = {"fetch": [], "reconcile": []}
            checkpoints = {1, 10, 100, args.passes // 2, args.passes}
            print(f"{'pass':>6} {'RSS KiB':>9} {'fds':>5} {'children':>9}")
            for number in range(1, args.passes + 1):
                if number % 100 == 0:
                    commit(work, "README.md", f"edit {number}\n")
                fetch = number % 2 == 1
                started = time.perf_counter()
                daemon._pass(Trigger(fetch=fetch, reasons=("bench",)))
                durations["fetch" if fetch else "reconcile"].append(time.perf_counter() - started)
                if number in checkpoints:
                    rss, fds, children = footprint()
                    print(f"{number:>6} {rss:>9} {fds:>5} {children:>9}")
            notes = git(root / "state/checkout", "rev-list", "--count", "refs/notes/syncd")
            for kind, values in durations.items():
                print(
                    f"{kind} pass: median {statistics.median(values) * 1000:.1f} ms, "
                    f"max {max(values) * 1000:.1f} ms over {len(values)} passes"
                )
            print(f"notes commits written: {notes} (passes: {args.passes + 1})")
            state = daemon.states.get("depl_sleeper")
            print(f"depl_sleeper: {state.state if state else '?'}")
        finally:
            daemon._shutdown_parts()
            daemon.lock.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
