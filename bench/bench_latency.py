"""Commit-to-first-change and commit-to-converged latency of the daemon: from a push until the
first container of the new version is created, and until every replica runs it.

Two ways the daemon learns of a push, each with the poll interval set to an hour so that only
the trigger under test can start the pass:

- watched: the daemon follows a local bare repository; watchdog sees the branch ref move;
- webhook: the daemon follows the same bare repository over ssh:// (through the harness's sshd,
  so nothing watches it) and a GitHub-style webhook (``X-Hub-Signature-256``) is POSTed to
  ``/webhook`` right after the push returns, as a forge would.

The deployment: 3 replicas (``syncd-test/busybox``, a 1 s health check), RollingUpdate maxSurge 3
maxUnavailable 0, over the three harness engines. Each run commits a new VERSION, takes the time,
pushes (and for webhook, POSTs), then lists the engines every 20 ms until all three replicas
carry the new commit and are healthy and no old one is left. The converged figure includes the
health check's first interval (1 s): that is part of what a user waits for. The first change is
read afterwards from the engines' own events (``GET /events`` between the push and convergence,
``create`` events of the deployment's containers at the new commit, ``timeNano``): the engine's
clock, the same host's, so no polling interval is in that figure. Both are counted from the
moment the bench starts ``git push`` (the push itself, about 20 ms here, is included).

    .venv/bin/python bench/bench_latency.py --harness-dir /tmp/syncd-h-bench [--runs 5]

``--modes webhook`` measures one trigger only. ``--baseline DIR`` (a tree of another commit, e.g. ``git archive C | tar -x -C DIR``) measures
that tree's daemon too, alternating with this one's (``--rounds`` times each, ``--runs`` pushes
a round), so both sides see the same machine load.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.state import LABEL_COMMIT, LABEL_DEPLOYMENT  # noqa: E402
from testkit.bench import bare_repository, bench_harness, git, harness_bench_parser  # noqa: E402
from testkit.daemon_process import DaemonProcess  # noqa: E402
from testkit.harness import HarnessHandle, free_port  # noqa: E402
from testkit.service_yaml import SERVICE_DEFINITION, service_deployment  # noqa: E402

REPLICAS = 3
DEPLOYMENT = "depl_latency"
SECRET = "bench-webhook-secret"
MODES = ("watched", "webhook")


def converged(clients: dict[str, docker.DockerClient], sha: str) -> bool:
    """Every replica at ``sha``, running and healthy, and nothing older left (one list call
    per engine)."""
    seen = []
    for client in clients.values():
        seen += client.api.containers(
            all=True, filters={"label": f"{LABEL_DEPLOYMENT}={DEPLOYMENT}"}
        )
    return len(seen) == REPLICAS and all(
        c["Labels"][LABEL_COMMIT] == sha and c["State"] == "running" and "(healthy)" in c["Status"]
        for c in seen
    )


def first_create(clients: dict[str, docker.DockerClient], sha: str, since: float) -> float:
    """The wall-clock time (seconds since the epoch) of the first ``create`` event of a container
    of the deployment at ``sha``, on any engine, since ``since``."""
    times = []
    until = time.time()
    for client in clients.values():
        events = client.api.events(
            since=int(since),  # whole seconds: the events API's resolution for ``since``
            until=int(until) + 1,
            filters={"type": "container", "event": "create", "label": f"{LABEL_COMMIT}={sha}"},
            decode=True,
        )
        times += [int(event["timeNano"]) / 1e9 for event in events]
    if not times:
        raise RuntimeError(f"no engine reported a container created at {sha[:12]}")
    return min(t for t in times if t >= since)


def wait(condition, timeout_s: float = 120.0, poll_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("gave up waiting")
        time.sleep(poll_s)


def post_webhook(port: int, sha: str) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/webhook",
            body=body,
            headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
        )
        response = conn.getresponse()
        response.read()
        if response.status != 202:
            raise RuntimeError(f"webhook answered {response.status}")
    finally:
        conn.close()


@contextlib.contextmanager
def daemon_code(tree: Path | None):
    """Daemons started inside run ``tree``'s syncd (None: this tree's): ``python -m`` looks in
    the working directory first, then PYTHONPATH."""
    if tree is None:
        yield
        return
    before_cwd, before_path = Path.cwd(), os.environ.get("PYTHONPATH")
    os.chdir(tree)
    os.environ["PYTHONPATH"] = str(tree)
    try:
        yield
    finally:
        os.chdir(before_cwd)
        if before_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = before_path


def measure(
    mode: str, handle: HarnessHandle, work_dir: Path, runs: int, tree: Path | None = None
) -> tuple[list[float], list[float]]:
    """(seconds from push to the first container created, seconds from push to converged)."""
    bare, work = bare_repository(work_dir)
    (work / "definitions").mkdir()
    (work / "deployments").mkdir()
    (work / "definitions" / "def_svc.yaml").write_text(SERVICE_DEFINITION)

    def commit(version: int) -> str:
        (work / "deployments" / f"{DEPLOYMENT}.yaml").write_text(
            service_deployment(DEPLOYMENT, REPLICAS, str(version), max_surge=REPLICAS)
        )
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"v{version}")
        return git(work, "rev-parse", "HEAD")

    port = free_port()
    state = handle.state
    repo: dict[str, object] = {"url": str(bare), "branch": "main", "pollInterval": "1h"}
    extra: dict[str, object] = {}
    if mode == "webhook":
        ssh = next(n for n in state["nodes"] if "ssh" in n["transports"])["transports"]["ssh"]
        repo.update(
            url=f"ssh://root@127.0.0.1:{state['sshd']['port']}{bare}",
            sshKey=ssh["ssh"]["identity_file"],
            knownHosts=ssh["ssh"]["known_hosts"],
        )
        secret_file = work_dir / "webhook-secret"
        secret_file.write_text(SECRET + "\n")
        secret_file.chmod(0o600)
        extra["webhook"] = {"githubSecretFile": str(secret_file)}
    config = work_dir / "syncd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "repo": repo,
                "stateDir": str(work_dir / "state"),
                "listen": f"127.0.0.1:{port}",
                "reconcileInterval": "1h",
                "nodes": [
                    {"id": n.id, "url": n.url, "cluster": n.cluster, "zone": n.zone}
                    for n in handle.nodes
                ],
                **extra,
            },
            sort_keys=False,
        )
    )
    clients = {n.id: handle.docker(n.id) for n in handle.nodes}
    sha = commit(0)
    git(work, "push", "-q", "-u", "origin", "main")
    with daemon_code(tree):
        daemon = DaemonProcess(config, work_dir / "daemon.log").start()
    firsts: list[float] = []
    times: list[float] = []
    try:
        wait(lambda: converged(clients, sha), timeout_s=180)
        for version in range(1, runs + 1):
            sha = commit(version)
            began, began_wall = time.perf_counter(), time.time()
            git(work, "push", "-q", "origin", "main")
            pushed = time.perf_counter() - began
            if mode == "webhook":
                post_webhook(port, sha)
            wait(lambda sha=sha: converged(clients, sha))
            times.append(time.perf_counter() - began)
            firsts.append(first_create(clients, sha, began_wall) - began_wall)
            print(
                f"  {mode}{' (baseline)' if tree else ''} run {version}: first container created {firsts[-1]:.3f}s, "
                f"converged {times[-1]:.2f}s (push {pushed:.3f}s)",
                flush=True,
            )
    finally:
        daemon.stop()
        handle.cleanup()
    return firsts, times


def main() -> None:
    parser = harness_bench_parser(__doc__, runs=5)
    parser.add_argument("--baseline", type=Path, help="a tree of another commit to compare")
    parser.add_argument("--rounds", type=int, default=2, help="rounds each with --baseline")
    parser.add_argument(
        "--modes", nargs="+", choices=MODES, default=list(MODES), help="the triggers to measure"
    )
    args = parser.parse_args()
    sides: list[tuple[str, Path | None]] = [("", None)]
    if args.baseline is not None:
        sides = [(" (baseline)", args.baseline.absolute()), ("", None)] * args.rounds
    results: dict[str, tuple[list[float], list[float]]] = {}
    with bench_harness(args.harness_dir, down=args.down) as handle:
        for mode in args.modes:
            for label, tree in sides:
                with tempfile.TemporaryDirectory(prefix="syncd-latency-") as work_dir:
                    firsts, times = measure(mode, handle, Path(work_dir), args.runs, tree)
                kept = results.setdefault(mode + label, ([], []))
                kept[0].extend(firsts)
                kept[1].extend(times)
    for mode, (firsts, times) in results.items():
        print(
            f"{mode}: first container created median {statistics.median(firsts):.3f}s "
            f"(min {min(firsts):.3f}s, max {max(firsts):.3f}s); converged median "
            f"{statistics.median(times):.2f}s (min {min(times):.2f}s, max {max(times):.2f}s) "
            f"over {len(times)} pushes; {REPLICAS} replicas, one 1 s health check interval "
            "included"
        )


if __name__ == "__main__":
    main()
