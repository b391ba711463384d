"""The latency the node proxy adds: the same busybox httpd on loopback, direct and through HAProxy.

Run by hand (not in CI), against the test harness::

    .venv/bin/python bench/bench_proxy.py                       # starts a harness in /tmp, stops it
    SYNCD_HARNESS_DIR=/tmp/syncd-h .venv/bin/python bench/bench_proxy.py --requests 5000

One httpd on node-a's address (127.0.0.2:20001, host network) and the node's proxy serving
127.0.0.2:18090 to it (``HaproxyNode.apply``, the offline test image). Requests alternate
between the two addresses, one new TCP connection each (HTTP/1.0 GET /, as a client without
keep-alive would), so both sides see the same machine load; ``--rounds`` repeats that and gives
the median of each round's added latency. Prints p50, p90, p99, p99.9 and max
of each side, the difference and the ratio of each percentile, and the load average before and
after: on a shared machine the tail is the machine's as much as the proxy's, and only the
difference between two sides measured under the same load is the proxy's.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import os
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
    parser.add_argument("--requests", type=int, default=20000, help="per side (default 20000)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --requests (default 1)")
    add_harness_arguments(parser)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # rounds as they end
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
            added: dict[str, list[float]] = {label: [] for label, _ in FRACTIONS}
            for round_number in range(1, args.rounds + 1):
                direct, proxied, load = measure_round(args.requests)
                print(
                    f"round {round_number}: {args.requests} requests per side, alternating, "
                    f"new connection each, loopback; load average {load}"
                )
                report(direct, proxied, added)
    if args.rounds > 1:
        print(f"median over {args.rounds} rounds of the added latency:")
        for label, values in added.items():
            print(f"  added {label}: {statistics.median(values):.3f} ms")


FRACTIONS = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))


def measure_round(requests: int) -> tuple[list[float], list[float], str]:
    """``requests`` a side, alternating, the side that goes first alternating too (so neither
    always follows the other's work); and the 1-minute load average before and after."""
    direct: list[float] = []
    proxied: list[float] = []
    before = os.getloadavg()[0]
    for index in range(requests):
        if index % 2:
            direct.append(one_request(BACKEND_PORT))
            proxied.append(one_request(ROUTE_PORT))
        else:
            proxied.append(one_request(ROUTE_PORT))
            direct.append(one_request(BACKEND_PORT))
    return direct, proxied, f"{before:.2f} before, {os.getloadavg()[0]:.2f} after"


def report(direct: list[float], proxied: list[float], added: dict[str, list[float]]) -> None:
    """Both sides' percentiles, and what the proxy adds to each (kept in ``added``)."""
    print(f"{'':10}" + "".join(f"{label + ' ms':>10}" for label, _ in FRACTIONS), end="")
    print(f"{'max ms':>10}{'mean ms':>10}")
    for name, values in (("direct", direct), ("proxied", proxied)):
        cells = "".join(f"{percentile(values, fraction):10.3f}" for _, fraction in FRACTIONS)
        print(f"{name:10}{cells}{max(values):10.3f}{statistics.mean(values):10.3f}")
    for label, fraction in FRACTIONS:
        near, far = percentile(direct, fraction), percentile(proxied, fraction)
        added[label].append(far - near)
        print(f"added {label}: {far - near:.3f} ms (proxied / direct {far / near:.2f})")


if __name__ == "__main__":
    main()
