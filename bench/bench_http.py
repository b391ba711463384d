"""What clients can take from the listener: 200 concurrent ``/healthz``, and ``/healthz`` while
1,100 idle connections are open under a 1,024-descriptor limit (systemd's default).

Run by hand (not in CI)::

    .venv/bin/python bench/bench_http.py                    # this tree's listener
    .venv/bin/python bench/bench_http.py --code /path/to/other/checkout   # e.g. the old one

The listener runs in a child process (``HttpServer`` with one ``/healthz`` route, the
daemon's own limits), its descriptor limit set to 1,024, and ``--code`` picks whose
``syncd.daemon.http`` it imports, so the same client measures both. Only loopback is used;
every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SERVER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
from syncd.daemon.http import HttpServer, Response
server = HttpServer("127.0.0.1:0")
server.route("GET", "/healthz", lambda request: Response.json(200, {"status": "ok"}))

def open_a_file(request):
    # what the daemon's own work needs (the status file, a git pipe): a free descriptor
    try:
        with open("/dev/null", "rb"):
            return Response.json(200, {"status": "ok"})
    except OSError:
        return Response.json(503, {"status": "no descriptor left"})

server.route("GET", "/openfile", open_a_file)
server.start()
import syncd.daemon.http
print(server.address[1], syncd.daemon.http.__file__, flush=True)
time.sleep(600)
"""


def healthz(port: int, timeout: float = 10.0, path: str = "/healthz") -> float | None:
    """Seconds for one GET on a fresh connection; None when it failed."""
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        return None
    return time.perf_counter() - started if ok else None


def concurrent(port: int, clients: int) -> list[float | None]:
    results: list[float | None] = [None] * clients
    barrier = threading.Barrier(clients)

    def one(index: int) -> None:
        barrier.wait()
        results[index] = healthz(port)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, results: list[float | None]) -> None:
    done = [r for r in results if r is not None]
    failed = len(results) - len(done)
    if not done:
        print(f"{name:34} all {failed} failed")
        return
    print(
        f"{name:34} p50 {statistics.median(done) * 1000:7.1f} ms  p95 "
        f"{percentile(done, 0.95) * 1000:7.1f} ms  failed {failed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose syncd to run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    env = {**os.environ, "PYTHONPATH": str(args.code)}
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, env=env, cwd=args.code
    )
    try:
        assert child.stdout is not None
        port_text, module = child.stdout.readline().split()
        port = int(port_text)
        print(f"listener: {module}")
        for run in range(args.runs):
            report(f"200 concurrent /healthz, run {run + 1}", concurrent(port, 200))
        idle: list[socket.socket] = []
        refused = 0
        for _ in range(1100):
            try:
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                refused += 1
                if refused >= 5:
                    break  # the listener takes no more: stop trying (bounded in time)
        time.sleep(1)
        print(f"{len(idle)} idle connections opened")
        report("/healthz with 1,100 idle open", [healthz(port, 5) for _ in range(10)])
        report("open a file meanwhile", [healthz(port, 5, "/openfile") for _ in range(10)])
        for sock in idle:
            sock.close()
        time.sleep(1)
        report("/healthz after they closed", [healthz(port) for _ in range(20)])
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main()
