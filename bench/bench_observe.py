"""What one observe pass costs per node: engine API calls and milliseconds (issue 3).

Run by hand (not in CI), against the test harness::

    .venv/bin/python bench/bench_observe.py                    # starts a harness in /tmp, stops it
    SYNCD_HARNESS_DIR=/tmp/syncd-h .venv/bin/python bench/bench_observe.py --passes 20

For each transport (unix: node-a, ssh: node-b, tcp+TLS: node-c) and for 0 and 20 managed
containers on the node: one warm-up pass (connects, reads /version and /info), then the median
and max of ``--passes`` idle passes (DockerNode.observe: cached facts + one label-filtered list
call). Then the same for a NodePool over all three nodes at once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.nodes.docker_node import DockerNode  # noqa: E402
from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.state import LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_REPLICA  # noqa: E402
from testkit.bench import bench_harness  # noqa: E402
from testkit.harness import BASE_IMAGE, HarnessHandle  # noqa: E402

BENCH_DEPLOYMENT = "bench-observe"


def populate(handle: HarnessHandle, node_id: str, count: int) -> None:
    """``count`` managed sleepers on the node (made behind syncd's back, like a previous apply)."""
    client = handle.docker(node_id)
    for replica in range(count):
        client.containers.run(
            BASE_IMAGE,
            ["sleep", "3600"],
            detach=True,
            network_mode="none",
            name=f"bench-observe-{node_id}-{replica}",
            labels={
                LABEL_MANAGED: "true",
                LABEL_DEPLOYMENT: BENCH_DEPLOYMENT,
                LABEL_REPLICA: str(replica),
            },
        )


def measure(driver: DockerNode, passes: int) -> tuple[int, float, int, float, float, int]:
    """(cold calls, cold ms, API calls per warm pass, median ms, max ms, instances seen).

    The cold pass is a new client's first: connect (ssh handshake, TLS), /version, /info, list.
    """
    started = time.perf_counter()
    driver.observe()
    cold_ms = (time.perf_counter() - started) * 1000
    cold_calls = driver.api_calls
    calls_before = driver.api_calls
    timings = []
    seen = 0
    for _ in range(passes):
        started = time.perf_counter()
        facts, instances = driver.observe()
        timings.append((time.perf_counter() - started) * 1000)
        assert facts.reachable, facts.error
        seen = len(instances)
    calls = (driver.api_calls - calls_before) / passes
    return cold_calls, cold_ms, round(calls), statistics.median(timings), max(timings), seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--containers", type=int, nargs="+", default=[0, 20])
    args = parser.parse_args()

    started = time.monotonic()
    with bench_harness() as handle:
        print(f"harness: {handle.dir} (up in {time.monotonic() - started:.1f}s)")
        specs = {"unix": handle.node("node-a"), "ssh": handle.ssh_node, "tcp+tls": handle.tls_node}
        print(
            f"{'transport':<9} {'node':<7} {'managed':>7} {'cold calls':>10} {'cold ms':>8} "
            f"{'calls/pass':>10} {'median ms':>9} {'max ms':>7}"
        )
        for count in args.containers:
            handle.cleanup()
            for spec in specs.values():
                populate(handle, spec.id, count)
            for transport, spec in specs.items():
                driver = DockerNode(spec)
                try:
                    cold_calls, cold_ms, calls, median, worst, seen = measure(driver, args.passes)
                finally:
                    driver.close()
                assert seen == count, (seen, count)
                print(
                    f"{transport:<9} {spec.id:<7} {count:>7} {cold_calls:>10} {cold_ms:>8.1f} "
                    f"{calls:>10} {median:>9.1f} {worst:>7.1f}"
                )
            with NodePool(list(specs.values())) as pool:
                pool.observe()
                before = pool.api_calls
                timings = []
                for _ in range(args.passes):
                    t0 = time.perf_counter()
                    state = pool.observe()
                    timings.append((time.perf_counter() - t0) * 1000)
                assert len(state.instances) == 3 * count
                calls = (pool.api_calls - before) / args.passes
            print(
                f"{'pool':<9} {'3 nodes':<7} {3 * count:>7} {'':>10} {'':>8} {calls:>10.0f} "
                f"{statistics.median(timings):>9.1f} {max(timings):>7.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
