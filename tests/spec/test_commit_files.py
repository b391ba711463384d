"""A commit's files read straight from Git (``syncd.source.commit_files``) load exactly as the
same commit checked out: the same models and desired state, or the same problems at the same
file, line and column. On real Git repositories: example-repo (local build contexts),
``bench_scaling``'s generated layout, and generated repositories of valid and broken files."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.errors import SpecError, UsageError
from syncd.source.commit_files import CommitFiles, commit_files
from syncd.source.revisions import checkout_revision
from syncd.spec.cache import ParseCache, blob_ids_of_revision
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from tests.source.gitrepos import GIT_ENV, git
from tests.spec.conftest import (
    DEFINITION,
    DEPLOYMENT,
    EXAMPLE_REPO,
    NODE,
    PROJECT_ROOT,
    write_repo,
)

KEEP_ENV = {"HOME": "/root"}  # what {{env:...}} references in example-repo resolve to


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def committed(root: Path, files: dict[str, str | bytes]) -> str:
    """``files`` written under a new repository at ``root`` and committed; the sha."""
    write_repo(root, files)
    return commit_all(root)


def commit_all(root: Path) -> str:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "commit")
    return git(root, "rev-parse", "HEAD")


def outcome(root: Path | CommitFiles, **kwargs: Any) -> tuple[Any, ...]:
    """What loading and rendering gives, with the directory that stood for the files left out:
    ("ok", models, desired state) or ("error", problems, hint)."""
    try:
        repo = load_repository(root, **kwargs)
        desired = render_desired(repo, environ=KEEP_ENV)
    except SpecError as error:
        return "error", [str(problem) for problem in error.problems], error.hint
    return "ok", dataclasses.replace(repo, root=Path("/")), desired


def from_checkout(work: Path, sha: str, scratch: Path, inside: str = ".", **kwargs: Any) -> Any:
    checkout_revision(work, sha, scratch / "checkout")
    return outcome(scratch / "checkout" / inside, revision=sha, **kwargs)


def from_git(work: Path, sha: str, scratch: Path, inside: str = ".", **kwargs: Any) -> Any:
    (scratch / "git").mkdir()
    files = commit_files(work, sha, inside, scratch / "git")
    assert files is not None and files.exists
    return outcome(files, revision=sha, **kwargs)


def test_example_repo_from_git_loads_as_its_checkout(tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(EXAMPLE_REPO, work)
    sha = commit_all(work)
    via_git = from_git(work, sha, tmp_path)
    assert via_git[0] == "ok", via_git
    assert via_git == from_checkout(work, sha, tmp_path)
    # the local build contexts are there (their content hash is in the image tags) ...
    built = [d for d in via_git[2].deployments if d.spec.build is not None]
    assert built and all((tmp_path / "git" / d.spec.build.context).is_dir() for d in built)
    # ... and no spec file was written to read it
    assert not (tmp_path / "git" / "deployments").exists()


def _bench_scaling_repo(root: Path, deployments: int, nodes: int) -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_scaling", PROJECT_ROOT / "bench" / "bench_scaling.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_repo(root, deployments, nodes)


def test_a_bench_scaling_repository_from_git_loads_as_its_checkout(tmp_path: Path) -> None:
    work = tmp_path / "work"
    _bench_scaling_repo(work, 120, 12)
    sha = git(work, "rev-parse", "HEAD")
    via_git = from_git(work, sha, tmp_path)
    assert via_git[0] == "ok" and len(via_git[1].deployments) == 120
    assert via_git == from_checkout(work, sha, tmp_path)
    assert os.listdir(tmp_path / "git") == []  # nothing written: no build context, no shards


# Files a generated repository is made of: valid and broken documents, where syncd reads them
# and where it does not.
POOL: dict[str, str | bytes] = {
    "nodes/local.yaml": NODE,
    "definitions/def_web.yaml": DEFINITION,
    "deployments/depl_web.yaml": DEPLOYMENT,
    "deployments/team/depl_api.yaml": "id: depl_api\ndefinitionId: def_web\nreplicas: 1\n",
    "deployments/bad_schema.yaml": "id: depl_bad\ndefinitionId: def_web\nreplicas: lots\n",
    "deployments/bad_yaml.yaml": "id: depl_x\n  definitionId: [def_web\n",
    "deployments/missing_def.yaml": "id: depl_orphan\ndefinitionId: def_none\n",
    "deployments/two.yaml": "id: depl_one\ndefinitionId: def_web\n---\nid: depl_two\n"
    "definitionId: def_web\nreplicas: 0\n",
    "definitions/built.yaml": "id: def_built\nrepository:\n  url: ./services/web\n",
    "definitions/built_missing.yaml": "id: def_gone\nrepository:\n  url: ./services/none\n",
    "services/web/Dockerfile": "FROM scratch\n",
    "services/web/www/index.html": "hello\n",
    "services/web/run.sh": b"#!/bin/sh\necho run\n",
    "deploy-elsewhere.yaml": "kind: Deployment\nid: depl_top\ndefinitionId: def_web\n",
    "ci/workflow.yaml": "on: push\njobs: {}\n",
    ".github/hidden.yaml": "kind: Deployment\nid: depl_hidden\ndefinitionId: def_web\n",
    "deployments/.hidden-dir/depl_h.yaml": "id: depl_h\ndefinitionId: def_web\n",
    "deployments/depl_big.yaml": "id: depl_big\ndefinitionId: def_web\n" + "# pad\n" * 40,
    "nodes/weird.yml": "kind: Gadget\nid: x\n",
    "shards.yaml": "shards:\n  one:\n    clusters: [local-docker]\n",
    "README.md": "not yaml\n",
}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    chosen=st.sets(st.sampled_from(sorted(POOL)), min_size=1),
    in_subfolder=st.booleans(),
)
def test_any_commit_from_git_loads_as_its_checkout(
    tmp_path_factory: pytest.TempPathFactory, chosen: set[str], in_subfolder: bool
) -> None:
    scratch = tmp_path_factory.mktemp("commit")
    inside = "deploy" if in_subfolder else "."
    files = {posixpath_join(inside, path): POOL[path] for path in chosen}
    files["other/outside.yaml"] = "kind: Deployment\nid: depl_out\ndefinitionId: def_web\n"
    sha = committed(scratch / "work", files)
    limit = {"max_file_bytes": 200}  # depl_big.yaml is over it
    expected = from_checkout(scratch / "work", sha, scratch, inside, **limit)
    assert from_git(scratch / "work", sha, scratch, inside, **limit) == expected


def posixpath_join(inside: str, path: str) -> str:
    return path if inside == "." else f"{inside}/{path}"


def test_problems_from_git_name_the_file_line_and_column(tmp_path: Path) -> None:
    work = tmp_path / "work"
    sha = committed(
        work,
        {
            "nodes/local.yaml": NODE,
            "definitions/def_web.yaml": DEFINITION,
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplicas: -2\n",
        },
    )
    files = commit_files(work, sha, ".", tmp_path)
    assert files is not None
    with pytest.raises(SpecError) as caught:
        load_repository(files)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("deployments/depl_web.yaml", 3, 11)
    assert from_git(work, sha, tmp_path) == from_checkout(work, sha, tmp_path)


def test_a_file_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    work = tmp_path / "work"
    sha = committed(work, {"deployments/depl_big.yaml": "# " + "x" * 300 + "\n"})
    via_git = from_git(work, sha, tmp_path, max_file_bytes=100)
    assert via_git == from_checkout(work, sha, tmp_path, max_file_bytes=100)
    assert via_git[0] == "error" and "303 bytes, over the 100-byte limit" in via_git[1][0]


def test_a_commit_with_a_symlink_is_left_to_a_checkout(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "deployments").mkdir(parents=True)
    (work / "deployments" / "link.yaml").symlink_to("../elsewhere.yaml")
    sha = committed(work, {"elsewhere.yaml": DEPLOYMENT})
    assert commit_files(work, sha, ".", tmp_path) is None
    assert commit_files(work, sha, "deployments", tmp_path) is None
    (work / "deploy").mkdir()
    (work / "deploy" / "a.yaml").write_text(DEPLOYMENT)
    sha = commit_all(work)
    assert commit_files(work, sha, "deploy", tmp_path) is not None  # the symlink is elsewhere


def test_a_folder_the_commit_lacks_does_not_exist(tmp_path: Path) -> None:
    work = tmp_path / "work"
    sha = committed(work, {"deploy/nodes/local.yaml": NODE, "notes.txt": "x"})
    for missing in ("absent", "notes.txt", "deploy/nodes/local.yaml"):
        files = commit_files(work, sha, missing, tmp_path)
        assert files is not None and not files.exists
    files = commit_files(work, sha, "deploy", tmp_path)
    assert (
        files is not None
        and files.exists
        and files.blob_ids == blob_ids_of_revision(work, sha, "deploy")
    )


def test_files_the_caller_holds_are_parsed_from_the_cache_and_read_only_when_asked(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    base = committed(
        work,
        {
            "nodes/local.yaml": NODE,
            "definitions/d.yaml": DEFINITION,
            "deployments/w.yaml": DEPLOYMENT,
        },
    )
    head = committed(work, {"deployments/w.yaml": DEPLOYMENT.replace("replicas: 2", "replicas: 3")})
    cache = ParseCache()
    (tmp_path / "base").mkdir()
    (tmp_path / "head").mkdir()
    base_files = commit_files(work, base, ".", tmp_path / "base")
    assert base_files is not None
    cache.register_tree(base_files.root, base_files.blob_ids)
    load_repository(base_files, cache=cache)
    head_files = commit_files(work, head, ".", tmp_path / "head", base_files.blob_ids)
    assert head_files is not None
    cache.register_tree(head_files.root, head_files.blob_ids)
    parsed = cache.stats().misses
    repo = load_repository(head_files, cache=cache)
    assert cache.stats().misses == parsed + 1  # only the changed deployment
    assert repo.deployments[0].replicas == 3
    # a held file can still be read (a cache that lost it): one more cat-file, same bytes
    assert head_files.read("nodes/local.yaml", 1000) == NODE.encode()


def test_the_directory_standing_for_a_commit_must_exist(tmp_path: Path) -> None:
    work = tmp_path / "work"
    sha = committed(work, {"nodes/local.yaml": NODE})
    files = commit_files(work, sha, ".", tmp_path / "never-made")
    assert files is not None
    with pytest.raises(UsageError):
        load_repository(files)
