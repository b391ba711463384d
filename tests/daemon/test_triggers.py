"""Triggers: the coalescing queue, the timers, and the watch on a local bare repository."""

from __future__ import annotations

import subprocess
import threading

from syncd.daemon.triggers import (
    RepoWatcher,
    Timers,
    TriggerQueue,
    local_repo_path,
)


def test_requests_while_a_pass_runs_coalesce_into_one():
    queue = TriggerQueue()
    queue.request("poll", fetch=True)
    first = queue.wait(timeout=1)
    assert first is not None and first.fetch and first.reasons == ("poll",)
    # While "the pass" runs, three more requests arrive: one pass follows, with every reason.
    queue.request("reconcile", fetch=False)
    queue.request("webhook", fetch=True)
    queue.request("reconcile", fetch=False)
    second = queue.wait(timeout=1)
    assert second is not None
    assert second.fetch is True
    assert second.reasons == ("reconcile", "webhook")
    assert queue.wait(timeout=0.05) is None


def test_reconcile_only_requests_do_not_fetch():
    queue = TriggerQueue()
    queue.request("reconcile", fetch=False)
    trigger = queue.wait(timeout=1)
    assert trigger is not None and trigger.fetch is False


def test_close_wakes_a_waiter():
    queue = TriggerQueue()
    results = []
    waiter = threading.Thread(target=lambda: results.append(queue.wait(timeout=30)))
    waiter.start()
    queue.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive() and results == [None]


def test_timers_request_polls_and_reconciles():
    queue = TriggerQueue()
    timers = Timers(queue, poll_interval_s=0.1, reconcile_interval_s=0.1)
    timers.start()
    try:
        seen: set[str] = set()
        fetch_seen = False
        while not {"poll", "reconcile"} <= seen:
            trigger = queue.wait(timeout=10)
            assert trigger is not None, f"timers fired only {seen}"
            seen.update(trigger.reasons)
            fetch_seen = fetch_seen or trigger.fetch
        assert fetch_seen
        timers.wake_at(0.05, "retry:depl_a")
        while True:
            trigger = queue.wait(timeout=10)
            assert trigger is not None
            if "retry:depl_a" in trigger.reasons:
                break
    finally:
        timers.stop()


def test_local_repo_paths_are_recognised(tmp_path):
    assert local_repo_path(str(tmp_path)) == tmp_path
    assert local_repo_path(f"file://{tmp_path}") == tmp_path
    assert local_repo_path("https://example.com/x.git") is None
    assert local_repo_path("ssh://git@example.com/x.git") is None
    assert local_repo_path("git@example.com:org/x.git") is None


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _commit_and_push(work, bare, message):
    """An empty commit on main in ``work``, pushed to ``bare``."""
    identity = ("-c", "user.name=t", "-c", "user.email=t@t")
    _git(*identity, "commit", "--allow-empty", "-m", message, cwd=work)
    _git("push", str(bare), "main", cwd=work)


def test_a_push_to_a_watched_bare_repo_triggers_a_fetch(tmp_path):
    bare = tmp_path / "repo.git"
    work = tmp_path / "work"
    _git("init", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    _git("init", "-b", "main", str(work), cwd=tmp_path)
    _commit_and_push(work, bare, "one")

    queue = TriggerQueue()
    watcher = RepoWatcher(bare, "main", queue, debounce_s=0.05)
    watcher.start()
    try:
        # A push to another branch is not ours.
        _git("push", str(bare), "main:other", cwd=work)
        assert queue.wait(timeout=0.5) is None
        _commit_and_push(work, bare, "two")
        trigger = queue.wait(timeout=5)
        assert trigger is not None
        assert trigger.fetch and trigger.reasons == ("watch",)
        # packed-refs rewritten by gc counts too (the ref may live only there).
        _git("pack-refs", "--all", cwd=bare)
        trigger = queue.wait(timeout=5)
        assert trigger is not None and trigger.reasons == ("watch",)
    finally:
        watcher.stop()


def test_a_commit_in_a_watched_work_tree_triggers_a_fetch(tmp_path):
    work = tmp_path / "work"
    _git("init", "-b", "main", str(work), cwd=tmp_path)
    commit = ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--allow-empty", "-m")
    _git(*commit, "one", cwd=work)
    queue = TriggerQueue()
    watcher = RepoWatcher(work, "main", queue, debounce_s=0.05)
    watcher.start()
    try:
        _git(*commit, "two", cwd=work)
        trigger = queue.wait(timeout=5)
        assert trigger is not None and trigger.reasons == ("watch",)
    finally:
        watcher.stop()
