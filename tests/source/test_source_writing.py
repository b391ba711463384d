"""commit_files: one commit per write, pushed, rebased when someone else pushed first."""

from __future__ import annotations

import threading

import pytest
from gitrepos import commit_file, git

from syncd.errors import SourceError
from syncd.source.writing import commit_files


@pytest.fixture()
def other(tmp_path, remote):
    """A second clone: someone else pushing to the same branch."""
    clone = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "main", str(remote), str(clone))
    return clone


def save(checkout, changes, **kwargs):
    kwargs.setdefault("push", True)
    return commit_files(
        checkout,
        changes,
        "save from test",
        "api-token-ci",
        "ci@syncd.test",
        branch="main",
        **kwargs,
    )


def test_write_and_delete_in_one_pushed_commit(work, remote):
    sha = save(work, {"deployments/b.yaml": b"id: depl_b\n", "deployments/a.yaml": None})
    assert git(remote, "rev-parse", "main") == sha
    assert git(remote, "ls-tree", "-r", "--name-only", "main") == "deployments/b.yaml"
    assert git(remote, "log", "-1", "--format=%an <%ae>|%s", "main") == (
        "api-token-ci <ci@syncd.test>|save from test"
    )


def test_rejected_push_is_rebased_and_lands(work, other, remote):
    theirs = commit_file(other, "deployments/theirs.yaml", "id: depl_t\n")
    git(other, "push", "-q", "origin", "main")

    ours = save(work, {"deployments/ours.yaml": b"id: depl_o\n"})

    assert git(remote, "rev-parse", "main") == ours
    assert git(remote, "rev-parse", "main~1") == theirs  # rebased: linear, nothing lost
    files = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert {"deployments/theirs.yaml", "deployments/ours.yaml"} <= set(files)


def test_two_concurrent_writers_both_land(work, other, remote):
    errors = []

    def writer(checkout, name):
        try:
            save(checkout, {f"deployments/{name}.yaml": f"id: {name}\n".encode()})
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(work, "depl_one")),
        threading.Thread(target=writer, args=(other, "depl_two")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    files = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert {"deployments/depl_one.yaml", "deployments/depl_two.yaml"} <= set(files)


def _install_racing_pusher(work, other, times, path="race.txt", line="race"):
    """A pre-push hook in ``work`` that makes ``other`` push first, ``times`` times: a
    deterministic stand-in for a colleague who pushes between our fetch and our push."""
    counter = work / ".git" / "race-count"
    counter.write_text("0")
    hook = work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"""#!/bin/sh
n=$(cat {counter})
if [ "$n" -lt {times} ]; then
  echo $((n+1)) > {counter}
  cd {other} && mkdir -p $(dirname {path}) && echo "{line} $n" >> {path} && git add {path} &&
  git -c user.name=o -c user.email=o@x commit -qm "race $n" && git push -q origin main
fi
"""
    )
    hook.chmod(0o755)


def test_push_retries_are_bounded_and_the_local_commit_is_dropped(work, other, remote):
    _install_racing_pusher(work, other, times=100)
    before = git(work, "rev-parse", "HEAD")
    with pytest.raises(SourceError, match="could not push to main after 3 attempts") as caught:
        save(work, {"deployments/x.yaml": b"id: x\n"}, max_attempts=3)
    assert caught.value.retryable
    assert "x.yaml" not in git(remote, "ls-tree", "-r", "--name-only", "main")
    # nothing of ours is left to be pushed by a later write
    assert git(work, "rev-list", "--count", "origin/main..HEAD") == "0"
    assert git(work, "rev-parse", "HEAD") != before  # moved up to what the others pushed
    assert not (work / "deployments" / "x.yaml").exists()


def test_lands_after_losing_two_races(work, other, remote):
    _install_racing_pusher(work, other, times=2)
    sha = save(work, {"deployments/x.yaml": b"id: x\n"}, max_attempts=3)
    assert git(remote, "rev-parse", "main") == sha
    assert git(remote, "log", "-3", "--format=%s", "main").splitlines() == [
        "save from test",
        "race 1",
        "race 0",
    ]


def test_conflicting_change_is_refused_and_dropped(work, other, remote):
    _install_racing_pusher(work, other, times=1, path="deployments/a.yaml", line="theirs:")
    with pytest.raises(
        SourceError, match="conflicts with commits pushed meanwhile to main"
    ) as caught:
        save(work, {"deployments/a.yaml": b"id: depl_a\ndefinitionId: def_ours\n"})
    assert caught.value.retryable is False
    assert "theirs: 0" in git(remote, "show", "main:deployments/a.yaml")
    assert git(work, "rev-list", "--count", "origin/main..HEAD") == "0"
    assert git(work, "status", "--porcelain") == ""  # no rebase left half-done


def test_unchanged_content_makes_no_commit(work, remote):
    head = git(remote, "rev-parse", "main")
    same = (work / "deployments" / "a.yaml").read_bytes()
    assert save(work, {"deployments/a.yaml": same}) == head
    assert git(remote, "rev-parse", "main") == head


def test_only_the_named_paths_are_committed(work, remote):
    (work / "notes.txt").write_text("my own unfinished edit")
    (work / "deployments" / "a.yaml").write_text("half edited")
    git(work, "add", "notes.txt")
    save(work, {"deployments/b.yaml": b"id: depl_b\n"})
    assert git(remote, "show", "--name-only", "--format=", "main") == "deployments/b.yaml"
    assert (work / "notes.txt").read_text() == "my own unfinished edit"
    assert (work / "deployments" / "a.yaml").read_text() == "half edited"


def test_without_push_the_commit_stays_local(work, remote):
    head = git(remote, "rev-parse", "main")
    sha = save(work, {"deployments/b.yaml": b"id: b\n"}, push=False)
    assert git(work, "rev-parse", "HEAD") == sha != head
    assert git(remote, "rev-parse", "main") == head


@pytest.mark.parametrize(
    "path", ["../escape.yaml", "/etc/passwd", ".git/config", "a/../../b", "", "a\\b"]
)
def test_paths_outside_the_repository_are_refused(work, path):
    with pytest.raises(SourceError, match="not a plain path inside the repository"):
        save(work, {path: b"x"})


def test_a_symlinked_directory_out_of_the_repository_is_refused(work, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (work / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SourceError, match="symlink out of the repository"):
        save(work, {"linked/x.yaml": b"x"})
    assert not (tmp_path / "elsewhere" / "x.yaml").exists()


def test_wrong_branch_and_unpushed_commits_are_refused(work):
    commit_file(work, "mine.txt", "unpushed")
    with pytest.raises(SourceError, match="1 unpushed commit"):
        save(work, {"deployments/b.yaml": b"x"})
    git(work, "checkout", "-q", "-b", "feature")
    with pytest.raises(SourceError, match="is on feature, not on main"):
        save(work, {"deployments/b.yaml": b"x"})
