"""Requests failed during a rollout: the same web deployment updated by each strategy, with a
bounded request loop on loopback the whole time.

    .venv/bin/python bench/bench_traffic.py --harness-dir /tmp/syncd-h-bench [--runs 3] [--down]

The service is tests/traffic's (busybox httpd answering its VERSION, host network, an http
health check every second) on node-a, at ``127.0.0.12:18190``. Five ways to update it from
version 1 to 2, each from a clean node:

- routed (``routed: true``, through the node's proxy): RollingUpdate ``maxSurge: 1,
  maxUnavailable: 0``, BlueGreen, Canary (one step at 25% for 2 s);
- unrouted (a fixed host port, today's behaviour before routed ports): Recreate, and
  RollingUpdate ``maxSurge: 0, maxUnavailable: 1`` (a surge would collide on the port).

One replica each, as an unrouted fixed port allows only one per node. The request loop makes
sequential GETs (a new connection each, 2 s timeout) from before the update pass starts until
it returns (and on to at least ``--minimum`` in all); a refused or reset connection, an answer
cut short or a timeout is a failed request. Variants alternate inside each run, so all see the same machine load. Prints raw counts
per run and the load average.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.sync.settings import SyncSettings  # noqa: E402
from testkit.bench import bench_harness, harness_bench_parser  # noqa: E402
from testkit.harness import HarnessHandle  # noqa: E402
from tests.traffic.web import (  # noqa: E402  (the service the traffic tests update)
    ADDRESSES,
    STABLE_PORT,
    URL_A,
    RequestLoop,
    get,
    one_pass,
    proxied_node,
    write_web_repo,
)

ADDRESS = ADDRESSES["node-a"]
SETTINGS = SyncSettings(progress_deadline_s=120.0)


@dataclass(frozen=True)
class Variant:
    name: str
    strategy: dict[str, Any]
    routed: bool = True


VARIANTS = (
    Variant(
        "routed RollingUpdate surge 1",
        {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0, "drainTimeout": "5s"},
    ),
    Variant("routed BlueGreen", {"type": "BlueGreen", "keepOldFor": "2s", "drainTimeout": "5s"}),
    Variant(
        "routed Canary 25% 2s",
        {
            "type": "Canary",
            "steps": [{"weight": 25, "pause": "2s"}],
            "keepOldFor": "1s",
            "drainTimeout": "5s",
        },
    ),
    Variant("unrouted Recreate", {"type": "Recreate"}, routed=False),
    Variant(
        "unrouted RollingUpdate maxUnavailable 1",
        {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 1},
        routed=False,
    ),
)


def unroute(root: Path) -> None:
    """Make the written definition today's fixed host port: the container binds the stable
    address itself (``HOST``/``PORT`` given as envars, since syncd hands them to routed replicas
    only) and its health check asks that address."""
    path = root / "definitions" / "def_web.yaml"
    definition = yaml.safe_load(path.read_text())
    definition["ports"] = [{"internal": 8080, "host": STABLE_PORT}]
    definition["envars"] += [
        {"key": "HOST", "value": ADDRESS},
        {"key": "PORT", "value": str(STABLE_PORT)},
    ]
    definition["healthCheck"] = {
        "command": ["wget", "-q", "-O", "/dev/null", f"http://{ADDRESS}:{STABLE_PORT}/health"],
        "interval": "1s",
        "timeout": "2s",
        "retries": 2,
    }
    path.write_text(yaml.safe_dump(definition))


def converge(pool: NodePool, root: Path) -> None:
    """Passes until one succeeds (at most three): the starting point of a measurement."""
    for _ in range(3):
        result = one_pass(pool, root, settings=SETTINGS)
        if result.report is not None and result.report.ok:
            return
    raise RuntimeError(f"version 1 did not converge: {result.report}")


@dataclass(frozen=True)
class Counted:
    """One update: the requests made and failed while its pass ran (and in all, with the
    requests after it up to the minimum), and the pass's seconds."""

    made: int
    failed: int
    made_in_all: int
    failed_in_all: int
    seconds: float


def measure(handle: HarnessHandle, variant: Variant, minimum: int) -> Counted:
    """The counts of one update from version 1 to 2 with ``variant``."""
    handle.cleanup()
    nodes = [proxied_node(handle.node("node-a"))]
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as folder, NodePool(nodes) as pool:
        root = Path(folder)

        def write(version: str) -> None:
            write_web_repo(root, nodes, version=version, replicas=1, strategy=variant.strategy)
            if not variant.routed:
                unroute(root)

        write("1")
        converge(pool, root)
        if get(URL_A) != "1":
            raise RuntimeError("version 1 does not answer")
        write("2")
        with RequestLoop([URL_A], minimum=minimum) as loop:
            started = time.monotonic()
            result = one_pass(pool, root, settings=SETTINGS)
            took = time.monotonic() - started
            made, failed = loop.made, len(loop.failures)
        if result.report is None or not result.report.ok:
            raise RuntimeError(f"{variant.name}: the update failed: {result.report}")
        if get(URL_A) != "2":
            raise RuntimeError(f"{variant.name}: version 2 does not answer")
    return Counted(made, failed, loop.made, len(loop.failures), took)


def main() -> None:
    parser = harness_bench_parser(__doc__, runs=3)
    parser.add_argument("--minimum", type=int, default=1000, help="requests per update, at least")
    args = parser.parse_args()
    counts: dict[str, list[Counted]] = {v.name: [] for v in VARIANTS}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with bench_harness(args.harness_dir, down=args.down) as handle:
        for run in range(args.runs):
            for variant in VARIANTS:
                counted = measure(handle, variant, args.minimum)
                counts[variant.name].append(counted)
                print(
                    f"run {run + 1} {variant.name:42} {counted.failed:4} failed of "
                    f"{counted.made:5} during the {counted.seconds:.1f}s pass; "
                    f"{counted.failed_in_all} of {counted.made_in_all} in all",
                    flush=True,
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'variant':42}  failed / made during the update pass, per run")
    for name, runs in counts.items():
        print(f"{name:42}  " + ", ".join(f"{c.failed}/{c.made}" for c in runs))


if __name__ == "__main__":
    main()
