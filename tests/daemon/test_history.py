"""The rollout history: each collected rollout recorded with its outcome, bounded, kept across a
restart, and rebuilt from nothing when its file is missing or corrupt."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from syncd.apply.report import DeploymentResult, ProgressEvent
from syncd.daemon.config import RetrySettings
from syncd.daemon.history import (
    HISTORY_FILE,
    REASON_CHARS,
    RolloutHistory,
    RolloutRecord,
)
from syncd.daemon.logs import RepeatedErrors
from syncd.daemon.retries import DeploymentStates
from syncd.daemon.rollouts import RolloutJob, Rollouts
from syncd.plan.model import ActionKind, DeploymentPlan, Placement
from syncd.state import ObservedInstance
from syncd.sync import Sync
from tests.apply.test_instances import desired

OLD_HASH = "a1" * 32
OLD_COMMIT = "c0" * 20
NEW_COMMIT = "c1" * 20


class CountingWriter:
    """What ``Rollouts.collect`` tells the status writer, counted."""

    def __init__(self) -> None:
        self.counted: list[tuple[str, str]] = []

    def count_heal(self, deployment_id: str, started: int) -> None:
        self.counted.append(("heal", deployment_id))

    def count_revert(self, deployment_id: str) -> None:
        self.counted.append(("revert", deployment_id))

    def count_rollout(self, deployment_id: str, outcome: str) -> None:
        self.counted.append((outcome, deployment_id))


def old_instance(replica: int) -> ObservedInstance:
    return ObservedInstance(
        "node-a",
        f"container{replica}",
        f"depl_web-{replica}",
        "depl_web",
        replica,
        OLD_HASH,
        OLD_COMMIT,
        "running",
        "healthy",
    )


def rolling_plan() -> DeploymentPlan:
    wanted = desired()
    return DeploymentPlan(
        "depl_web",
        (ActionKind.ROLLING_UPDATE,),
        wanted,
        (OLD_HASH,),
        wanted.spec_hash,
        start=(Placement(0, "node-a"), Placement(1, "node-a")),
        replace=(old_instance(0), old_instance(1)),
        replicas=2,
        replicas_before=2,
    )


def finished_job(result: DeploymentResult, fingerprint: str = "print-1") -> RolloutJob:
    job = RolloutJob("depl_web", fingerprint, NEW_COMMIT, rolling_plan(), pool=None)  # type: ignore[arg-type]
    job.started, job.started_at, job.finished_at = True, 1000.0, 1010.0
    job.result = result
    return job


@pytest.fixture
def collect(tmp_path):
    """Collect finished jobs the way the pass thread does; returns the history."""
    history = RolloutHistory(tmp_path / HISTORY_FILE)
    rollouts = Rollouts(Sync(), 1, lambda _id: None, history)
    states = DeploymentStates(RetrySettings(max_attempts=3, backoff_min_s=1, backoff_max_s=2))
    states.observe_fingerprint("depl_web", "print-1")
    errors = RepeatedErrors(logging.getLogger("test"), 1, 2)

    def run(*jobs: RolloutJob) -> RolloutHistory:
        for job in jobs:
            rollouts._finished.append(job)
        rollouts.collect(states, CountingWriter(), errors, None)  # type: ignore[arg-type]
        return history

    yield run
    rollouts.shutdown()


def test_each_outcome_is_recorded_with_what_it_replaced(collect, tmp_path):
    history = collect(
        finished_job(DeploymentResult("depl_web", "ok")),
        finished_job(
            DeploymentResult(
                "depl_web", "failed", reason="health check failed:\n  exit 3", reverted=True
            )
        ),
        finished_job(DeploymentResult("depl_web", "failed", reason="image did not build")),
        finished_job(DeploymentResult("depl_web", "cancelled")),
        finished_job(DeploymentResult("depl_web", "ok"), fingerprint="print-0"),
    )
    records = history.of("depl_web")
    assert [r.outcome for r in records] == [
        "superseded",
        "cancelled",
        "failed",
        "reverted",
        "succeeded",
    ]
    reverted = records[3]
    assert reverted.reason == "health check failed: exit 3"  # one line
    assert (reverted.from_spec_hash, reverted.from_commit) == (OLD_HASH, OLD_COMMIT)
    assert (reverted.to_spec_hash, reverted.to_commit) == (desired().spec_hash, NEW_COMMIT)
    assert (reverted.strategy, reverted.kind) == ("RollingUpdate", "rollout")
    assert (reverted.started_at, reverted.finished_at) == (1000.0, 1010.0)
    assert reverted.image == "syncd-test/busybox:latest"
    assert "newer commit" in records[0].reason
    # collect wrote the file once for the batch: a new daemon reads the same records
    assert RolloutHistory(tmp_path / HISTORY_FILE).of("depl_web") == records


def test_the_last_canary_step_is_kept(collect):
    job = RolloutJob("depl_web", "print-1", NEW_COMMIT, rolling_plan(), pool=None)  # type: ignore[arg-type]
    rollouts = Rollouts(Sync(), 1, lambda _id: None)

    class ApplyThatStepsThenFails:
        def apply(self, result, *, deployment_id, events, cancel):
            for message in ("canary 10%, step 1 of 3", "canary 50%, step 2 of 3"):
                events(ProgressEvent("depl_web", "canary", message, traffic_percent=10))
            events(ProgressEvent("depl_web", "reverting", "reverting", traffic_percent=0))
            raise_canary()

    def raise_canary():
        from syncd.errors import CanaryFailed

        raise CanaryFailed("the canary answered 9 of 10 requests with 5xx at 50%")

    rollouts._sync = ApplyThatStepsThenFails()  # type: ignore[assignment]
    rollouts._run(job, None)  # type: ignore[arg-type]
    rollouts.shutdown()
    assert job.started_at is not None and job.finished_at is not None
    history = collect(job)
    (record,) = history.of("depl_web")
    assert record.canary_step == "canary 50%, step 2 of 3"
    assert record.outcome == "failed" and "5xx" in record.reason


def record(deployment_id: str, finished_at: float, reason: str = "") -> RolloutRecord:
    return RolloutRecord(
        deployment_id,
        "rollout",
        "succeeded",
        "rolling-update 2 replicas",
        "RollingUpdate",
        NEW_COMMIT,
        started_at=finished_at - 5,
        finished_at=finished_at,
        reason=reason,
    )


def test_bounded_per_deployment_and_in_all(tmp_path):
    history = RolloutHistory(tmp_path / HISTORY_FILE, per_deployment=3, total=5)
    for n in range(10):
        history.add(record("depl_a", n))
    history.add(record("depl_b", 100))
    history.add(record("depl_c", 101))
    assert [r.finished_at for r in history.of("depl_a")] == [9, 8, 7]
    assert [r.deployment_id for r in history.newest()] == [
        "depl_c",
        "depl_b",
        "depl_a",
        "depl_a",
        "depl_a",
    ]
    history.add(record("depl_d", 102))  # the total cap drops the oldest of all
    assert [r.finished_at for r in history.of("depl_a")] == [9, 8]
    assert history.save()
    saved = json.loads((tmp_path / HISTORY_FILE).read_text())
    assert saved["version"] == 1 and len(saved["rollouts"]) == 5


def test_a_long_reason_is_cut_to_one_bounded_line(tmp_path):
    path = tmp_path / HISTORY_FILE
    history = RolloutHistory(path)
    history.add(record("depl_a", 1, reason="x" * 10))
    history.save()
    data = json.loads(path.read_text())
    data["rollouts"][0]["reason"] = "word\n" * 1000  # an old or hand-edited file
    path.write_text(json.dumps(data))
    (restored,) = RolloutHistory(path).of("depl_a")
    assert len(restored.reason) == REASON_CHARS and "\n" not in restored.reason
    assert restored.reason.endswith("…")


@pytest.mark.parametrize(
    "content", ["{not json", '{"version": 99, "rollouts": []}', '{"version": 1, "rollouts": 3}']
)
def test_a_corrupt_file_starts_an_empty_history_that_is_written_anew(tmp_path, caplog, content):
    path = tmp_path / HISTORY_FILE
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="syncd.daemon"):
        history = RolloutHistory(path)
    assert history.newest() == []
    history.add(record("depl_a", 1))
    assert history.save()
    assert [r.deployment_id for r in RolloutHistory(path).newest()] == ["depl_a"]


def test_entries_that_are_not_records_are_skipped_and_the_rest_kept(tmp_path):
    path = tmp_path / HISTORY_FILE
    good = record("depl_a", 2).to_json()
    bad_outcome = {**good, "outcome": "exploded"}
    no_time = {key: value for key, value in good.items() if key != "finishedAt"}
    path.write_text(
        json.dumps({"version": 1, "rollouts": [bad_outcome, "text", no_time, good, None]})
    )
    assert RolloutHistory(path).newest() == [record("depl_a", 2)]


def test_a_missing_file_is_an_empty_history_and_nothing_is_written_until_a_rollout(tmp_path):
    path = tmp_path / HISTORY_FILE
    history = RolloutHistory(path)
    assert history.newest() == [] and history.save()
    assert not path.exists()


def test_readers_on_other_threads_get_copies(tmp_path):
    history = RolloutHistory(tmp_path / HISTORY_FILE)
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(len(history.newest()))

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(200):
        history.add(record(f"depl_{n % 7}", n))
    stop.set()
    reader.join()
    assert seen == sorted(seen)  # never a half-made list: only ever more records
    assert len(history.newest()) == 7 * 20  # 20 kept of each of the 7
