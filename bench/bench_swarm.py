"""The overhead syncd adds when it drives a Swarm: the same 20-replica update, in one run,
through syncd's pass and through plain ``docker service update``.

One fresh 1-engine Swarm from ``testkit.swarm`` (started with
``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1``, so Swarm never tries a registry; the engine log is
checked for a pull attempt at the end and the bench fails on any; the ingress overlay is
removed at once). The update bench/bench_rollout.py measures: 20 replicas of the test service
(``syncd-test/busybox:latest``, 1 s health check), maxSurge 4, maxUnavailable 0, v1 -> v2.

- syncd: a repository whose node file is the Swarm (``kind: swarm``); v1 is created untimed,
  then one ``Sync.run`` (load, observe, plan, update, watch) is timed until it returns OK;
- plain: ``docker service create`` of the same service with the update config syncd writes
  (start-first, parallelism 4, delay 0, monitor 3 s, failure action rollback), then ``docker
  service update --env-add VERSION=2`` timed until Swarm says ``completed`` and all 20 tasks
  of v2 run: the same end that syncd's watch waits for.

Runs alternate (syncd, plain, ...) so both see the same machine load; the figure is the ratio
of the medians, and the overhead is that ratio minus one.

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
from syncd.plan.swarm_services import UPDATE_MONITOR_S  # noqa: E402
from syncd.sync.revisions import Revision  # noqa: E402
from syncd.sync.syncing import Sync  # noqa: E402
from testkit.bench import ROLLOUT_REPLICAS, ROLLOUT_STRATEGY, ROLLOUT_SURGE, median_ratio  # noqa: E402
from testkit.harness import BASE_IMAGE  # noqa: E402
from testkit.services import SERVICE_SCRIPT, deployment, service_definition  # noqa: E402
from testkit.swarm import SwarmEngine, SwarmHarness  # noqa: E402

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
    syncd_times: list[float] = []
    plain_times: list[float] = []
    swarm.up()
    try:
        with tempfile.TemporaryDirectory() as work:
            for run in range(args.runs):
                syncd_times.append(syncd_rollout(swarm, Path(work), run))
                plain_times.append(plain_rollout(swarm))
                print(
                    f"run {run + 1}: syncd {syncd_times[-1]:.2f}s  plain {plain_times[-1]:.2f}s",
                    flush=True,
                )
        pulls = swarm.pull_attempts()
    finally:
        swarm.down()
    if pulls:
        raise SystemExit("the engine tried to pull an image:\n" + "\n".join(pulls[:5]))
    syncd_median, plain_median, ratio = median_ratio(syncd_times, plain_times)
    print(
        f"{REPLICAS} replicas, maxSurge {SURGE}, maxUnavailable 0, 1-engine Swarm, median of "
        f"{args.runs}: syncd {syncd_median:.2f}s, plain docker service update "
        f"{plain_median:.2f}s, overhead {100 * (ratio - 1):+.1f}% (no pull attempt in the log)"
    )


if __name__ == "__main__":
    main()
