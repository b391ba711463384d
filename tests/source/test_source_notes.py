"""Git notes: written, read, and pushed without ever overwriting notes others pushed."""

from __future__ import annotations

import threading

import pytest
from gitrepos import commit_file, git

from syncd.errors import SourceError
from syncd.source.notes import push_notes, read_note, write_note

REF = "refs/notes/syncd"


@pytest.fixture()
def other(tmp_path, remote):
    clone = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(clone))
    return clone


def fresh_clone(tmp_path, remote, name):
    clone = tmp_path / name
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(clone))
    git(clone, "fetch", "-q", "origin", f"{REF}:{REF}")
    return clone


def test_write_replaces_our_note_and_read_returns_it(work):
    head = git(work, "rev-parse", "HEAD")
    assert read_note(work, head) is None
    write_note(work, head, "first pass: OK\n")
    write_note(work, head, 'second pass: Error\n--- syncd-status-json ---\n{"a": 1}\n')
    assert read_note(work, head) == 'second pass: Error\n--- syncd-status-json ---\n{"a": 1}'
    assert git(work, "log", "-1", "--format=%an", REF) == "syncd"
    assert read_note(work, head, "refs/notes/other") is None


def test_notes_from_two_writers_pushed_concurrently_both_survive(work, other, remote, tmp_path):
    first = git(work, "rev-parse", "HEAD")
    second = commit_file(work, "deployments/b.yaml", "id: b\n")
    git(work, "push", "-q", "origin", "main")
    git(other, "pull", "-q", "origin", "main")

    write_note(work, first, "from work on first")
    write_note(other, second, "from other on second")
    # both on the same commit too: cat_sort_uniq keeps every line of both
    write_note(work, second, "from work on second")

    errors = []

    def pusher(checkout):
        try:
            push_notes(checkout, REF)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=pusher, args=(c,)) for c in (work, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # with two writers one retry is always enough: the loser merges the winner's notes
    assert errors == []

    reader = fresh_clone(tmp_path, remote, "reader")
    assert read_note(reader, first) == "from work on first"
    assert read_note(reader, second).splitlines() == ["from other on second", "from work on second"]


def _install_racing_note_writer(work, other, sha):
    """Make ``other`` push a note between our fetch and our push, exactly once."""
    flag = work / ".git" / "raced"
    hook = work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"""#!/bin/sh
if [ ! -e {flag} ]; then
  touch {flag}
  cd {other} && git -c user.name=o -c user.email=o@x notes --ref={REF} add -f -m "raced in" {sha} &&
  git push -q origin {REF}:{REF}
fi
"""
    )
    hook.chmod(0o755)


def test_a_push_rejected_by_a_racing_writer_is_merged_and_retried(work, other, remote, tmp_path):
    first = git(work, "rev-parse", "HEAD")
    second = commit_file(work, "deployments/b.yaml", "id: b\n")
    git(work, "push", "-q", "origin", "main")
    git(other, "pull", "-q", "origin", "main")
    _install_racing_note_writer(work, other, first)

    write_note(work, second, "ours")
    push_notes(work, REF)

    reader = fresh_clone(tmp_path, remote, "reader")
    assert read_note(reader, first) == "raced in"
    assert read_note(reader, second) == "ours"
    assert read_note(work, first) == "raced in"  # merged into our local ref too


def test_pushing_without_local_notes_does_nothing(work, remote):
    push_notes(work, REF)
    assert git(remote, "for-each-ref", "refs/notes") == ""


def test_unreachable_remote_is_a_retryable_error(work, remote):
    write_note(work, git(work, "rev-parse", "HEAD"), "x")
    git(work, "remote", "set-url", "origin", str(remote) + "-gone")
    with pytest.raises(
        SourceError, match="cannot fetch notes refs/notes/syncd from origin"
    ) as caught:
        push_notes(work, REF)
    assert caught.value.retryable


@pytest.mark.parametrize("ref", ["refs/heads/main", "syncd", "refs/notes/syncd-incoming/x"])
def test_only_notes_refs_are_accepted(work, ref):
    with pytest.raises(SourceError, match="invalid notes ref"):
        write_note(work, git(work, "rev-parse", "HEAD"), "x", ref)
