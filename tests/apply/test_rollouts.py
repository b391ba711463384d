"""RollingUpdate and Recreate against the three harness engines, watched by a sampler."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from tests.apply.applykit import (
    FAST_OPTIONS,
    SERVICE_SCRIPT,
    Sampler,
    apply_repo,
    deployment,
    list_deployment,
    service_definition,
    sockets_of,
)


def by_hash(seen, *, healthy_only=False):  # type: ignore[no-untyped-def]
    return Counter(s.spec_hash for s in seen if s.running and (s.healthy or not healthy_only))


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [(6, 2, 1), (3, 0, 1)],  # surge room; and none, so old ones must go first (parked early)
)
def test_rolling_update_keeps_both_bounds_at_every_sample(
    engines, pool, repo, replicas, surge, unavailable
) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": surge, "maxUnavailable": unavailable}
    repo.write([deployment("depl_roll", replicas, version="1", strategy=strategy)])
    _, first = apply_repo(repo, pool)
    assert first.ok, first.results
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    before = list_deployment(clients, "depl_roll")
    (old_hash,) = by_hash(before, healthy_only=True)
    assert by_hash(before, healthy_only=True)[old_hash] == replicas
    assert {s.node_id for s in before} == {"node-a", "node-b", "node-c"}  # spread over all three

    repo.write([deployment("depl_roll", replicas, version="2", strategy=strategy)])
    with Sampler(sockets_of(engines), "depl_roll") as sampler:
        the_plan, report = apply_repo(repo, pool)
    assert report.ok, report.results
    assert the_plan.for_deployment("depl_roll").actions == ("rolling-update",)
    assert len(sampler.samples) > 10
    for sample in sampler.samples:
        running = [s for s in sample if s.running]
        healthy = [s for s in sample if s.healthy]
        assert len(running) <= replicas + surge, sample
        assert len(healthy) >= replicas - unavailable, sample
    after = list_deployment(clients, "depl_roll")
    counts = by_hash(after, healthy_only=True)
    assert old_hash not in by_hash(after) and sum(counts.values()) == replicas
    assert len(after) == replicas  # parked old instances were removed at the end
    assert sorted(s.replica for s in after) == list(range(replicas))
    result = report.result("depl_roll")
    assert (result.started, result.removed) == (replicas, replicas)


def test_recreate_never_runs_two_versions_at_once(engines, pool, repo) -> None:
    strategy = {"type": "Recreate"}
    repo.write([deployment("depl_rec", 3, version="1", strategy=strategy)])
    assert apply_repo(repo, pool)[1].ok
    repo.write([deployment("depl_rec", 3, version="2", strategy=strategy)])
    with Sampler(sockets_of(engines), "depl_rec") as sampler:
        the_plan, report = apply_repo(repo, pool)
    assert report.ok, report.results
    assert the_plan.for_deployment("depl_rec").actions == ("recreate",)
    hashes_seen = set()
    for sample in sampler.samples:
        running = by_hash(sample)
        assert len(running) <= 1, f"two versions running at once: {sample}"
        hashes_seen.update(running)
    assert len(hashes_seen) == 2  # the sampler saw the old version, then the new one
    after = list_deployment({n.id: engines.docker(n.id) for n in engines.nodes}, "depl_rec")
    assert len(after) == 3 and all(s.healthy for s in after)
    assert {s.spec_hash for s in after} == {the_plan.for_deployment("depl_rec").target_hash}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("crash", "exited with code 3: boom: bad config for version 2"),
        ("sick", "health check failed: cat: can't open '/tmp/ready': No such file or directory"),
    ],
)
def test_a_bad_version_is_reverted_while_the_old_one_serves(
    engines, pool, repo, mode, expected
) -> None:
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    repo.write([deployment("depl_bad", 3, version="1", strategy=strategy)])
    assert apply_repo(repo, pool)[1].ok
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    old = {s.container_id for s in list_deployment(clients, "depl_bad")}

    repo.write([deployment("depl_bad", 3, version="2", mode=mode, strategy=strategy)])
    options = replace(FAST_OPTIONS, progress_deadline_s=6.0)
    with Sampler(sockets_of(engines), "depl_bad") as sampler:
        _, report = apply_repo(repo, pool, options=options)
    result = report.result("depl_bad")
    assert result.outcome == "failed" and result.reverted, result
    assert expected in result.reason
    assert "depl_bad-" in result.reason  # names the instance and node
    for sample in sampler.samples:
        serving_old = [s for s in sample if s.container_id in old and s.healthy]
        assert len(serving_old) == 3, f"an old replica stopped serving: {sample}"
    after = list_deployment(clients, "depl_bad")
    assert {s.container_id for s in after} == old and all(s.healthy for s in after)


def test_a_version_failing_after_partial_progress_is_reverted_whole(
    engines, pool, repo, tmp_path
) -> None:
    """The first new instance works, the second crashes: by then an old one is parked, and the
    revert starts it again and removes the healthy new one."""
    flags = tmp_path / "flags"
    flags.mkdir()
    # MODE=partial: the first container to run wins the mkdir and serves, every later one exits
    script = SERVICE_SCRIPT.replace(
        'if [ "$MODE" = crash ]',
        'if [ "$MODE" = partial ] && ! mkdir /flags/first 2>/dev/null; then echo "second"; exit 4; fi; '
        'if [ "$MODE" = crash ]',
    )
    definition = service_definition(
        command=["sh", "-c", script], volumes=[{"source": str(flags), "target": "/flags"}]
    )
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    repo.write([deployment("depl_part", 3, strategy=strategy)], [definition])
    assert apply_repo(repo, pool)[1].ok
    repo.write(
        [deployment("depl_part", 3, version="2", mode="partial", strategy=strategy)], [definition]
    )
    with Sampler(sockets_of(engines), "depl_part") as sampler:
        _, report = apply_repo(repo, pool)
    result = report.result("depl_part")
    assert result.outcome == "failed" and "exited with code 4: second" in result.reason, result
    for sample in sampler.samples:  # both bounds hold through the rollout and its revert
        assert sum(1 for s in sample if s.healthy) >= 3, sample
        assert sum(1 for s in sample if s.running) <= 3 + 1, sample
    after = list_deployment({n.id: engines.docker(n.id) for n in engines.nodes}, "depl_part")
    serving = [s for s in after if s.healthy]
    assert len(serving) == 3 and all(s.running for s in after)
    assert result.reverted
    assert len({s.spec_hash for s in serving}) == 1, after  # the old version, whole


def test_without_health_check_an_instance_must_run_settle_seconds(engines, pool, repo) -> None:
    script = SERVICE_SCRIPT.replace(
        'if [ "$MODE" = crash ]',
        'if [ "$MODE" = late ]; then sleep 1; echo "late failure"; exit 5; fi; if [ "$MODE" = crash ]',
    )
    definition = service_definition(command=["sh", "-c", script])
    del definition["healthCheck"]
    strategy = {"type": "RollingUpdate", "maxSurge": 1, "maxUnavailable": 0}
    options = replace(FAST_OPTIONS, settle_s=2.5)
    repo.write([deployment("depl_plain", 2, strategy=strategy)], [definition])
    assert apply_repo(repo, pool, options=options)[1].ok
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    old = {s.container_id for s in list_deployment(clients, "depl_plain")}
    # running at first, exits after a second: within the settle time, so never counted available
    repo.write(
        [deployment("depl_plain", 2, version="2", mode="late", strategy=strategy)], [definition]
    )
    _, report = apply_repo(repo, pool, options=options)
    result = report.result("depl_plain")
    assert result.outcome == "failed" and result.reverted, result
    assert "exited with code 5: late failure" in result.reason
    after = list_deployment(clients, "depl_plain")
    assert {s.container_id for s in after} == old and all(s.running for s in after)


def test_a_bad_recreate_brings_the_parked_old_version_back(engines, pool, repo) -> None:
    strategy = {"type": "Recreate"}
    repo.write([deployment("depl_rback", 2, strategy=strategy)])
    assert apply_repo(repo, pool)[1].ok
    clients = {n.id: engines.docker(n.id) for n in engines.nodes}
    old = {s.container_id for s in list_deployment(clients, "depl_rback")}
    repo.write([deployment("depl_rback", 2, version="2", mode="crash", strategy=strategy)])
    with Sampler(sockets_of(engines), "depl_rback") as sampler:
        _, report = apply_repo(repo, pool)
    result = report.result("depl_rback")
    assert result.outcome == "failed" and result.reverted, result
    assert "exited with code 3: boom: bad config for version 2" in result.reason
    for sample in sampler.samples:
        assert len(by_hash(sample)) <= 1, f"two versions running at once: {sample}"
    after = list_deployment(clients, "depl_rback")
    assert {s.container_id for s in after} == old and all(s.healthy for s in after)
