"""Which commit a folder is: one answer for `syncd plan` (its title) and `syncd apply` (the
containers' io.syncd.commit label)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.sync import UNCOMMITTED, Revision, checked_out, worktree_revision
from tests.source.gitrepos import commit_file, git


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit_file(root, "deploy/deployments/a.yaml", "id: a\n", "first")
    commit_file(root, "README", "hello\n", "readme")
    return root


def test_a_folder_outside_git_has_no_commit(tmp_path: Path) -> None:
    revision = worktree_revision(tmp_path)
    assert revision == Revision(tmp_path)
    assert revision.commit == UNCOMMITTED


def test_a_clean_folder_is_its_head(work_tree: Path) -> None:
    head = git(work_tree, "rev-parse", "HEAD")
    assert worktree_revision(work_tree).sha == head
    # a folder inside the work tree: the same commit (apply used to say "uncommitted" here)
    assert worktree_revision(work_tree / "deploy").sha == head


def test_uncommitted_changes_in_the_folder_make_it_no_commit(work_tree: Path) -> None:
    (work_tree / "deploy" / "deployments" / "a.yaml").write_text("id: a\nreplicas: 2\n")
    assert worktree_revision(work_tree / "deploy").commit == UNCOMMITTED


def test_changes_outside_the_folder_do_not_count(work_tree: Path) -> None:
    (work_tree / "README").write_text("changed\n")
    assert worktree_revision(work_tree / "deploy").sha == git(work_tree, "rev-parse", "HEAD")


def test_a_checkout_keeps_the_subfolder(work_tree: Path) -> None:
    first = git(work_tree, "rev-parse", "HEAD~1")
    with checked_out(work_tree / "deploy", "HEAD~1") as revision:
        assert revision.sha == first
        assert (revision.root / "deployments" / "a.yaml").read_text() == "id: a\n"
    assert not revision.root.exists()  # the temporary tree is gone


def test_a_checkout_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError), checked_out(tmp_path, "HEAD"):
        pass
