"""A definition's stopSignal and stopGracePeriod, on the harness engines: written into the
container, and used by the stops of a rollout (read back from the engine's own kill events)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.apply.applykit import FAST_OPTIONS, apply_repo, deployment, service_definition

# Ignores SIGTERM (busybox sh as PID 1 with the signal trapped to nothing): only SIGKILL ends it.
IGNORES_TERM = "trap '' TERM; touch /tmp/ready; while :; do sleep 1; done"
# Writes which signal it got to a bind-mounted file, then exits.
REPORTS_INT = (
    "trap 'echo INT > /out/signal; exit 0' INT; trap 'echo TERM > /out/signal; exit 0' TERM; "
    "touch /tmp/ready; while :; do sleep 1 & wait; done"
)


def _definition(script: str, **extra: Any) -> dict[str, Any]:
    return service_definition(command=["sh", "-c", script], **extra)


def _containers(engines, deployment_id: str) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """(node id, inspect answer) of every container of the deployment on every engine."""
    found = []
    for node in engines.nodes:
        api = engines.docker(node.id).api
        for summary in api.containers(
            all=True, filters={"label": f"io.syncd.deployment={deployment_id}"}
        ):
            found.append((node.id, api.inspect_container(summary["Id"])))
    return found


def _kill_signals(engines, node_id: str, container_id: str, since: float) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """The signals the engine delivered to a container since ``since`` (its ``kill`` events),
    each with the engine's time of it in nanoseconds."""
    api = engines.docker(node_id).api
    events = api.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        filters={"container": container_id, "event": "kill"},
        decode=True,
    )
    return [(event["Actor"]["Attributes"]["signal"], int(event["timeNano"])) for event in events]


def test_stop_signal_and_grace_are_written_into_the_container(engines, pool, repo) -> None:
    repo.write(
        [deployment("depl_stopcfg", 1)],
        [service_definition(stopSignal="SIGQUIT", stopGracePeriod="45s")],
    )
    _, report = apply_repo(repo, pool)
    assert report.ok, report.failures
    ((_, inspected),) = _containers(engines, "depl_stopcfg")
    assert inspected["Config"]["StopSignal"] == "SIGQUIT"
    assert inspected["Config"]["StopTimeout"] == 45


def test_a_definition_without_them_leaves_the_engine_defaults(engines, pool, repo) -> None:
    repo.write([deployment("depl_stopdef", 1)])
    _, report = apply_repo(repo, pool)
    assert report.ok, report.failures
    ((_, inspected),) = _containers(engines, "depl_stopdef")
    assert not inspected["Config"].get("StopSignal")
    assert inspected["Config"].get("StopTimeout") is None


def test_a_process_that_ignores_sigterm_is_killed_after_the_definitions_grace(
    engines, pool, repo
) -> None:
    # the definition's grace (3 s) is longer than the apply's default here (FAST_OPTIONS: 2 s)
    assert FAST_OPTIONS.stop_grace_s < 3
    definition = _definition(IGNORES_TERM, stopGracePeriod="3s")
    node_id, old, began = _roll_version_1_to_2(engines, pool, repo, "depl_noterm", definition)
    assert all(c["Id"] != old["Id"] for _, c in _containers(engines, "depl_noterm"))
    signals = _kill_signals(engines, node_id, old["Id"], began)
    assert [signal for signal, _ in signals] == ["15", "9"], signals  # SIGTERM, then SIGKILL
    (_, term_at), (_, kill_at) = signals
    # SIGKILL came no earlier than the definition's grace after SIGTERM (the engine's clock)
    assert kill_at - term_at >= 3_000_000_000, signals


def test_a_definition_with_stop_signal_sigint_gets_sigint(
    engines, pool, repo, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    volumes = [{"source": str(out), "target": "/out"}]
    definition = _definition(REPORTS_INT, stopSignal="SIGINT", volumes=volumes)
    node_id, old, began = _roll_version_1_to_2(engines, pool, repo, "depl_sigint", definition)
    assert (out / "signal").read_text().strip() == "INT"
    signals = _kill_signals(engines, node_id, old["Id"], began)
    assert [signal for signal, _ in signals] == ["2"], signals  # once: never sent twice


def _roll_version_1_to_2(engines, pool, repo, deployment_id: str, definition):  # type: ignore[no-untyped-def]
    """Apply version 1 of one replica, then roll it to version 2; returns the node, the old
    container (as listed) and the wall-clock time just before the roll, for the kill events."""
    repo.write([deployment(deployment_id, 1, version="1")], [definition])
    _, report = apply_repo(repo, pool)
    assert report.ok, report.failures
    ((node_id, old),) = _containers(engines, deployment_id)
    began = time.time()
    repo.write([deployment(deployment_id, 1, version="2")], [definition])
    _, report = apply_repo(repo, pool)
    assert report.ok, report.failures
    return node_id, old, began


def test_a_removed_deployment_is_stopped_with_the_grace_its_containers_were_given(
    engines, pool, repo
) -> None:
    """Once a deployment is gone from the repository its definition is no longer read: the
    prune stops each container with the grace the engine keeps for it (its StopTimeout), not
    the apply's default."""
    assert FAST_OPTIONS.stop_grace_s < 3
    definition = _definition(IGNORES_TERM, stopGracePeriod="3s")
    repo.write([deployment("depl_gone", 1)], [definition])
    _, report = apply_repo(repo, pool)
    assert report.ok, report.failures
    ((node_id, old),) = _containers(engines, "depl_gone")
    began = time.time()
    repo.write([], [definition])
    _, report = apply_repo(repo, pool, allow_mass_prune=True)  # removing all of it: on purpose
    assert report.ok, report.failures
    assert _containers(engines, "depl_gone") == []
    signals = _kill_signals(engines, node_id, old["Id"], began)
    assert [signal for signal, _ in signals] == ["15", "9"], signals
    (_, term_at), (_, kill_at) = signals
    assert kill_at - term_at >= 3_000_000_000, signals  # its own 3 s, not the default 2 s
