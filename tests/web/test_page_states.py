"""The rollout history and the refused head as the pages render them, without engines or a
browser: a stand-in daemon holding what a real one holds, served by the real listener."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from syncd.daemon.config import DaemonSettings, RepoSettings
from syncd.daemon.head_preview import HeadPreviews, RefusedHead
from syncd.daemon.history import RolloutHistory, RolloutRecord
from syncd.daemon.http import HttpServer
from syncd.daemon.web import WebPage
from syncd.errors import SourceError, SpecProblem
from syncd.status.model import DeploymentStatus, SyncStatus

from .test_pages import assert_valid_html

APPLIED = "a" * 40
HEAD = "b" * 40


class OpenAccess:
    off = False

    def allows(self, request: object) -> bool:
        return True


def no_commit(sha: str) -> None:
    raise SourceError("no checkout here")


@pytest.fixture
def page():
    """``get(path)`` on a page over a stand-in daemon; the daemon is returned beside it."""
    history = RolloutHistory(None)
    settings = DaemonSettings(repo=RepoSettings(url="/nonexistent"))
    previews = HeadPreviews(settings, sync=None)  # type: ignore[arg-type]
    status = SyncStatus(
        commit=APPLIED,
        deployments=(DeploymentStatus("depl_web", "def_web", "OK", "Up.", 2, 2, 2),),
        head_commit=HEAD,
    )
    daemon = SimpleNamespace(
        last_status=status,
        settings=settings,
        good=SimpleNamespace(sha=APPLIED, desired=SimpleNamespace(nodes=())),
        source=SimpleNamespace(commit_info=no_commit, checkout_dir=Path("/nonexistent")),
        reconciler=SimpleNamespace(
            observed=None,
            last_plan=None,
            plan_error=None,
            passes=1,
            last_pass_at=time.time(),
            last_pass_s=0.1,
            rollouts_in_progress=dict,
            history=history,
            previews=previews,
        ),
    )
    server = HttpServer("127.0.0.1:0")
    WebPage(daemon, access=OpenAccess()).register(server)  # type: ignore[arg-type]
    server.start()

    def get(path: str) -> str:
        conn = http.client.HTTPConnection(*server.address, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read().decode()
            assert response.status == 200, (path, response.status, body[:300])
            assert_valid_html(body, path)
            return body
        finally:
            conn.close()

    yield get, daemon
    server.stop()


def test_a_deployment_without_rollouts_says_so(page):
    get, _daemon = page
    assert "No rollout recorded yet." in get("/deployments/depl_web")


def test_rollouts_are_listed_newest_first_with_outcome_and_reason(page):
    get, daemon = page
    for finished, outcome, reason in (
        (1000.0, "succeeded", ""),
        (2000.0, "reverted", "exited with code 3: <no database>"),
    ):
        daemon.reconciler.history.add(
            RolloutRecord(
                "depl_web",
                "rollout",
                outcome,  # type: ignore[arg-type]
                "rolling-update 2 replicas",
                "Canary",
                "c" * 40,
                started_at=finished - 30,
                finished_at=finished,
                to_spec_hash="e" * 64,
                reason=reason,
                canary_step="canary 25%, step 1 of 2" if outcome == "reverted" else None,
            )
        )
    body = get("/deployments/depl_web")
    assert body.index("rollout-reverted") < body.index("rollout-succeeded")
    assert "exited with code 3: &lt;no database&gt;" in body  # text, never markup
    assert "reached canary 25%, step 1 of 2" in body
    assert "took 30s" in body


def test_no_refused_head_no_notice(page):
    get, _daemon = page
    assert 'id="refused-head"' not in get("/plan")


def test_a_head_that_does_not_load_shows_its_errors_once(page):
    get, daemon = page
    problems = (SpecProblem("deployments/web.yaml", 3, 1, "$.replica", "unknown field"),)
    daemon.reconciler.previews.current = RefusedHead(
        HEAD, problems, time.time(), load_problems=problems
    )
    body = get("/plan")
    assert "The branch head <code>bbbbbbbbbbbb</code> is refused" in body
    assert f"Applied instead: <code>{APPLIED[:12]}</code>" in body
    assert body.count("unknown field") == 1
    assert "<code>deployments/web.yaml</code>" in body and "<code>$.replica</code>" in body
    assert "the commit does not load. Its errors are listed above." in body


def test_a_guarded_head_that_does_not_load_shows_both_reasons(page):
    get, daemon = page
    daemon.reconciler.previews.current = RefusedHead(
        HEAD,
        (SpecProblem("(commit)", 1, 1, "$", "commit bbbbbbbbbbbb is not signed"),),
        time.time(),
        load_problems=(SpecProblem("deployments/web.yaml", 3, 1, "$.replica", "unknown field"),),
    )
    body = get("/plan")
    assert "not signed" in body and 'id="refused-load"' in body
    assert '<span class="muted">the commit</span>' in body  # a whole-commit problem: no file


def test_a_head_that_could_not_be_planned_says_why(page):
    get, daemon = page
    daemon.reconciler.previews.current = RefusedHead(
        HEAD,
        (SpecProblem("(commit)", 1, 1, "$", "not a descendant"),),
        time.time(),
        preview_error="node-a: connection refused",
    )
    assert "It could not be planned: node-a: connection refused" in get("/plan")
