"""The PR preview as a CI job runs it: ``syncd plan --base A --head B --format markdown``, the
whole process from exec to exit.

Run by hand (not in CI)::

    .venv/bin/python bench/bench_preview.py                  # 1,000 and 10,000 deployments
    .venv/bin/python bench/bench_preview.py --sizes 1000x100 --runs 7
    .venv/bin/python bench/bench_preview.py --code /work/main  # another checkout, for before/after

For each size (D deployments over N nodes) it writes a Git repository with two commits (the
layout of ``bench_scaling.py``): the base, and a head that changes a few deployments the way a
pull request does (two env changes, one scale, one removed, one added). It then runs the
command as a new process ``--runs`` times and prints the median wall time (exec to exit), and
one ``-X importtime`` run's import total, and the phases of one run in process under cProfile
(cumulative seconds of the checkout or the reads from Git, the load, rendering, the offline plan
and the markdown; inflated by the profiler, read them as shares; the blob stream is read inside
the load). ``--head-elsewhere`` leaves the work tree at the base, so the head is read from Git
too (a preview run outside the pull request's checkout). With ``--code DIR`` the same
repositories are planned by the checkout in DIR too, runs alternated, and the ratio is printed
(one run, one machine load: trust the ratio over the raw figures on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_scaling import write_repo  # noqa: E402

from testkit.bench import git  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(1_000, 100), (10_000, 1_000)]


def write_pull_request(root: Path, deployments: int) -> None:
    """A second commit on top of ``write_repo``'s: what a small pull request changes."""
    folder = root / "deployments"
    for i in (1, deployments // 2):  # env changes: a rolling update each
        path = folder / f"depl_{i:05d}.yaml"
        path.write_text(path.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: debug"))
    scaled = folder / f"depl_{deployments // 3:05d}.yaml"
    scaled.write_text(re.sub(r"replicas: \d+", "replicas: 5", scaled.read_text()))
    (folder / f"depl_{deployments - 1:05d}.yaml").unlink()
    added = (folder / "depl_00000.yaml").read_text().replace("depl_00000", "depl_new01")
    (folder / "depl_new01.yaml").write_text(added)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a pull request")


def preview_command(code: Path, root: Path, *extra: str) -> list[str]:
    python = code / ".venv" / "bin" / "python"
    return [
        str(python if python.exists() else sys.executable),
        *extra,
        "-m",
        "syncd",
        "plan",
        "--repo",
        str(root),
        "--base",
        "main~1",
        "--head",
        "main",
        "--format",
        "markdown",
    ]


def run_preview(code: Path, root: Path) -> float:
    """Seconds from exec to exit of one preview by the checkout at ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    start = time.perf_counter()
    done = subprocess.run(
        preview_command(code, root), cwd=code, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"syncd plan failed ({done.returncode}): {done.stderr.strip()}")
    if "depl_new01" not in done.stdout:
        raise RuntimeError("the preview does not show the added deployment")
    return elapsed


def import_seconds(code: Path, root: Path) -> tuple[float, list[tuple[int, str]]]:
    """The cumulative import time of one run (``-X importtime``) and the ten packages whose
    modules took longest themselves (self time summed per top-level package: microseconds,
    name)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        preview_command(code, root, "-X", "importtime"),
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
    )
    total = 0
    by_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match is None:
            continue
        own, cumulative, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
        if indent == 1:  # a top-level import: its cumulative time holds its children's
            total += cumulative
        package = name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + own
    top = sorted(((us, name) for name, us in by_package.items()), reverse=True)[:10]
    return total / 1e6, top


#: the functions whose cumulative time is a phase of the preview: (file suffix, function name)
PHASES = {
    "checkout": ("syncd/source/revisions.py", "checkout_revision"),
    # a commit read from Git: the listing, and the blob stream (inside the load's time)
    "ls-tree": ("syncd/source/commit_files.py", "commit_files"),
    "cat-file": ("syncd/source/commit_files.py", "_read_wanted"),
    "load": ("syncd/spec/repository.py", "load_repository"),
    "render": ("syncd/spec/rendering.py", "render_desired"),
    "plan": ("syncd/plan/offline.py", "plan_offline"),
    "markdown": ("syncd/plan/markdown.py", "markdown"),
}


def phase_seconds(root: Path) -> dict[str, float]:
    """The cumulative seconds of each phase in one in-process run under cProfile."""
    import contextlib
    import cProfile
    import io
    import pstats

    from syncd.cli.main import cli

    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        profile.enable()
        cli.main(args=preview_command(ROOT, root)[3:], prog_name="syncd", standalone_mode=False)
        profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    seconds = dict.fromkeys(PHASES, 0.0)
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for phase, (suffix, name) in PHASES.items():
            if function == name and filename.endswith(suffix):
                seconds[phase] += cumulative
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", nargs="*", help="DxN, e.g. 1000x100 (default: 1,000 and 10,000)")
    parser.add_argument("--code", type=Path, help="another checkout to compare with (before)")
    parser.add_argument(
        "--head-elsewhere",
        action="store_true",
        help="leave the work tree at the base, so the head is a commit to read as well",
    )
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes] if args.sizes else SIZES
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs, seconds exec to exit")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for deployments, nodes in sizes:
        with tempfile.TemporaryDirectory(prefix="syncd-bench-preview-") as tmp:
            root = Path(tmp)
            write_repo(root, deployments, nodes)
            write_pull_request(root, deployments)
            if args.head_elsewhere:
                git(root, "checkout", "-q", "main~1")
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(args.runs):  # alternated, so both sides see the same machine load
                ours.append(run_preview(ROOT, root))
                if args.code is not None:
                    theirs.append(run_preview(args.code.resolve(), root))
            imports, top = import_seconds(ROOT, root)
            line = (
                f"{deployments:>7,} deployments {nodes:>5,} nodes: "
                f"{statistics.median(ours):.3f} s (min {min(ours):.3f}), imports {imports:.3f} s"
            )
            if theirs:
                ratio = statistics.median(ours) / statistics.median(theirs)
                line += f" | {args.code}: {statistics.median(theirs):.3f} s, ratio {ratio:.2f}"
            print(line, flush=True)
            print(
                "   imports by package (ms): " + ", ".join(f"{n} {us / 1000:.0f}" for us, n in top)
            )
            phases = phase_seconds(root)
            print(
                "   phases (s, cProfile): " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items())
            )
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
