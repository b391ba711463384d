"""What the bench scripts share: the harness's lifetime, a Git repository to push to, the timed
syncd rollout that two benches compare against other tools, and reading a process's RSS."""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from syncd.apply.report import ApplyOptions, ApplyReport
from syncd.plan.model import Plan
from testkit.harness import Harness, HarnessHandle
from testkit.repo import TestRepo
from testkit.services import deployment

DEFAULT_HARNESS_DIR = "/tmp/syncd-h-bench"

# Commits made by a bench carry no user's identity and read no user's or system's git config.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


# --------------------------------------------------------------------------- the harness


def add_harness_arguments(parser: argparse.ArgumentParser) -> None:
    """``--harness-dir DIR`` (started there when not running) and ``--down`` (stop it after)."""
    parser.add_argument("--harness-dir", default=DEFAULT_HARNESS_DIR)
    parser.add_argument("--down", action="store_true", help="stop the harness afterwards")


def harness_bench_parser(doc: str | None, *, runs: int | None = None) -> argparse.ArgumentParser:
    """The command line of a bench on the harness: its docstring as the help, the harness
    arguments, and ``--runs`` with that default when ``runs`` is given."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_harness_arguments(parser)
    if runs is not None:
        parser.add_argument("--runs", type=int, default=runs)
    return parser


@contextlib.contextmanager
def bench_harness(
    directory: str | Path | None = None, *, down: bool = False
) -> Iterator[HarnessHandle]:
    """The harness in ``directory`` (started when not running), with no managed or test container
    left before or after; stopped at the end when ``down``.

    Without ``directory``: ``SYNCD_HARNESS_DIR`` when set (left running), else a fresh directory
    under /tmp that is stopped and removed at the end.
    """
    fresh = False
    if directory is None:
        directory = os.environ.get("SYNCD_HARNESS_DIR")
    if directory is None:
        # /tmp keeps unix socket paths under their 108-byte limit
        directory, fresh = tempfile.mkdtemp(prefix="syncd-hb-", dir="/tmp"), True
    runner = Harness(directory)
    handle = HarnessHandle(runner.root, runner.up())
    try:
        handle.cleanup()
        yield handle
    finally:
        try:
            handle.cleanup()
        finally:
            handle.close()
            if down or fresh:
                runner.down()
            if fresh:
                runner.root.rmdir()


# --------------------------------------------------------------------------- git


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with the bench identity; its stdout, stripped. RuntimeError with git's
    own words when it fails."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def bare_repository(root: Path) -> tuple[Path, Path]:
    """``root/repo.git`` (bare, branch main) and a clone of it at ``root/work`` to commit in and
    push from: what a daemon follows, and where the bench plays the team."""
    bare, work = root / "repo.git", root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(root, "clone", "-q", str(bare), str(work))
    git(work, "checkout", "-q", "-b", "main")
    return bare, work


# --------------------------------------------------------------------------- rollouts

#: one pass over a repository: ``(repo, pool, options=, commit=) -> (plan, report)``; the benches
#: pass ``tests.apply.applykit.apply_repo``, the same pass the apply tests run
PassRunner = Callable[..., tuple[Plan, ApplyReport]]


#: the update bench_rollout and bench_swarm both time: 20 replicas, maxSurge 4, maxUnavailable 0
ROLLOUT_REPLICAS, ROLLOUT_SURGE = 20, 4
ROLLOUT_STRATEGY = {"type": "RollingUpdate", "maxSurge": ROLLOUT_SURGE, "maxUnavailable": 0}


def timed_rolling_update(
    repo: TestRepo,
    pool: Any,
    run_pass: PassRunner,
    *,
    replicas: int = ROLLOUT_REPLICAS,
    strategy: dict[str, Any] = ROLLOUT_STRATEGY,
    options: ApplyOptions | None = None,
    deployment_id: str = "depl_bench",
) -> float:
    """Seconds for syncd to plan and roll ``deployment_id`` from version 1 to 2 (version 1 is set
    up first, untimed), with the default options but 4 deployments at once. Fails when either
    pass does not succeed."""
    options = options or ApplyOptions(concurrency=4)
    repo.write([deployment(deployment_id, replicas, version="1", strategy=strategy)])
    _, setup = run_pass(repo, pool, options=options, commit="v1")
    assert setup.ok, setup.results
    repo.write([deployment(deployment_id, replicas, version="2", strategy=strategy)])
    began = time.perf_counter()
    _, report = run_pass(repo, pool, options=options, commit="v2")
    elapsed = time.perf_counter() - began
    assert report.ok, report.results
    return elapsed


def median_ratio(ours: list[float], theirs: list[float]) -> tuple[float, float, float]:
    """(median of ours, median of theirs, ours / theirs): how the comparison benches report."""
    our_median, their_median = statistics.median(ours), statistics.median(theirs)
    return our_median, their_median, our_median / their_median


# --------------------------------------------------------------------------- processes


def rss_kib(pid: int | str = "self") -> int:
    """Resident memory of a process (VmRSS in /proc/PID/status), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")
