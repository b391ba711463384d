"""syncd against Swarm on one engine, in one run: the same 20-replica update three ways.

One fresh 1-engine Swarm from ``testkit.swarm`` (started with
``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1``, so Swarm never tries a registry; the engine log is
checked for a pull attempt at the end and the bench fails on any; the ingress overlay is
removed at once). The update bench/bench_rollout.py measures: 20 replicas of the test service
(``syncd-test/busybox:latest``, 1 s health check), maxSurge 4, maxUnavailable 0, v1 -> v2.

- syncd: syncd's own RollingUpdate (``Sync.run``: load, observe, plan, apply) with the same
  engine as a plain Docker node (``kind: node`` at its socket; the containers are not Swarm
  tasks), v1 created untimed, the v2 pass timed until it returns OK: the issue's comparison;
- plain: ``docker service create`` of the same service with the update config syncd writes
  (start-first, parallelism 4, delay 0, monitor 3 s, failure action rollback), then ``docker
  service update --env-add VERSION=2`` timed until Swarm says ``completed`` and all 20 tasks
  of v2 run;
- syncd driving Swarm: a repository whose node file is the Swarm (``kind: swarm``); one
  ``Sync.run`` (load, observe, plan, update, watch) timed until it returns OK: the overhead
  syncd adds on top of Swarm.

Runs alternate (syncd, plain, syncd driving Swarm, ...) so all see the same machine load; the
figures are ratios of the medians.

    .venv/bin/python bench/bench_swarm.py [--dir /tmp/sw-bench] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.apply.report import ApplyOptions  # noqa: E402
from syncd.nodes.pool import NodePool  # noqa: E402
from syncd.plan.swarm_services import UPDATE_MONITOR_S  # noqa: E402
from syncd.spec.models import NodeSpec  # noqa: E402
from syncd.sync.revisions import Revision  # noqa: E402
from syncd.sync.syncing import Sync  # noqa: E402
from testkit.bench import (  # noqa: E402
    ROLLOUT_REPLICAS,
    ROLLOUT_STRATEGY,
    ROLLOUT_SURGE,
    median_ratio,
    timed_rolling_update,  # noqa: E402
)
from testkit.harness import BASE_IMAGE  # noqa: E402
from testkit.repo import TestRepo  # noqa: E402
from testkit.services import SERVICE_SCRIPT, deployment, service_definition  # noqa: E402
from testkit.swarm import SwarmEngine, SwarmHarness  # noqa: E402
from tests.apply.applykit import apply_repo  # noqa: E402  (the pass the apply tests run)

REPLICAS, SURGE = ROLLOUT_REPLICAS, ROLLOUT_SURGE
PLAIN = "plain-bench"
POLL_S = 0.05


def write_repo(root: Path, swarm: SwarmHarness, version: str) -> None:
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "nodes" / "swarm.yaml").write_text(yaml.safe_dump(swarm.node_document()))
    (root / "definitions" / "def.yaml").write_text(yaml.safe_dump(service_definition()))
    doc = deployment("syncd-bench", REPLICAS, version=version, strategy=ROLLOUT_STRATEGY)
    doc["targetRegions"] = [{"cluster": swarm.cluster}]
    (root / "deployments" / "bench.yaml").write_text(yaml.safe_dump(doc))


def executor_rollout(swarm: SwarmHarness, work: Path, run: int) -> float:
    """Seconds of syncd's own RollingUpdate v1 -> v2 with the Swarm's engine as a plain node
    (v1 set up untimed; its containers removed after)."""
    node = NodeSpec(id="swarm-engine", url=swarm.manager.url, cluster="bench", zone="z1")
    repo = TestRepo(work / f"exec-{run}", [node])
    with NodePool([node]) as pool:
        elapsed = timed_rolling_update(repo, pool, apply_repo, deployment_id="depl_exec")
    with swarm.manager.client() as client:
        for container in client.containers.list(
            all=True, filters={"label": "io.syncd.deployment=depl_exec"}
        ):
            container.remove(force=True)
    return elapsed


def syncd_rollout(swarm: SwarmHarness, work: Path, run: int) -> float:
    """Seconds of one syncd pass rolling v1 -> v2 on the Swarm (v1 set up untimed)."""
    root = work / f"repo-{run}"
    options = ApplyOptions(progress_deadline_s=300)
    with Sync(options=options) as sync:
        write_repo(root, swarm, "1")
        first = sync.run(Revision(root))
        assert first.report is not None and first.report.ok, first.report
        write_repo(root, swarm, "2")
        began = time.perf_counter()
        second = sync.run(Revision(root))
        elapsed = time.perf_counter() - began
        assert second.report is not None and second.report.ok, second.report
    swarm.remove_services()
    return elapsed


def plain_done(manager: SwarmEngine, version: str) -> bool:
    """Swarm says the update completed and every task of ``version`` runs (healthy)."""
    with manager.client() as client:
        service = client.api.inspect_service(PLAIN)
        state = (service.get("UpdateStatus") or {}).get("State", "completed")
        running = 0
        for task in client.api.tasks(filters={"service": PLAIN, "desired-state": "running"}):
            env = task["Spec"]["ContainerSpec"].get("Env") or []
            if f"VERSION={version}" in env and task["Status"]["State"] == "running":
                running += 1
    return state == "completed" and running == REPLICAS


def wait_plain(manager: SwarmEngine, version: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not plain_done(manager, version):
        if time.monotonic() > deadline:
            raise RuntimeError(f"swarm did not run {REPLICAS} tasks of VERSION={version}")
        time.sleep(POLL_S)


def plain_rollout(swarm: SwarmHarness) -> float:
    """Seconds for plain ``docker service update`` v1 -> v2 with syncd's update config."""
    manager = swarm.manager
    monitor = f"{UPDATE_MONITOR_S:g}s"
    manager.cli(
        "service", "create", "--detach", "--quiet", "--no-resolve-image",
        "--name", PLAIN, "--replicas", str(REPLICAS), "--endpoint-mode", "dnsrr",
        "--env", "VERSION=1", "--env", "MODE=ok",
        "--health-cmd", "cat /tmp/ready", "--health-interval", "1s",
        "--health-timeout", "3s", "--health-retries", "2",
        "--update-parallelism", str(SURGE), "--update-order", "start-first",
        "--update-delay", "0s", "--update-monitor", monitor,
        "--update-failure-action", "rollback", "--update-max-failure-ratio", "0",
        BASE_IMAGE, "sh", "-c", SERVICE_SCRIPT,
    )  # fmt: skip
    wait_plain(manager, "1")
    began = time.perf_counter()
    manager.cli("service", "update", "--detach", "--quiet", "--no-resolve-image",
                "--env-add", "VERSION=2", PLAIN)  # fmt: skip
    wait_plain(manager, "2")
    elapsed = time.perf_counter() - began
    swarm.remove_services()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", default="/tmp/sw-bench", help="engine directory (short path)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    swarm = SwarmHarness(args.dir, size=1, first_address=71, data_path_port=4820)
    executor_times: list[float] = []
    syncd_times: list[float] = []
    plain_times: list[float] = []
    swarm.up()
    try:
        with tempfile.TemporaryDirectory() as work:
            for run in range(args.runs):
                executor_times.append(executor_rollout(swarm, Path(work), run))
                plain_times.append(plain_rollout(swarm))
                syncd_times.append(syncd_rollout(swarm, Path(work), run))
                print(
                    f"run {run + 1}: syncd {executor_times[-1]:.2f}s  swarm {plain_times[-1]:.2f}s"
                    f"  syncd driving swarm {syncd_times[-1]:.2f}s",
                    flush=True,
                )
        pulls = swarm.pull_attempts()
    finally:
        swarm.down()
    if pulls:
        raise SystemExit("the engine tried to pull an image:\n" + "\n".join(pulls[:5]))
    executor_median, plain_median, ratio = median_ratio(executor_times, plain_times)
    driving_median, _, driving_ratio = median_ratio(syncd_times, plain_times)
    print(
        f"{REPLICAS} replicas, maxSurge {SURGE}, maxUnavailable 0, one engine, median of "
        f"{args.runs}: syncd {executor_median:.2f}s, swarm {plain_median:.2f}s, ratio "
        f"syncd/swarm {ratio:.2f}; syncd driving swarm {driving_median:.2f}s, overhead "
        f"{100 * (driving_ratio - 1):+.1f}% (no pull attempt in the log)"
    )


if __name__ == "__main__":
    main()
