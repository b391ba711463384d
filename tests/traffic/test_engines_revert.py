"""The automatic revert of a RollingUpdate through the real node proxy on a real engine: whether
the new version crashes or starts but never becomes healthy, a bounded request loop on loopback
sees no failed request during the attempt and the revert, and traffic stays on the old version."""

from __future__ import annotations

from pathlib import Path

from syncd.sync.settings import SyncSettings
from testkit.harness import HarnessHandle
from tests.traffic.web import (
    ROLLING,
    URL_A,
    RequestLoop,
    get,
    node_a,
    one_pass,
    version_1_applied,
    write_web_repo,
)

#: a never-healthy version is given up at the progress deadline; the default (10 minutes) is the
#: production promise, a test waits for a shorter one
DEADLINE_S = 20.0


def test_the_automatic_revert_of_a_crashing_version_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 4, ROLLING)
        with RequestLoop([URL_A]) as loop:
            write_web_repo(root, nodes, version="2", replicas=4, strategy=ROLLING, mode="crash")
            result = one_pass(pool, root)
        assert result.report is not None
        (outcome,) = result.report.results
        assert outcome.outcome == "failed" and outcome.reverted
        assert loop.made >= 1000 and loop.failures == []
        assert set(loop.versions) == {"1"}


def test_the_automatic_revert_of_a_never_healthy_version_fails_no_request(
    proxied: HarnessHandle, tmp_path: Path
) -> None:
    nodes, pool = node_a(proxied)
    with pool:
        root = version_1_applied(pool, nodes, tmp_path / "repo", 4, ROLLING)
        settings = SyncSettings(progress_deadline_s=DEADLINE_S)
        with RequestLoop([URL_A]) as loop:
            # version 2 runs and serves its page, but its health check never passes: it must
            # never join the proxy, and is reverted once the deadline passed
            write_web_repo(
                root, nodes, version="2", replicas=4, strategy=ROLLING, mode="never_healthy"
            )
            result = one_pass(pool, root, settings=settings)
        assert result.report is not None
        (outcome,) = result.report.results
        assert outcome.outcome == "failed" and outcome.reverted, outcome
        assert "health check" in outcome.reason, outcome.reason
        assert loop.made >= 1000 and loop.failures == []
        assert set(loop.versions) == {"1"}
        assert {get(URL_A) for _ in range(50)} == {"1"}
        (route,) = pool.proxy("node-a").observe().routes
        assert len(route.backends) == 4
        running = proxied.docker("node-a").containers.list(
            filters={"label": "io.syncd.deployment=depl_web"}
        )
        assert sorted("VERSION=1" in c.attrs["Config"]["Env"] for c in running) == [True] * 4
