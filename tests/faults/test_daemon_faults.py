"""The daemon under faults, end to end: a real bare Git repository, the harness engines, and the
daemon as a process.

- SIGKILL at seeded random instants across several rollouts: after each restart it converges,
  with no duplicate or orphan container, and the RollingUpdate bounds held (engines sampled
  every 100 ms) outside the killed step;
- one node's engine stopped mid-rollout: the other deployment proceeds, the affected one reports
  Error naming the node, its replicas run elsewhere, and when the engine returns its strays go;
- the Git remote moved away: the running state stays, the status says the source is stale, and
  the daemon recovers by itself;
- a damaged checkout (deleted index, stale lock file): recovered by cloning again;
- the status file on a full filesystem: a clear logged error, never a truncated status file.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

import pytest

from syncd.state import LABEL_COMMIT
from testkit.harness import Harness
from testkit.tmpfs import tiny_tmpfs_at
from tests.apply.applykit import Sampler, sockets_of
from tests.daemon.helpers import read_json, wait_for
from tests.faults.faultkit import (
    SERVICE_DEFINITION,
    TRANSPORTS,
    Daemon,
    converged,
    deployment_file,
    managed,
    node_entries,
    service_deployment,
    status_of,
    wait_for_status,
)

pytestmark = pytest.mark.faults

DEFINITION_FILE = "definitions/def_svc.yaml"

# SYNCD_FAULTS_SEED / SYNCD_FAULTS_ROLLOUTS replay a failure or run longer by hand.
SEED = int(os.environ.get("SYNCD_FAULTS_SEED", "8"))
ROLLOUTS = int(os.environ.get("SYNCD_FAULTS_ROLLOUTS", "10"))


def commit_depl_a_v1(repo, replicas: int) -> str:
    """Version "1" of depl_a, of the test service's definition; the commit's sha."""
    return repo.commit(
        {
            DEFINITION_FILE: SERVICE_DEFINITION,
            deployment_file("depl_a"): service_deployment("depl_a", replicas, "1"),
        },
        "v1",
    )


# --------------------------------------------------------------------------- SIGKILL


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sigkill_at_random_instants_across_rollouts(
    repo, make_config, engines, tmp_path, transport
):
    replicas, surge = 4, 2
    rng = random.Random(SEED)
    config = make_config(nodes=node_entries(engines, transport))
    # every rollout over unix; a few over ssh:// (node-b) and TCP+TLS (node-c), which cost more
    rollouts = ROLLOUTS if transport == "unix" else min(ROLLOUTS, 3)
    log = tmp_path / "daemon.log"
    status_path = tmp_path / "state" / "status.json"
    sha = repo.commit(
        {
            DEFINITION_FILE: SERVICE_DEFINITION,
            deployment_file("depl_roll"): service_deployment(
                "depl_roll", replicas, "0", max_surge=surge
            ),
        },
        "v0",
    )
    daemon = Daemon(config, log).start()
    killed_steps: list[tuple[float, float]] = []  # (killed at, restarted daemon's next pass done)
    try:
        wait_for(lambda: converged(engines, "depl_roll", sha, replicas), 90, "v0")
        # healthy before the sampler starts (bounds count healthy instances; a fresh v0 is not)
        wait_for(
            lambda: (s := status_of(status_path, "depl_roll")) and s["status"] == "OK",
            60,
            "v0 OK",
        )
        with Sampler(sockets_of(engines), "depl_roll") as sampler:
            for version in range(1, rollouts + 1):
                sha = repo.commit(
                    {
                        deployment_file("depl_roll"): service_deployment(
                            "depl_roll", replicas, str(version), max_surge=surge
                        )
                    },
                    f"v{version}",
                )
                # Somewhere between "not noticed yet" and "nearly done" (a 1 s poll, ~1 s a step).
                time.sleep(rng.uniform(0.0, 3.5))
                killed_at = time.monotonic()
                daemon.kill()
                status_path.unlink(missing_ok=True)
                daemon = Daemon(config, log).start()
                wait_for(status_path.exists, 60, "the restarted daemon's first pass")
                killed_steps.append((killed_at, time.monotonic()))
                wait_for(
                    lambda sha=sha: converged(engines, "depl_roll", sha, replicas),
                    90,
                    f"v{version} after the kill",
                )
                # no orphan: nothing of the deployment is left but the converged replicas
                assert len(managed(engines, "depl_roll")) == replicas
    finally:
        daemon.stop()
    assert daemon.process is not None and daemon.process.returncode == 0, log.read_text()[-3000:]

    def in_killed_step(at: float) -> bool:
        return any(start <= at <= end for start, end in killed_steps)

    checked = [
        (at, seen)
        for at, seen in zip(sampler.times, sampler.samples, strict=True)
        if not in_killed_step(at)
    ]
    if os.environ.get("SYNCD_FAULTS_DUMP"):  # a timeline for `pytest -s` when a bound breaks
        print("killed steps", killed_steps)
        for at, seen in zip(sampler.times, sampler.samples, strict=True):
            print(
                f"{at:.2f}",
                in_killed_step(at),
                [
                    (s.replica, s.spec_hash[:6], s.running, s.healthy)
                    for s in sorted(seen, key=lambda s: s.replica)
                ],
            )
    mid_rollout = [seen for _, seen in checked if len({s.spec_hash for s in seen}) > 1]
    assert len(mid_rollout) > 5, "no sample outside the killed steps saw a rollout in progress"
    for at, seen in checked:
        # maxSurge: never more than replicas + surge running instances (a container created
        # and not started yet, or stopped and not removed yet, runs nothing)
        assert sum(s.running for s in seen) <= replicas + surge, (at, seen)
        # maxUnavailable 0: never fewer healthy instances than replicas
        assert sum(s.healthy for s in seen) >= replicas, (at, seen)
        # no duplicate: one running instance per replica index and version. (A create the
        # killed daemon had sent can still complete on the engine after the restarted daemon
        # looked: a container that never started, which its next pass removes; it runs nothing.)
        keys = [(s.replica, s.spec_hash) for s in seen if s.running]
        assert len(keys) == len(set(keys)), (at, seen)


# --------------------------------------------------------------------------- a node goes down


@pytest.mark.parametrize("transport", ["unix", "tls"])
def test_a_node_down_mid_rollout(repo, make_config, engines, tmp_path, transport):
    harness = Harness(engines.dir)
    # "tls": the node that goes down, node-c, is reached over TCP+TLS
    config = make_config(nodes=node_entries(engines, transport))
    status_path = tmp_path / "state" / "status.json"
    v1 = repo.commit(
        {
            DEFINITION_FILE: SERVICE_DEFINITION,
            # spread over the three nodes (one replica each), and one pinned to node-a (zone z1)
            deployment_file("depl_spread"): service_deployment("depl_spread", 3, "1"),
            deployment_file("depl_pinned"): service_deployment("depl_pinned", 2, "1", zone="z1"),
        },
        "v1",
    )
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: converged(engines, "depl_spread", v1, 3), 90, "depl_spread v1")
        wait_for(lambda: converged(engines, "depl_pinned", v1, 2), 90, "depl_pinned v1")
        for deployment_id in ("depl_spread", "depl_pinned"):  # healthy: a real rolling update
            wait_for_status(status_path, deployment_id, lambda s: s["status"] == "OK", 60, "OK")
        v2 = repo.commit(
            {
                deployment_file("depl_spread"): service_deployment("depl_spread", 3, "2"),
                deployment_file("depl_pinned"): service_deployment(
                    "depl_pinned", 2, "2", zone="z1"
                ),
            },
            "v2",
        )
        # mid-rollout, in a step on node-c: its new instance exists and is not healthy yet
        wait_for(
            lambda: any(
                c["Labels"][LABEL_COMMIT] == v2 and "(healthy)" not in c["Status"]
                for c in managed(engines, "depl_spread", ["node-c"])
            ),
            60,
            "depl_spread's rollout to start an instance on node-c",
        )
        harness.stop_engine("node-c")
        try:

            def running_at(deployment_id: str, sha: str) -> list[dict]:
                return [
                    c
                    for c in managed(engines, deployment_id, ["node-a", "node-b"])
                    if c["State"] == "running" and c["Labels"][LABEL_COMMIT] == sha
                ]

            # The deployment that does not use node-c proceeds; the affected one reports Error
            # naming node-c (in the log at every attempt; in the status file when a pass ends
            # while it lasts: it is short, as capacity allows placing the replica elsewhere);
            # all three replicas end up running the new version on node-a and node-b.
            history: list[tuple[str, str]] = []
            error_line = re.compile(r"depl_spread: Error: .*node-c")

            def outage_settled() -> bool:
                entry = status_of(status_path, "depl_spread")
                if entry and (entry["status"], entry["details"]) not in history:
                    history.append((entry["status"], entry["details"]))
                return (
                    len(running_at("depl_pinned", v2)) == 2
                    and len(running_at("depl_spread", v2)) == 3
                    and error_line.search(daemon.output()) is not None
                )

            try:
                wait_for(outage_settled, 90, "the outage to settle")
            except pytest.fail.Exception:
                pytest.fail(f"while node-c was down, depl_spread went through {history}")
            errors = [details for state, details in history if state == "Error"]
            assert all("node-c" in details for details in errors), errors
            down = (read_json(status_path) or {}).get("nodes", [])
            assert any(n["id"] == "node-c" and not n["reachable"] for n in down), down
        finally:
            harness.start_engine("node-c")
        # node-c is back with its stopped (or restarted) old instance: it goes, nothing doubles
        wait_for(lambda: converged(engines, "depl_spread", v2, 3), 90, "strays on node-c cleaned")
        wait_for(
            lambda: (s := status_of(status_path, "depl_spread")) and s["status"] == "OK",
            60,
            "depl_spread OK",
        )
        assert converged(engines, "depl_pinned", v2, 2)
    finally:
        daemon.stop()
        Harness(engines.dir).start_engine("node-c")  # later tests need all three


# --------------------------------------------------------------------------- the Git remote


def test_an_unreachable_remote_keeps_the_running_state_and_recovers(
    repo, make_config, engines, tmp_path
):
    config = make_config()
    status_path = tmp_path / "state" / "status.json"
    v1 = commit_depl_a_v1(repo, replicas=2)
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: converged(engines, "depl_a", v1, 2), 90, "v1")
        wait_for(lambda: (s := status_of(status_path, "depl_a")) and s["status"] == "OK", 30, "OK")
        running = sorted(c["Id"] for c in managed(engines, "depl_a"))
        moved = repo.bare.with_name("moved-away.git")
        repo.bare.rename(moved)
        stale = wait_for(
            lambda: (s := read_json(status_path)) and s["sourceStale"] and s, 30, "stale source"
        )
        assert stale["commit"] == v1 and str(repo.bare.name) in stale["sourceError"]
        assert status_of(status_path, "depl_a")["status"] == "OK"
        time.sleep(2)  # a few passes while the remote is gone: nothing moves
        assert sorted(c["Id"] for c in managed(engines, "depl_a")) == running
        assert converged(engines, "depl_a", v1, 2)
        moved.rename(repo.bare)
        wait_for(lambda: (s := read_json(status_path)) and not s["sourceStale"], 30, "recovery")
        v2 = repo.commit({deployment_file("depl_a"): service_deployment("depl_a", 2, "2")}, "v2")
        wait_for(lambda: converged(engines, "depl_a", v2, 2), 90, "v2 after recovery")
    finally:
        daemon.stop()
    assert "fetch failed, keeping the running state" in daemon.output()


# --------------------------------------------------------------------------- the checkout


@pytest.mark.parametrize("damage", ["deleted index", "stale lock file"])
def test_a_damaged_checkout_is_cloned_again(repo, make_config, engines, tmp_path, damage):
    config = make_config()
    v1 = commit_depl_a_v1(repo, replicas=1)
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: converged(engines, "depl_a", v1, 1), 90, "v1")
        dot_git = tmp_path / "state" / "checkout" / ".git"
        if damage == "deleted index":
            (dot_git / "index").unlink()
        else:
            (dot_git / "index.lock").write_text("")
        v2 = repo.commit({deployment_file("depl_a"): service_deployment("depl_a", 1, "2")}, "v2")
        wait_for(lambda: converged(engines, "depl_a", v2, 1), 90, "v2 after the damage")
    finally:
        daemon.stop()
    assert "is damaged" in daemon.output() and "cloning" in daemon.output()
    assert (dot_git / "index").is_file() and not (dot_git / "index.lock").exists()


# --------------------------------------------------------------------------- a full filesystem


@pytest.fixture
def tiny_tmpfs(tmp_path: Path):
    with tiny_tmpfs_at(tmp_path / "tiny", "256k") as mount_point:
        yield mount_point


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                pass
    return filler


def test_a_full_filesystem_never_truncates_the_status_file(
    repo, make_config, engines, tmp_path, tiny_tmpfs
):
    status_path = tiny_tmpfs / "status.json"
    config = make_config(statusFile=str(status_path))
    v1 = commit_depl_a_v1(repo, replicas=1)
    daemon = Daemon(config, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: converged(engines, "depl_a", v1, 1), 90, "v1")
        wait_for(lambda: (s := read_json(status_path)) and s["commit"] == v1, 30, "status of v1")
        filler = fill(tiny_tmpfs)
        v2 = repo.commit({deployment_file("depl_a"): service_deployment("depl_a", 1, "2")}, "v2")
        wait_for(lambda: converged(engines, "depl_a", v2, 1), 90, "v2 applied on a full disk")
        wait_for(lambda: "could not write the status file" in daemon.output(), 30, "logged error")
        # every read in between: whole JSON of the last status that fit, never a torn file
        for _ in range(20):
            status = json.loads(status_path.read_text())
            assert status["commit"] == v1
            time.sleep(0.05)
        line = next(
            x for x in daemon.output().splitlines() if "could not write the status file" in x
        )
        assert (
            "No space left on device" in line and "previous status file is left as it was" in line
        )
        assert not [p.name for p in tiny_tmpfs.iterdir() if p.name.endswith(".tmp")]
        filler.unlink()
        wait_for(lambda: (s := read_json(status_path)) and s["commit"] == v2, 30, "status of v2")
    finally:
        daemon.stop()
