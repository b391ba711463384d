"""Commit-to-converged latency of the daemon: a push until every replica runs the new version.

Two ways the daemon learns of a push, each with the poll interval set to an hour so that only
the trigger under test can start the pass:

- watched: the daemon follows a local bare repository; watchdog sees the branch ref move;
- webhook: the daemon follows the same bare repository over ssh:// (through the harness's sshd,
  so nothing watches it) and a GitHub-style webhook (``X-Hub-Signature-256``) is POSTed to
  ``/webhook`` right after the push returns, as a forge would.

The deployment: 3 replicas (``syncd-test/busybox``, a 1 s health check), RollingUpdate maxSurge 3
maxUnavailable 0, over the three harness engines. Each run commits a new VERSION, takes the time,
pushes (and for webhook, POSTs), then lists the engines every 20 ms until all three replicas
carry the new commit and are healthy and no old one is left. The figure includes the health check's
first interval (1 s): that is part of what a user waits for.

    .venv/bin/python bench/bench_latency.py --harness-dir /tmp/syncd-h-bench [--runs 5]
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
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


def measure(mode: str, handle: HarnessHandle, work_dir: Path, runs: int) -> list[float]:
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
    daemon = DaemonProcess(config, work_dir / "daemon.log").start()
    times = []
    try:
        wait(lambda: converged(clients, sha), timeout_s=180)
        for version in range(1, runs + 1):
            sha = commit(version)
            began = time.perf_counter()
            git(work, "push", "-q", "origin", "main")
            if mode == "webhook":
                post_webhook(port, sha)
            wait(lambda sha=sha: converged(clients, sha))
            times.append(time.perf_counter() - began)
            print(f"  {mode} run {version}: {times[-1]:.2f}s", flush=True)
    finally:
        daemon.stop()
        handle.cleanup()
    return times


def main() -> None:
    args = harness_bench_parser(__doc__, runs=5).parse_args()
    results = {}
    with bench_harness(args.harness_dir, down=args.down) as handle:
        for mode in ("watched", "webhook"):
            with tempfile.TemporaryDirectory(prefix="syncd-latency-") as work_dir:
                results[mode] = measure(mode, handle, Path(work_dir), args.runs)
    for mode, times in results.items():
        print(
            f"{mode}: median {statistics.median(times):.2f}s over {len(times)} pushes "
            f"(min {min(times):.2f}s, max {max(times):.2f}s); {REPLICAS} replicas, "
            "one 1 s health check interval included"
        )


if __name__ == "__main__":
    main()
