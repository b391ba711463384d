"""The owner string: pure rules from data, then the reader on real temporary repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepos import git

from syncd.source.owner import (
    checkout_owner,
    daemon_owner,
    is_valid_owner,
    normal_subpath,
    owner_string,
    repo_identity,
)

SAME_REPOSITORY = [
    "https://github.com/team-b/deploy.git",
    "https://x-access-token:SECRET@github.com/team-b/deploy.git",
    "https://TOKEN@GitHub.com/team-b/deploy",
    "git@github.com:team-b/deploy.git",
    "ssh://git@github.com/team-b/deploy.git",
    "ssh://git@github.com:22/team-b/deploy/",
]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_one_repository_however_its_url_is_spelt(url: str) -> None:
    assert repo_identity(url) == "github.com/team-b/deploy"


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("ssh://git@git.example.com:2222/ops/deploy.git", "git.example.com:2222/ops/deploy"),
        ("http://git.local:8080/ops/deploy", "git.local:8080/ops/deploy"),
        ("file:///srv/deployments.git", "/srv/deployments"),
        ("/srv/deployments.git/", "/srv/deployments"),
        ("/srv/work", "/srv/work"),
        ("git.example.com:ops/deploy.git", "git.example.com/ops/deploy"),
    ],
)
def test_identity_rules(url: str, identity: str) -> None:
    assert repo_identity(url) == identity


def test_credentials_never_reach_the_owner() -> None:
    assert "SECRET" not in repo_identity("https://user:SECRET@host/x.git")
    assert "TOKEN" not in repo_identity("https://TOKEN@host/x.git")


@pytest.mark.parametrize(
    ("path", "normal"),
    [(".", "."), ("", "."), ("./", "."), ("deploy/syncd/", "deploy/syncd"), ("./prod", "prod")],
)
def test_subpaths(path: str, normal: str) -> None:
    assert normal_subpath(path) == normal


def test_owner_string_joins_the_subpath_as_terraform_does() -> None:
    assert owner_string("github.com/team-b/deploy") == "github.com/team-b/deploy"
    assert owner_string("github.com/team-b/deploy", "./prod/") == "github.com/team-b/deploy//prod"


@pytest.mark.parametrize("owner", ["team-b", "github.com/team-b/deploy//prod", "a@b:c+d_e.f"])
def test_valid_configured_owners(owner: str) -> None:
    assert is_valid_owner(owner)


@pytest.mark.parametrize("owner", ["", "-team", "team b", "team\n", "é", "x" * 201])
def test_invalid_configured_owners(owner: str) -> None:
    assert not is_valid_owner(owner)


def test_a_configured_owner_wins(tmp_path: Path) -> None:
    assert checkout_owner(tmp_path, "team-b") == "team-b"
    assert daemon_owner("https://host/x.git", "prod", "team-b") == "team-b"


def test_remote_daemon_owner_needs_no_git() -> None:
    url = "https://TOKEN@github.com/team-b/deploy.git"
    assert daemon_owner(url, "prod") == "github.com/team-b/deploy//prod"


# --------------------------------------------------------------------------- real repositories


def test_a_clone_is_named_by_its_origin_and_agrees_with_the_daemon(
    remote: Path, work: Path
) -> None:
    (work / "prod").mkdir()
    expected = f"{repo_identity(str(remote.resolve()))}//prod"
    assert checkout_owner(work / "prod") == expected
    # a daemon following the bare remote, with its deployments in prod/
    assert daemon_owner(str(remote), "prod") == expected
    assert daemon_owner(f"file://{remote}", "./prod/") == expected


def test_a_checkout_with_a_remote_origin(work: Path) -> None:
    git(work, "remote", "set-url", "origin", "https://TOKEN@github.com/team-b/deploy.git")
    assert checkout_owner(work) == "github.com/team-b/deploy"
    assert checkout_owner(work) == daemon_owner("git@github.com:team-b/deploy.git")
    # a daemon following the local work tree reads its origin too, so the two agree
    assert daemon_owner(str(work)) == "github.com/team-b/deploy"


def test_a_repository_without_origin_is_named_by_its_top(tmp_path: Path) -> None:
    top = tmp_path / "solo"
    (top / "deploy").mkdir(parents=True)
    git(tmp_path, "init", "-q", "-b", "main", str(top))
    assert checkout_owner(top / "deploy") == f"{top.resolve()}//deploy"
    assert daemon_owner(str(top), "deploy") == f"{top.resolve()}//deploy"


def test_a_folder_outside_git_is_its_own_owner(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert checkout_owner(plain) == str(plain.resolve())
