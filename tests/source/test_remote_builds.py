"""Builds from another Git repository, served by a real ``git daemon`` on loopback: fetched once
per commit, the version resolved at each load (a branch moves), git's words reported verbatim,
URLs that git would misread refused, and the cache pruned to what the last loads named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.errors import RemoteSourceError, RemoteVersionNotFound, SpecError
from syncd.source.remote_builds import KEEP_LOADS, RemoteBuildCache
from syncd.sync import Revision, SyncSettings, load_revision
from testkit.harness.processes import free_port
from testkit.repo import TestRepo
from tests.source.git_daemon import AppRepo, GitServer, app_repo, git_server, greeting
from tests.source.gitrepos import git


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitServer, AppRepo]]:
    base = tmp_path / "served"
    base.mkdir()
    app = app_repo(base)
    with git_server(base) as server:
        yield server, app


@pytest.fixture
def cache(tmp_path: Path) -> RemoteBuildCache:
    return RemoteBuildCache(tmp_path / "state" / "remote-builds", timeout_s=20)


def test_a_tag_is_fetched_once_then_read_from_the_cache(served, cache, tmp_path) -> None:
    server, app = served
    first = cache.checkout(server.url("app"), "v1")
    assert first.commit == git(app.work, "rev-parse", "v1")
    assert (first.root / "service" / "greeting.txt").read_text() == "hello v1\n"
    assert not (first.root / ".git").exists(), "only the commit's files are kept"
    assert cache.fetches == 1
    inode, mtime = first.root.stat().st_ino, first.root.stat().st_mtime_ns
    requests = server.upload_packs()

    # A second load, even by a restarted daemon (a new cache object over the same dir): the
    # tag is resolved again (one ls-remote) but the commit is not fetched again.
    again = RemoteBuildCache(cache.root, timeout_s=20).checkout(server.url("app"), "v1")
    assert again.commit == first.commit
    assert (again.root.stat().st_ino, again.root.stat().st_mtime_ns) == (inode, mtime)
    assert server.upload_packs() == requests + 1


def test_a_pinned_commit_needs_no_network_once_cached(served, cache) -> None:
    server, app = served
    sha = app.commit(greeting("v2"), "second")
    cache.checkout(server.url("app"), sha)
    requests = server.upload_packs()
    tree = cache.checkout(server.url("app"), sha)
    assert tree.commit == sha
    assert (tree.root / "service" / "greeting.txt").read_text() == "hello v2\n"
    assert server.upload_packs() == requests, "a cached sha contacts nobody"


def test_a_branch_moves_and_an_annotated_tag_names_its_commit(served, cache) -> None:
    server, app = served
    before = cache.checkout(server.url("app"), "main")
    moved = app.commit(greeting("v3"), "third")
    after = cache.checkout(server.url("app"), "main")
    assert before.commit != after.commit == moved
    git(app.work, "tag", "-a", "-m", "release", "v3")
    git(app.work, "push", "-q", "origin", "v3")
    assert cache.checkout(server.url("app"), "v3").commit == moved


def test_an_unknown_tag_or_commit_is_a_permanent_error_with_gits_words(served, cache) -> None:
    server, _ = served
    with pytest.raises(RemoteVersionNotFound) as unknown_tag:
        cache.checkout(server.url("app"), "v9")
    assert not unknown_tag.value.retryable
    assert (
        "v9" in unknown_tag.value.message and "no such tag or branch" in unknown_tag.value.message
    )
    with pytest.raises(RemoteVersionNotFound) as unknown_sha:
        cache.checkout(server.url("app"), "0" * 39 + "1")
    assert "not our ref" in unknown_sha.value.reason  # git's own line, verbatim
    assert not list(cache.root.iterdir()), "a failed fetch leaves nothing behind"


def test_an_unreachable_remote_is_retryable_and_names_the_url_without_credentials(
    cache,
) -> None:
    url = f"https://deploy:s3cret@127.0.0.1:{free_port()}/app.git"
    with pytest.raises(RemoteSourceError) as unreachable:
        cache.checkout(url, "v1")
    assert unreachable.value.retryable
    assert "s3cret" not in unreachable.value.message
    assert "127.0.0.1" in unreachable.value.message
    assert "Failed to connect to 127.0.0.1" in unreachable.value.reason  # git's own words


@pytest.mark.parametrize(
    ("url", "version"),
    [
        ("-uhack", "v1"),
        ("ext::sh -c touch% /tmp/pwned", "v1"),
        ("file:///etc", "v1"),
        ("/srv/git/app.git", "v1"),
        ("git@-oProxyCommand=touch:x", "v1"),
        ("ssh://-oProxyCommand=touch/x", "v1"),
        ("git://127.0.0.1:1/app.git", "--upload-pack=touch /tmp/pwned"),
        ("git://127.0.0.1:1/app.git", "main/../../x"),
    ],
)
def test_urls_and_versions_git_would_misread_are_refused_before_git_runs(
    cache, url, version
) -> None:
    with pytest.raises(RemoteVersionNotFound):
        cache.checkout(url, version)
    assert not cache.root.exists(), "nothing was fetched"


def test_the_cache_keeps_what_the_last_loads_named(served, cache) -> None:
    server, app = served
    versions = ["v1", *(app.commit(greeting(f"v{n}"), f"v{n}") for n in (2, 3))]
    loaded = []
    for version in versions:  # one load per version, as a daemon evaluates commits
        loaded.append(cache.checkout(server.url("app"), version).commit)
        cache.keep_only({loaded[-1]})
    assert {entry.name for entry in cache.root.iterdir()} == set(loaded[-KEEP_LOADS:])
    assert not (cache.root / loaded[0]).exists()


def _write_repo(root: Path, repository: dict[str, str]) -> TestRepo:
    repo = TestRepo(root, [])
    definition = {
        "id": "def_app",
        "repository": {"internalPorts": [8080], **repository},
        "network": "none",
    }
    repo.write([{"id": "depl_app", "definitionId": "def_app", "replicas": 1}], [definition])
    return repo


def test_the_image_tag_names_the_commit_and_a_new_version_rolls(served, cache, tmp_path) -> None:
    server, app = served
    settings = SyncSettings(remote_builds=cache)
    source = {
        "url": server.url("app"),
        "version": "v1",
        "buildContext": "service",
        "containerFile": "Containerfile",
    }
    repo = _write_repo(tmp_path / "repo", source)
    first = load_revision(Revision(repo.root), settings, environ={}).desired.deployments[0]
    commit_v1 = git_rev(app, "v1")
    assert first.spec.image.startswith(f"syncd-build/def_app:{commit_v1[:12]}-")
    assert first.spec.build is not None and first.spec.build.root == str(cache.root / commit_v1)

    app.commit(greeting("v2"), "second", tag="v2")
    _write_repo(repo.root, {**source, "version": "v2"})
    second = load_revision(Revision(repo.root), settings, environ={}).desired.deployments[0]
    assert second.spec.image != first.spec.image and second.spec_hash != first.spec_hash


def git_rev(app: AppRepo, ref: str) -> str:
    return git(app.work, "rev-parse", f"{ref}^{{commit}}")


def test_a_bad_version_is_refused_at_the_definitions_line_with_gits_words(
    served, cache, tmp_path
) -> None:
    server, _ = served
    source = {"url": server.url("app"), "version": "v9", "buildContext": "service"}
    repo = _write_repo(tmp_path / "repo", source)
    with pytest.raises(SpecError) as refused:
        load_revision(Revision(repo.root), SyncSettings(remote_builds=cache), environ={})
    (problem,) = refused.value.problems
    # rendering's problems point at the definition's document and name the field
    assert problem.file == "definitions/def_app.yaml"
    assert problem.path == "$.repository.version"
    assert "no such tag or branch" in problem.message and server.url("app") in problem.message


def test_a_context_that_leaves_the_remote_commit_is_refused(served, cache, tmp_path) -> None:
    server, app = served
    (app.work / "escape").symlink_to("/etc")
    git(app.work, "add", "escape")
    git(app.work, "commit", "-q", "-m", "a link out")
    git(app.work, "tag", "linked")
    git(app.work, "push", "-q", "--tags", "origin", "main")
    source = {"url": server.url("app"), "version": "linked", "buildContext": "escape"}
    repo = _write_repo(tmp_path / "repo", source)
    with pytest.raises(SpecError) as refused:
        load_revision(Revision(repo.root), SyncSettings(remote_builds=cache), environ={})
    (problem,) = refused.value.problems
    assert problem.path == "$.repository.buildContext" and "leaves" in problem.message


def test_without_a_cache_nothing_is_fetched_and_the_tag_stands_for_the_version(
    served, tmp_path
) -> None:
    server, _ = served
    source = {"url": server.url("app"), "version": "v1", "buildContext": "service"}
    repo = _write_repo(tmp_path / "repo", source)
    requests = server.upload_packs()
    offline = load_revision(Revision(repo.root), SyncSettings(), environ={})
    (desired,) = offline.desired.deployments
    assert desired.spec.build is not None and desired.spec.build.root is None
    assert server.upload_packs() == requests


@pytest.mark.parametrize(
    ("repository", "path", "refused"),
    [
        ({"url": "https://git.example.test/app.git", "version": "v1"}, None, None),
        ({"url": "git@git.example.test:team/app.git"}, None, None),
        ({"url": "https://git.example.test/app.git", "version": "-uhack"}, "version", "version"),
        ({"url": "https://git.example.test/app.git", "version": "a/../b"}, "version", "version"),
        ({"url": "file:///srv/git/app.git"}, "url", "file: URL"),
        ({"url": "./missing"}, "url", "not a directory"),
    ],
)
def test_validation_accepts_a_url_without_contacting_it(
    tmp_path, repository, path, refused
) -> None:
    """``syncd validate`` (load_repository) checks form only: a URL is accepted with no Git
    server anywhere, a version git could misread is refused, a local path must exist."""
    from syncd.spec.repository import load_repository

    repo = _write_repo(tmp_path / "repo", repository)
    if refused is None:
        load_repository(repo.root)
        return
    with pytest.raises(SpecError) as error:
        load_repository(repo.root)
    (problem,) = error.value.problems
    assert problem.path == f"$.repository.{path}" and refused in problem.message
