"""Where syncd's 20-replica rollout spends its time on one engine (the engine bench_swarm.py
compares with Swarm): the progress events of the timed pass by phase, and a cProfile of every
thread of it (apply workers, creates, background stops), from bench_rollout's ``Profile``.

    .venv/bin/python bench/profile_one_engine.py --harness-dir /tmp/syncd-h-bench [--runs 2]

The last run's timeline and profile are printed; each run's time too.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_rollout import Profile  # noqa: E402

from syncd.nodes.pool import NodePool  # noqa: E402
from testkit.bench import bench_harness, harness_bench_parser, timed_rolling_update  # noqa: E402
from testkit.repo import TestRepo  # noqa: E402


def main() -> None:
    args = harness_bench_parser(__doc__, runs=2).parse_args()
    with (
        bench_harness(args.harness_dir, down=args.down) as handle,
        tempfile.TemporaryDirectory() as work,
    ):
        node = handle.nodes[0]
        profile = Profile()
        for run in range(args.runs):
            profile = Profile()
            repo = TestRepo(Path(work) / f"repo-{run}", [node])
            with NodePool([node]) as pool:
                elapsed = timed_rolling_update(repo, pool, profile.run_pass)
            handle.cleanup()
            print(f"run {run + 1}: syncd {elapsed:.2f}s on one engine", flush=True)
        print(profile.summary(30))


if __name__ == "__main__":
    main()
