"""What a remote build's fetch costs, and what the cache saves: one repository with a 20 MB
build context served by ``git daemon`` on loopback, loaded as a revision would load it.

Run by hand (not in CI, not a timed test)::

    .venv/bin/python bench/bench_remote_builds.py [--runs 5] [--files 100]

Each run, on an empty cache: the first load of a tag (ls-remote + shallow fetch + checkout),
the same tag again (ls-remote only: the commit is cached), the same commit pinned by sha (no
network at all). Prints the medians and the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.source.remote_builds import RemoteBuildCache  # noqa: E402
from tests.source.git_daemon import app_repo, git_server  # noqa: E402
from tests.source.gitrepos import git  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=100, help="files of 200 KB each")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    try:
        served = work / "served"
        served.mkdir()
        app = app_repo(served)
        files = {f"service/data/f{i}.txt": os.urandom(100_000).hex() for i in range(args.files)}
        app.commit(files, "a large context", tag="big")
        sha = git(app.work, "rev-parse", "big")
        timings: dict[str, list[float]] = {"first": [], "tag again": [], "sha again": []}
        with git_server(served) as server:
            url = server.url("app")
            for run in range(args.runs):
                cache = RemoteBuildCache(work / f"cache-{run}", timeout_s=120)
                for label, version in (("first", "big"), ("tag again", "big"), ("sha again", sha)):
                    started = time.perf_counter()
                    cache.checkout(url, version)
                    timings[label].append(time.perf_counter() - started)
                shutil.rmtree(cache.root)
        for label, values in timings.items():
            print(f"{label:>10}: median {statistics.median(values) * 1000:9.2f} ms")
        print("load average:", " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
