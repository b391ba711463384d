"""The parse cache keyed by Git blob id (syncd/spec/cache.py), on real Git repositories.

What is asserted: results with the cache equal results without it; an unchanged file is not
parsed again (the cache's counters), a changed one is; errors come back identical."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd.errors import SpecError
from syncd.source.revisions import checkout_revision
from syncd.spec.cache import (
    CacheStats,
    ParseCache,
    blob_ids_of_revision,
    git_blob_id,
    work_tree_state,
)
from syncd.spec.repository import load_repository
from tests.source.gitrepos import GIT_ENV, git

EXAMPLE = Path(__file__).resolve().parents[2] / "example-repo"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """example-repo committed in a fresh Git repository."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    root = tmp_path / "work"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "example")
    return root


def warmed_cache(work: Path) -> tuple[ParseCache, CacheStats]:
    """A cache that has loaded ``work`` once, and its counts after that load."""
    cache = ParseCache()
    load_repository(work, cache=cache)
    return cache, cache.stats()


def set_example_replicas(work: Path, replicas: int) -> Path:
    """Edit depl_simple123's ``replicas: 1`` line in the work tree; the file's path."""
    path = work / "deployments" / "depl_simple123.yaml"
    path.write_text(path.read_text().replace("replicas: 1", f"replicas: {replicas}"))
    return path


def test_the_example_deployment_has_the_replicas_line_these_tests_edit() -> None:
    assert "\nreplicas: 1\n" in (EXAMPLE / "deployments" / "depl_simple123.yaml").read_text()


def test_git_blob_id_is_what_git_hash_object_prints(tmp_path: Path) -> None:
    data = b"id: depl_a\nreplicas: 2\n\xe2\x9c\x93\n"
    (tmp_path / "f").write_bytes(data)
    expected = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_blob_id(data) == expected


def test_unchanged_clean_tree_is_answered_whole_and_equals_an_uncached_load(work: Path) -> None:
    cache = ParseCache()
    first = load_repository(work, cache=cache)
    parsed = cache.stats().misses
    assert parsed == len(list(work.rglob("*.yaml")))
    second = load_repository(work, cache=cache)
    stats = cache.stats()
    assert stats.tree_hits == 1 and stats.misses == parsed
    assert second == first == load_repository(work)


def test_a_file_changed_in_the_work_tree_is_the_only_one_parsed_again(work: Path) -> None:
    cache, before = warmed_cache(work)
    set_example_replicas(work, 3)
    repo = load_repository(work, cache=cache)
    after = cache.stats()
    assert after.misses - before.misses == 1
    assert after.tree_hits == before.tree_hits  # a modified tree is never answered whole
    assert repo == load_repository(work)
    assert next(d for d in repo.deployments if d.id == "depl_simple123").replicas == 3


def test_a_new_commit_reparses_only_the_files_it_changed(work: Path) -> None:
    cache, before = warmed_cache(work)
    path = set_example_replicas(work, 4)
    (work / "deployments" / "depl_copy.yaml").write_text(
        path.read_text().replace("depl_simple123", "depl_copy")
    )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "two files")
    repo = load_repository(work, cache=cache)
    assert cache.stats().misses - before.misses == 2
    assert {"depl_simple123", "depl_copy"} <= {d.id for d in repo.deployments}


def test_an_invalid_tree_raises_the_same_problems_from_the_cache(work: Path) -> None:
    (work / "deployments" / "broken.yaml").write_text("id: depl_broken\nreplica: 2\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "broken")
    cache = ParseCache()
    with pytest.raises(SpecError) as first:
        load_repository(work, cache=cache)
    with pytest.raises(SpecError) as again:
        load_repository(work, cache=cache)
    assert cache.stats().tree_hits == 1
    assert [str(p) for p in again.value.problems] == [str(p) for p in first.value.problems]
    assert any("deployments/broken.yaml" in str(p) for p in first.value.problems)


def test_outside_git_files_are_hashed_and_a_symlink_follows_its_target(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    shutil.copytree(EXAMPLE, root)
    target = root / "deployments" / "depl_simple123.yaml"
    moved = root / "kept" / "simple.txt"
    moved.parent.mkdir()
    target.rename(moved)
    target.symlink_to(moved)
    assert work_tree_state(root) is None
    cache = ParseCache()
    load_repository(root, cache=cache)
    before = cache.stats()
    load_repository(root, cache=cache)
    assert cache.stats().misses == before.misses  # read and hashed, not parsed
    moved.write_text(moved.read_text().replace("replicas: 1", "replicas: 5"))
    repo = load_repository(root, cache=cache)
    assert cache.stats().misses == before.misses + 1
    assert next(d for d in repo.deployments if d.id == "depl_simple123").replicas == 5


def test_a_registered_tree_of_a_commit_needs_no_git_call_and_no_parse(
    work: Path, tmp_path: Path
) -> None:
    sha = git(work, "rev-parse", "HEAD")
    tree = tmp_path / "trees" / sha
    checkout_revision(work, sha, tree)
    ids = blob_ids_of_revision(work, sha)
    assert ids["deployments/depl_simple123.yaml"] == git_blob_id(
        (tree / "deployments" / "depl_simple123.yaml").read_bytes()
    )
    cache = ParseCache()
    load_repository(work, cache=cache)  # parses every file once, from the work tree
    parsed = cache.stats().misses
    cache.register_tree(tree, ids)
    repo = load_repository(tree, revision=sha, cache=cache)
    assert cache.stats().misses == parsed  # same blobs at the same paths: nothing parsed
    assert repo.revision == sha and repo.root == tree


def test_ids_of_a_subfolder_are_relative_to_it(work: Path) -> None:
    sha = git(work, "rev-parse", "HEAD")
    ids = blob_ids_of_revision(work, sha, "deployments")
    assert "depl_simple123.yaml" in ids
    assert not any(path.startswith("deployments/") for path in ids)
    for whole in (".", "", "./", "/"):  # repo.path's default is "."
        assert blob_ids_of_revision(work, sha, whole) == blob_ids_of_revision(work, sha)
