"""The latency the node proxy adds: the same busybox httpd on loopback, direct and through HAProxy.

Run by hand (not in CI), against the test harness::

    .venv/bin/python bench/bench_proxy.py                       # starts a harness in /tmp, stops it
    SYNCD_HARNESS_DIR=/tmp/syncd-h .venv/bin/python bench/bench_proxy.py --requests 5000

One httpd on node-a's address (127.0.0.2:20001, host network) and the node's proxy serving
127.0.0.2:18090 to it (``HaproxyNode.apply``, the offline test image). Requests alternate
between the two addresses, one new TCP connection each (HTTP/1.0 GET /, as a client without
keep-alive would), so both sides see the same machine load. Prints p50, p90, p99 and max of each
side and the difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.nodes.proxy.model import Backend, Route  # noqa: E402
from syncd.spec.models import ProxySettings  # noqa: E402
from testkit.bench import add_harness_arguments, bench_harness  # noqa: E402
from testkit.harness import BASE_IMAGE, PROXY_IMAGE, TEST_LABEL  # noqa: E402

ADDRESS = "127.0.0.2"
BACKEND_PORT, ROUTE_PORT = 20001, 18090


def one_request(port: int) -> float:
    """Milliseconds for one GET / on a new connection, connect to last byte."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(ADDRESS, port, timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET :{port}/ answered {response.status}")
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per side (default 2000)")
    add_harness_arguments(parser)
    args = parser.parse_args()
    with bench_harness(args.harness_dir, down=args.down) as handle:
        handle.docker("node-a").containers.run(
            BASE_IMAGE,
            ["httpd", "-f", "-p", f"{ADDRESS}:{BACKEND_PORT}", "-h", "/www"],
            detach=True,
            network_mode="host",
            labels={TEST_LABEL: "1"},
        )
        node = dataclasses.replace(
            handle.node("node-a"), proxy=ProxySettings(PROXY_IMAGE, ADDRESS, (20000, 20999))
        )
        with NodePool([node]) as pool:
            backend = Backend("httpd", f"{ADDRESS}:{BACKEND_PORT}")
            pool.proxy("node-a").apply(
                [Route("bench", f"{ADDRESS}:{ROUTE_PORT}", "http", (backend,))]
            )
            deadline = time.monotonic() + 10
            while True:  # the httpd may still be starting
                try:
                    one_request(BACKEND_PORT)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for _ in range(100):  # warm both paths
                one_request(BACKEND_PORT), one_request(ROUTE_PORT)
            direct: list[float] = []
            proxied: list[float] = []
            for _ in range(args.requests):
                direct.append(one_request(BACKEND_PORT))
                proxied.append(one_request(ROUTE_PORT))
    print(f"{args.requests} requests per side, alternating, new connection each, loopback")
    print(f"{'':10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}")
    for name, values in (("direct", direct), ("proxied", proxied)):
        print(
            f"{name:10}{percentile(values, 0.5):9.3f}{percentile(values, 0.9):9.3f}"
            f"{percentile(values, 0.99):9.3f}{max(values):9.3f}{statistics.mean(values):9.3f}"
        )
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        added = percentile(proxied, fraction) - percentile(direct, fraction)
        print(f"added {label}: {added:.3f} ms")


if __name__ == "__main__":
    main()
