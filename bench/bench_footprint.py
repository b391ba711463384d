"""The daemon's footprint with 100 deployments: idle RSS and CPU, RSS over 1,000 passes, and the
Docker API calls one idle pass makes.

100 deployments of one replica each (a sleeping busybox, no network) over the three harness
engines, in a bare Git repository the daemon follows.

1. idle, as a process: ``syncd daemon`` with the default intervals (poll 60 s, reconcile 15 s)
   converges, then sits for ``--idle`` seconds; its RSS (``/proc/PID/status`` VmRSS) and the CPU
   time it used (``/proc/PID/stat`` utime + stime) over that window, as a share of one core;
2. passes, in this process: a ``Daemon`` over the same repository runs ``--passes`` passes
   driven directly (no timer: 10,000 passes take minutes, not the 42 hours of the default
   intervals), one fetch pass in every ``--fetch-every`` (4: the default intervals' ratio, poll
   60 s to reconcile 15 s), the others reconcile passes; RSS at checkpoints, and its growth from
   pass 100 to the last. Every Docker API request the daemon's clients send is counted (docker-py's
   ``APIClient.send`` wrapped: the transport every node driver call goes through), so the calls
   of one idle reconcile pass are listed by method and path.

    .venv/bin/python bench/bench_footprint.py --harness-dir /tmp/syncd-h-bench [--idle 60]
        [--passes 10000] [--fetch-every 4]
"""

from __future__ import annotations

import collections
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.daemon.config import parse_config  # noqa: E402
from syncd.daemon.loop import Daemon as InProcessDaemon  # noqa: E402
from syncd.daemon.triggers import Trigger  # noqa: E402
from syncd.state import LABEL_MANAGED  # noqa: E402
from testkit.bench import (  # noqa: E402
    bare_repository,
    bench_harness,
    git,
    harness_bench_parser,
    rss_kib,
)
from testkit.daemon_process import DaemonProcess  # noqa: E402
from testkit.harness import BASE_IMAGE, HarnessHandle  # noqa: E402

DEPLOYMENTS = 100
DEFINITION = f"""\
id: def_sleeper
image: {{name: "{BASE_IMAGE}", internalPorts: []}}
command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
network: "none"
"""


def make_repo(root: Path) -> Path:
    bare, work = bare_repository(root)
    (work / "definitions").mkdir()
    (work / "deployments").mkdir()
    (work / "definitions" / "def_sleeper.yaml").write_text(DEFINITION)
    for i in range(DEPLOYMENTS):
        (work / "deployments" / f"depl_{i:03d}.yaml").write_text(
            f"id: depl_{i:03d}\ndefinitionId: def_sleeper\nreplicas: 1\n"
            "strategy: {type: RollingUpdate, maxSurge: 1, maxUnavailable: 0}\n"
        )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "100 deployments")
    git(work, "push", "-q", "origin", "main")
    return bare


def config_text(bare: Path, state: Path, handle: HarnessHandle, listen: str) -> str:
    nodes = "".join(
        f"  - {{id: {n.id}, url: '{n.url}', cluster: {n.cluster}, zone: {n.zone}}}\n"
        for n in handle.nodes
    )
    return f"repo: {{url: {bare}, branch: main}}\nstateDir: {state}\nlisten: '{listen}'\nnodes:\n{nodes}"


