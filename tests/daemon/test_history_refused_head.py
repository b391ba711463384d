"""What a refused head would change (``HeadPreviews``), without engines: a real Git checkout in
the state dir, the sync pass over a pool that reports what runs. Planned once per head sha,
never applied; a head that does not load gets its errors instead."""

from __future__ import annotations

from pathlib import Path

import yaml

from syncd.daemon.config import DaemonSettings, RepoSettings
from syncd.daemon.head_preview import SCRATCH_DIR, HeadPreviews
from syncd.errors import SpecProblem
from syncd.sync import Revision, Sync
from tests.source.gitrepos import git
from tests.sync.conftest import ReportingPool, running, write_repo

WHY = (SpecProblem("(commit)", 1, 1, "$", "commit is not a descendant of the applied one"),)


def checkout_with(tmp_path: Path, replicas: int) -> tuple[DaemonSettings, str]:
    """A state dir whose checkout holds one commit of ``depl_web`` at ``replicas``."""
    settings = DaemonSettings(repo=RepoSettings(url="/nonexistent"), state_dir=tmp_path / "state")
    checkout = settings.checkout_dir
    write_repo(checkout, {"depl_web": replicas})
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "a head")
    return settings, git(checkout, "rev-parse", "HEAD")


def commit_change(settings: DaemonSettings, rel: str, content: str) -> str:
    checkout = settings.checkout_dir
    (checkout / rel).write_text(content)
    git(checkout, "commit", "-qam", "change")
    return git(checkout, "rev-parse", "HEAD")


def test_a_head_that_loads_is_planned_once_against_the_nodes_and_nothing_is_applied(tmp_path):
    settings, applied_sha = checkout_with(tmp_path, replicas=2)
    applied = Sync(environ={}).load(Revision(settings.checkout_dir, applied_sha)).desired
    spec_hash = applied.deployments[0].spec_hash
    pool = ReportingPool(instances=[running("depl_web", r, "node-a", spec_hash) for r in (0, 1)])
    doc = {"id": "depl_web", "definitionId": "def_web", "replicas": 3}
    head = commit_change(settings, "deployments/depl_web.yaml", yaml.safe_dump(doc))
    previews = HeadPreviews(settings, Sync(pool=pool, environ={}))  # type: ignore[arg-type]
    previews.consider((head, WHY), applied, {})
    refused = previews.current
    assert refused is not None and refused.sha == head and refused.problems == WHY
    assert refused.plan is not None and not refused.load_problems
    (planned,) = [d for d in refused.plan.deployments if d.has_changes]
    assert planned.deployment_id == "depl_web" and len(planned.start) == 1  # scale 2 -> 3
    # the fields compared with the applied commit come first
    assert planned.changes[0].path == "replicas"
    assert (planned.changes[0].old, planned.changes[0].new) == ("2", "3")
    assert pool.observed == 1
    assert not (settings.state_dir / SCRATCH_DIR).exists()  # the head's files are gone
    previews.consider((head, WHY), applied, {})  # the same head: no second pass
    assert pool.observed == 1 and previews.current is refused
    previews.consider(None, applied, {})  # the head was applied after all
    assert previews.current is None


def test_a_head_that_does_not_load_gets_its_errors_and_costs_no_observation(tmp_path):
    settings, _applied_sha = checkout_with(tmp_path, replicas=2)
    head = commit_change(
        settings, "deployments/depl_web.yaml", "id: depl_web\ndefinitionId: def_web\nreplica: 3\n"
    )
    pool = ReportingPool()
    previews = HeadPreviews(settings, Sync(pool=pool, environ={}))  # type: ignore[arg-type]
    previews.consider((head, WHY), None, {})
    refused = previews.current
    assert refused is not None and refused.plan is None
    (problem,) = refused.load_problems
    assert (problem.file, problem.line, problem.path) == (
        "deployments/depl_web.yaml",
        3,
        "$.replica",
    )
    assert pool.observed == 0


def test_a_head_asking_for_too_many_replicas_is_not_planned(tmp_path):
    settings, _applied_sha = checkout_with(tmp_path, replicas=2)
    doc = {"id": "depl_web", "definitionId": "def_web", "replicas": settings.max_replicas + 1}
    head = commit_change(settings, "deployments/depl_web.yaml", yaml.safe_dump(doc))
    pool = ReportingPool()
    previews = HeadPreviews(settings, Sync(pool=pool, environ={}))  # type: ignore[arg-type]
    previews.consider((head, WHY), None, {})
    refused = previews.current
    assert refused is not None and refused.plan is None and pool.observed == 0
    assert refused.load_problems[0].path == "$.replicas"


def test_a_sha_missing_from_the_checkout_is_said_not_raised(tmp_path):
    settings, _applied_sha = checkout_with(tmp_path, replicas=2)
    previews = HeadPreviews(settings, Sync(pool=ReportingPool(), environ={}))  # type: ignore[arg-type]
    previews.consider(("0" * 40, WHY), None, {})
    refused = previews.current
    assert refused is not None and refused.plan is None and refused.preview_error


def test_a_head_the_daemon_already_loaded_keeps_its_errors_without_a_second_load(tmp_path):
    """The daemon loaded the head and refused it for its files: those problems are the
    preview; nothing is checked out again (a sha the checkout lacks shows it: no error)."""
    settings, _applied_sha = checkout_with(tmp_path, replicas=2)
    pool = ReportingPool()
    previews = HeadPreviews(settings, Sync(pool=pool, environ={}))  # type: ignore[arg-type]
    problems = (SpecProblem("deployments/depl_web.yaml", 3, 1, "$.replica", "unknown field"),)
    previews.consider(("0" * 40, problems), None, {}, does_not_load=True)
    refused = previews.current
    assert refused is not None and refused.preview_error is None and refused.plan is None
    assert refused.load_problems == problems and refused.problems == problems
    assert pool.observed == 0
    assert not (settings.state_dir / SCRATCH_DIR).exists()
