"""GitSource against a real bare remote: clone, follow the branch, recover a damaged checkout."""

from __future__ import annotations

import logging
import shutil

import pytest
from gitrepos import commit_file, git

from syncd.errors import SourceError
from syncd.source.gitrepo import GitSource, display_url


@pytest.fixture()
def source(remote, tmp_path):
    return GitSource(str(remote), "main", tmp_path / "state" / "checkout", timeout_s=30)


def test_first_sync_clones_then_follows_the_branch(source, remote, work):
    first = source.sync()
    assert first == git(remote, "rev-parse", "main")
    assert (source.checkout_dir / "deployments" / "a.yaml").exists()

    second = commit_file(work, "deployments/b.yaml", "id: depl_b\n", "add b")
    git(work, "push", "-q", "origin", "main")
    assert source.sync() == second
    assert (source.checkout_dir / "deployments" / "b.yaml").read_text() == "id: depl_b\n"
    assert source.head() == second


def test_sync_discards_local_edits_and_untracked_files(source):
    source.sync()
    (source.checkout_dir / "deployments" / "a.yaml").write_text("tampered")
    (source.checkout_dir / "stray.yaml").write_text("id: depl_stray\n")
    (source.checkout_dir / "ignored-dir").mkdir()
    source.sync()
    assert "depl_a" in (source.checkout_dir / "deployments" / "a.yaml").read_text()
    assert not (source.checkout_dir / "stray.yaml").exists()
    assert not (source.checkout_dir / "ignored-dir").exists()


def test_sync_follows_a_force_push(source, work):
    source.sync()
    git(work, "commit", "-q", "--amend", "-m", "rewritten")
    rewritten = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", "--force", "origin", "main")
    assert source.sync() == rewritten


def test_file_url_works(remote, tmp_path):
    source = GitSource(f"file://{remote}", "main", tmp_path / "co")
    assert source.sync() == git(remote, "rev-parse", "main")


def test_unreachable_remote_is_retryable_and_keeps_the_checkout(source, remote):
    known = source.sync()
    shutil.move(remote, remote.with_name("moved.git"))
    with pytest.raises(SourceError) as caught:
        source.sync()
    assert caught.value.retryable
    assert "cannot fetch branch main of" in caught.value.message
    assert "does not appear to be a git repository" in caught.value.message
    assert caught.value.hint
    assert source.head() == known


def test_missing_branch_names_gits_reason(remote, tmp_path):
    source = GitSource(str(remote), "nope", tmp_path / "co")
    with pytest.raises(
        SourceError, match="cannot clone branch nope of .*Remote branch nope not found"
    ):
        source.sync()
    assert not (tmp_path / "co").exists()
    assert not (tmp_path / "co.cloning").exists()


def _delete_index(checkout):
    (checkout / ".git" / "index").unlink()


def _stale_index_lock(checkout):
    (checkout / ".git" / "index.lock").write_text("")


def _corrupt_head(checkout):
    (checkout / ".git" / "HEAD").write_text("ref: refs/heads/\x01garbage\n")


def _ref_points_at_nothing(checkout):
    (checkout / ".git" / "refs" / "heads" / "main").write_text("0" * 40 + "\n")


def _stale_ref_lock(checkout):
    lock = checkout / ".git" / "refs" / "remotes" / "origin" / "main.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")


@pytest.mark.parametrize(
    "damage",
    [_delete_index, _stale_index_lock, _corrupt_head, _ref_points_at_nothing, _stale_ref_lock],
)
def test_damaged_checkout_is_cloned_again(source, work, caplog, damage):
    source.sync()
    head = commit_file(work, "deployments/c.yaml", "id: depl_c\n")
    git(work, "push", "-q", "origin", "main")
    damage(source.checkout_dir)

    with caplog.at_level(logging.WARNING, logger="syncd.source.gitrepo"):
        assert source.sync() == head
    assert "is damaged" in caplog.text
    assert (source.checkout_dir / "deployments" / "c.yaml").exists()
    assert not (source.checkout_dir / ".git" / "index.lock").exists()
    # and the recovered checkout syncs normally afterwards
    caplog.clear()
    assert source.sync() == head
    assert "is damaged" not in caplog.text


def test_commit_info(source, work):
    sha = commit_file(work, "x.txt", "x", "Add x\n\nwith a body")
    git(work, "push", "-q", "origin", "main")
    source.sync()
    info = source.commit_info(sha)
    assert (info.sha, info.author, info.subject) == (
        sha,
        "Test Author <author@example.test>",
        "Add x",
    )
    assert info.date.tzinfo is not None
    with pytest.raises(SourceError, match="unknown commit"):
        source.commit_info("f" * 40)


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "-uhttps://x", ""])
def test_dangerous_urls_are_refused(url, tmp_path):
    with pytest.raises(SourceError, match="repository url"):
        GitSource(url, "main", tmp_path / "co")


def test_display_url_hides_credentials():
    assert display_url("https://user:s3cret@git.example/r.git") == "https://***@git.example/r.git"
    assert display_url("https://TOKEN@git.example/r.git") == "https://***@git.example/r.git"
    assert display_url("ssh://git@git.example/r.git") == "ssh://git@git.example/r.git"
    assert display_url("/srv/r.git") == "/srv/r.git"


def test_a_relative_local_path_keeps_working(remote, tmp_path, monkeypatch):
    monkeypatch.chdir(remote.parent)
    source = GitSource(remote.name, "main", tmp_path / "co")
    assert source.sync() == source.sync() == git(remote, "rev-parse", "main")


def test_a_directory_of_other_files_is_never_replaced(remote, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(SourceError, match="is not a Git checkout: refusing to replace it"):
        GitSource(str(remote), "main", precious).sync()
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_a_changed_url_is_followed(remote, tmp_path):
    source = GitSource(str(remote), "main", tmp_path / "co")
    source.sync()
    moved = remote.with_name("moved.git")
    shutil.copytree(remote, moved)
    shutil.rmtree(remote)
    assert GitSource(str(moved), "main", tmp_path / "co").sync() == git(moved, "rev-parse", "main")


def test_a_remote_that_never_answers_times_out(tmp_path):
    # A listening socket that never speaks: ssh waits for a banner that never comes.
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        source = GitSource(
            f"ssh://git@127.0.0.1:{port}/repo.git",
            "main",
            tmp_path / "co",
            known_hosts=tmp_path / "known_hosts",
            timeout_s=1,
        )
        with pytest.raises(SourceError, match="did not complete in 1 secs") as caught:
            source.sync()
    assert caught.value.retryable
    assert not (tmp_path / "co").exists()