def running_managed(handle: HarnessHandle) -> int:
    return sum(
        len(handle.docker(n.id).api.containers(filters={"label": f"{LABEL_MANAGED}=true"}))
        for n in handle.nodes
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_process(handle: HarnessHandle, root: Path, bare: Path, idle_s: float) -> None:
    config = root / "idle.yaml"
    config.write_text(config_text(bare, root / "state-idle", handle, ""))
    daemon = DaemonProcess(config, root / "idle.log").start()
    assert daemon.process is not None
    pid = daemon.process.pid
    try:
        deadline = time.monotonic() + 600
        while running_managed(handle) < DEPLOYMENTS:
            if time.monotonic() > deadline or daemon.process.poll() is not None:
                raise RuntimeError(f"did not converge: {daemon.output()[-2000:]}")
            time.sleep(0.5)
        time.sleep(20)  # let the last health settles and the first reconcile pass go by
        rss_start, cpu_start, began = rss_kib(pid), cpu_seconds(pid), time.monotonic()
        samples = []
        while time.monotonic() - began < idle_s:
            time.sleep(5)
            samples.append(rss_kib(pid))
        used = cpu_seconds(pid) - cpu_start
        window = time.monotonic() - began
        print(
            f"idle process, {DEPLOYMENTS} deployments x 1 replica, 3 engines, poll 60 s, "
            f"reconcile 15 s, {window:.0f} s window: RSS {rss_start / 1024:.1f} MiB at start, "
            f"{samples[-1] / 1024:.1f} MiB at end (max {max(samples) / 1024:.1f}); CPU "
            f"{used:.2f} s = {100 * used / window:.2f}% of one core",
            flush=True,
        )
    finally:
        daemon.stop()


class CallCounter:
    """Counts every request docker-py's APIClient sends, by method and path."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self._original = docker.APIClient.send

    def __enter__(self) -> CallCounter:
        counter = self

        def send(client, request, **kwargs):  # type: ignore[no-untyped-def]
            path = re.sub(r"^http\+docker://[^/]+", "", request.url.split("?", 1)[0])
            path = re.sub(r"/v1\.\d+", "", path)
            path = re.sub(r"/containers/[0-9a-f]{12,}", "/containers/ID", path)
            counter.calls[f"{request.method} {path}"] += 1
            return counter._original(client, request, **kwargs)

        docker.APIClient.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc_info: object) -> None:
        docker.APIClient.send = self._original  # type: ignore[method-assign]

    def take(self) -> collections.Counter[str]:
        taken, self.calls = self.calls, collections.Counter()
        return taken


def passes_in_process(
    handle: HarnessHandle, root: Path, bare: Path, passes: int, fetch_every: int
) -> None:
    settings = parse_config(
        config_text(bare, root / "state-passes", handle, "").encode(), "bench.yaml", base_dir=root
    )
    daemon = InProcessDaemon(settings)
    daemon.lock.acquire()
    with CallCounter() as counter:
        try:
            daemon._pass(Trigger(fetch=True, reasons=("bench",)))
            daemon._wait_for_jobs(timeout=300)
            for _ in range(3):  # settle: the pass after a rollout reports and notes once
                daemon._pass(Trigger(fetch=False, reasons=("bench",)))
            counter.take()
            daemon._pass(Trigger(fetch=False, reasons=("bench",)))
            idle_calls = counter.take()
            print(
                f"Docker API requests in one idle reconcile pass ({len(handle.nodes)} nodes, "
                f"{DEPLOYMENTS} deployments): {sum(idle_calls.values())}"
            )
            for call, count in sorted(idle_calls.items()):
                print(f"  {count:>4}  {call}")
            daemon._pass(Trigger(fetch=True, reasons=("bench",)))
            fetch_calls = counter.take()
            print(f"... and in one idle fetch pass: {sum(fetch_calls.values())}")
            checkpoints = {1, 10, 100, 1000, passes // 2, passes}
            rss_at: dict[int, int] = {}
            durations: dict[str, list[float]] = {"fetch": [], "reconcile": []}
            print(f"{'pass':>6} {'RSS KiB':>9}", flush=True)
            for number in range(1, passes + 1):
                fetch = number % fetch_every == 1 or fetch_every == 1
                started = time.perf_counter()
                daemon._pass(Trigger(fetch=fetch, reasons=("bench",)))
                durations["fetch" if fetch else "reconcile"].append(time.perf_counter() - started)
                if number in checkpoints:
                    rss_at[number] = rss_kib()
                    print(f"{number:>6} {rss_at[number]:>9}", flush=True)
            total = counter.take()
            print(
                f"Docker API requests over the {passes} passes: {sum(total.values())} "
                f"({sum(total.values()) / passes:.1f} a pass)"
            )
            if 100 in rss_at and passes > 100:
                grown = rss_at[passes] - rss_at[100]
                print(
                    f"RSS growth from pass 100 to {passes}: {grown} KiB "
                    f"({grown * 1024 / (passes - 100):.1f} bytes a pass)"
                )
            for kind, values in durations.items():
                print(
                    f"{kind} pass: median {statistics.median(values) * 1000:.1f} ms, "
                    f"max {max(values) * 1000:.1f} ms over {len(values)} passes"
                )
        finally:
            daemon._shutdown_parts()
            daemon.lock.release()


def main() -> None:
    parser = harness_bench_parser(__doc__)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window, seconds")
    parser.add_argument("--passes", type=int, default=10_000)
    parser.add_argument(
        "--fetch-every", type=int, default=4, help="one fetch pass in every N (default 4)"
    )
    args = parser.parse_args()
    with (
        bench_harness(args.harness_dir, down=args.down) as handle,
        tempfile.TemporaryDirectory(prefix="syncd-footprint-") as tmp,
    ):
        root = Path(tmp)
        bare = make_repo(root)
        idle_process(handle, root, bare, args.idle)
        # the in-process daemon finds the containers the process left: nothing to roll out
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        passes_in_process(handle, root, bare, args.passes, args.fetch_every)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
