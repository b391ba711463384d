"""checkout_revision / resolve_revision against real repositories (work tree and bare)."""

from __future__ import annotations

import os
import stat

import pytest
from gitrepos import commit_file, git

from syncd.errors import SourceError
from syncd.source.revisions import checkout_revision, resolve_revision


@pytest.fixture()
def rich_work(work):
    """A clone whose head holds an executable, a relative symlink, a nested dir and a dangling
    symlink; the commit before it holds only the seed file."""
    script = work / "tools" / "run.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    (work / "link-to-a.yaml").symlink_to("deployments/a.yaml")
    (work / "dangling").symlink_to("../outside/nowhere")
    (work / "deep" / "er").mkdir(parents=True)
    (work / "deep" / "er" / "file.txt").write_bytes(b"\x00binary\xff")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "tools and links")
    git(work, "tag", "v1")
    git(work, "push", "-q", "origin", "main", "--tags")
    return work


def test_checkout_keeps_modes_and_symlinks(rich_work, tmp_path):
    dest = tmp_path / "out"
    sha = checkout_revision(rich_work, "main", dest)

    assert sha == git(rich_work, "rev-parse", "HEAD")
    assert (dest / "deployments" / "a.yaml").read_text() == "id: depl_a\ndefinitionId: def_a\n"
    assert os.stat(dest / "tools" / "run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(dest / "deployments" / "a.yaml").st_mode & stat.S_IXUSR
    assert (dest / "link-to-a.yaml").is_symlink()
    assert os.readlink(dest / "link-to-a.yaml") == "deployments/a.yaml"
    assert os.readlink(dest / "dangling") == "../outside/nowhere"
    assert (dest / "deep" / "er" / "file.txt").read_bytes() == b"\x00binary\xff"
    assert not (dest / ".git").exists()


@pytest.mark.parametrize("rev", ["main~1", "HEAD^", "v1~1"])
def test_relative_names_resolve_like_rev_parse(rich_work, tmp_path, rev):
    dest = tmp_path / "out"
    sha = checkout_revision(rich_work, rev, dest)
    assert sha == git(rich_work, "rev-parse", "main~1")
    assert sorted(p.name for p in dest.iterdir()) == ["deployments"]


def test_bare_repository_by_tag_and_short_sha(rich_work, remote, tmp_path):
    head = git(rich_work, "rev-parse", "HEAD")
    assert checkout_revision(remote, "v1", tmp_path / "by-tag") == head
    assert checkout_revision(remote, head[:8], tmp_path / "by-sha") == head
    assert (tmp_path / "by-sha" / "link-to-a.yaml").is_symlink()
    assert resolve_revision(remote, "main") == head


@pytest.mark.parametrize("rev", ["nope", "main~99", "-x", "", "0" * 40])
def test_unknown_revision_is_a_clear_permanent_error(work, tmp_path, rev):
    with pytest.raises(SourceError) as caught:
        checkout_revision(work, rev, tmp_path / "out")
    assert caught.value.message.startswith(f"unknown revision {rev!r} in {work}: ")
    assert caught.value.hint
    assert caught.value.retryable is False
    assert not (tmp_path / "out").exists()


def test_not_a_repository(tmp_path):
    with pytest.raises(SourceError, match="is not a Git repository"):
        resolve_revision(tmp_path, "main")
    with pytest.raises(SourceError, match="does not exist"):
        resolve_revision(tmp_path / "missing", "main")


def test_dest_must_be_empty(work, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "stale").write_text("x")
    with pytest.raises(SourceError, match="not empty"):
        checkout_revision(work, "main", dest)


def test_later_commit_changes_the_checkout(work, tmp_path):
    first = git(work, "rev-parse", "HEAD")
    second = commit_file(work, "deployments/a.yaml", "id: depl_a\ndefinitionId: def_b\n")
    assert checkout_revision(work, first, tmp_path / "one") == first
    assert checkout_revision(work, "HEAD", tmp_path / "two") == second
    assert "def_b" in (tmp_path / "two" / "deployments" / "a.yaml").read_text()


def test_a_tree_or_blob_sha_is_not_a_revision(work, tmp_path):
    blob = git(work, "rev-parse", "HEAD:deployments/a.yaml")
    with pytest.raises(SourceError, match="unknown revision"):
        checkout_revision(work, blob, tmp_path / "out")


def test_a_submodule_becomes_an_empty_directory(work, tmp_path):
    pinned = git(work, "rev-parse", "HEAD")
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{pinned},vendor/lib")
    git(work, "commit", "-q", "-m", "add a submodule entry")
    dest = tmp_path / "out"
    checkout_revision(work, "HEAD", dest)
    assert (dest / "vendor" / "lib").is_dir()
    assert list((dest / "vendor" / "lib").iterdir()) == []
