"""Rollout speed against Swarm: the same 20-replica update, one engine, in the same run.

The update bench/bench_rollout.py measures (20 replicas, maxSurge 4, maxUnavailable 0, image
``syncd-test/busybox:latest``, the same command and a 1 s health check) done twice on one fresh
harness-style engine (own socket and data root, ``--bridge=none --iptables=false``):

- Swarm: ``docker swarm init --advertise-addr 127.0.0.1``, a service of 20 replicas on the host
  network (``--network host --endpoint-mode dnsrr``, no published port), then ``docker service
  update --env-add VERSION=2 --update-parallelism 4 --update-order start-first --update-delay 0s
  --update-monitor 0s``; timed until all 20 tasks of the new version run (Swarm reports a task
  with a health check as running once it is healthy);
- syncd: plan + ``apply_plan`` of v1 -> v2 of the same deployment on the same engine.

Runs alternate (syncd, swarm, syncd, swarm, ...) so both see the same machine load; the figure is
the ratio of the medians. The ingress overlay network that ``swarm init`` creates is removed at
once (nothing is published, so nothing uses it); afterwards ``docker swarm leave --force``, the
``docker_gwbridge`` network is removed if it appeared, and the engine is stopped.

    .venv/bin/python bench/bench_swarm.py [--dir /tmp/syncd-swarm] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.spec.models import NodeSpec  # noqa: E402
from syncd.state import LABEL_MANAGED  # noqa: E402
from testkit.bench import (  # noqa: E402
    ROLLOUT_REPLICAS,
    ROLLOUT_SURGE,
    median_ratio,
    timed_rolling_update,
)
from testkit.harness import BASE_IMAGE, Harness  # noqa: E402
from testkit.repo import TestRepo  # noqa: E402
from testkit.services import SERVICE_SCRIPT  # noqa: E402
from tests.apply.applykit import apply_repo  # noqa: E402  (the pass the apply tests run)

REPLICAS, SURGE = ROLLOUT_REPLICAS, ROLLOUT_SURGE
SERVICE = "syncd-bench-swarm"
POLL_S = 0.05
NODE_ID = "node-a"


def docker_cli(socket: Path, *args: str) -> str:
    docker_bin = shutil.which("docker") or "/usr/bin/docker"
    done = subprocess.run(
        [docker_bin, "-H", f"unix://{socket}", *args], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def remove_managed(client: docker.DockerClient) -> None:
    for summary in client.api.containers(all=True, filters={"label": f"{LABEL_MANAGED}=true"}):
        client.api.remove_container(summary["Id"], force=True)


def syncd_rollout(node: NodeSpec, client: docker.DockerClient, work: Path, run: int) -> float:
    """Seconds for syncd to plan and roll v1 -> v2 on the one engine (v1 set up untimed)."""
    repo = TestRepo(work / f"repo-{run}", [node])
    with NodePool([node]) as pool:
        elapsed = timed_rolling_update(repo, pool, apply_repo)
    remove_managed(client)
    return elapsed


def new_tasks_running(client: docker.DockerClient, version: str) -> int:
    """Tasks of the service at ``version`` that Swarm reports running (healthy)."""
    count = 0
    for task in client.api.tasks(filters={"service": SERVICE, "desired-state": "running"}):
        env = task["Spec"]["ContainerSpec"].get("Env") or []
        if f"VERSION={version}" in env and task["Status"]["State"] == "running":
            count += 1
    return count


def wait_tasks(client: docker.DockerClient, version: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while new_tasks_running(client, version) < REPLICAS:
        if time.monotonic() > deadline:
            raise RuntimeError(f"swarm did not run {REPLICAS} tasks of VERSION={version}")
        time.sleep(POLL_S)


def swarm_rollout(socket: Path, client: docker.DockerClient) -> float:
    """Seconds for Swarm to update the service v1 -> v2 (v1 set up untimed)."""
    docker_cli(
        socket, "service", "create", "--detach", "--quiet", "--no-resolve-image",
        "--name", SERVICE, "--replicas", str(REPLICAS),
        "--network", "host", "--endpoint-mode", "dnsrr",
        "--env", "VERSION=1", "--env", "MODE=ok",
        "--health-cmd", "cat /tmp/ready", "--health-interval", "1s",
        "--health-timeout", "1s", "--health-retries", "1",
        "--stop-grace-period", "10s",
        BASE_IMAGE, "sh", "-c", SERVICE_SCRIPT,
    )  # fmt: skip
    wait_tasks(client, "1")
    began = time.perf_counter()
    docker_cli(
        socket, "service", "update", "--detach", "--quiet", "--no-resolve-image",
        "--env-add", "VERSION=2",
        "--update-parallelism", str(SURGE), "--update-order", "start-first",
        "--update-delay", "0s", "--update-monitor", "0s",
        SERVICE,
    )  # fmt: skip
    wait_tasks(client, "2")
    elapsed = time.perf_counter() - began
    docker_cli(socket, "service", "rm", SERVICE)
    deadline = time.monotonic() + 120
    gone = {"label": f"com.docker.swarm.service.name={SERVICE}"}
    while client.api.containers(all=True, filters=gone):  # list alone: no inspect race
        if time.monotonic() > deadline:
            raise RuntimeError("the service's containers did not go away")
        time.sleep(0.2)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", default="/tmp/syncd-swarm", help="engine directory (short path)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    engine = Harness(args.dir)
    engine.root.mkdir(parents=True, exist_ok=True)
    engine.start_engine(NODE_ID)  # no TLS port: harness.json does not exist here
    socket = engine.engine(NODE_ID).socket
    node = NodeSpec(id=NODE_ID, url=f"unix://{socket}", cluster="test", zone="z1")
    client = docker.DockerClient(base_url=f"unix://{socket}", timeout=60)
    syncd_times: list[float] = []
    swarm_times: list[float] = []
    try:
        docker_cli(socket, "swarm", "init", "--advertise-addr", "127.0.0.1")
        # Nothing is published, so the ingress overlay (a private range) has no use: remove it.
        for network in client.networks.list(names=["ingress"]):
            network.remove()
        with tempfile.TemporaryDirectory() as work:
            for run in range(args.runs):
                syncd_times.append(syncd_rollout(node, client, Path(work), run))
                swarm_times.append(swarm_rollout(socket, client))
                print(
                    f"run {run + 1}: syncd {syncd_times[-1]:.2f}s  swarm {swarm_times[-1]:.2f}s",
                    flush=True,
                )
        networks = sorted(n.name for n in client.networks.list())
        print(f"networks on the engine after the runs: {', '.join(networks)}")
    finally:
        try:
            subprocess.run(
                [shutil.which("docker") or "docker", "-H", f"unix://{socket}", "swarm", "leave",
                 "--force"],
                capture_output=True, timeout=120,
            )  # fmt: skip
            for network in client.networks.list(names=["docker_gwbridge"]):
                network.remove()
        finally:
            client.close()
            engine.down()
    syncd_median, swarm_median, ratio = median_ratio(syncd_times, swarm_times)
    print(
        f"{REPLICAS} replicas, maxSurge {SURGE}, maxUnavailable 0, one engine, median of "
        f"{args.runs}: syncd {syncd_median:.2f}s, swarm {swarm_median:.2f}s, "
        f"ratio syncd/swarm {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
