"""The PR preview (``syncd plan --base A --head B``) as a CI job runs it: what it imports, and
that its shortcuts (the head read from a clean work tree, files parsed once for both commits)
plan exactly what two full checkouts would."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from toolingkit import PROJECT_ROOT, git, run, write_files

from syncd.cli.plan import _KeepEnvReferences
from syncd.errors import UsageError
from syncd.plan import render
from syncd.plan.offline import plan_offline
from syncd.sync import checked_out, load_revision
from syncd.sync.preview import load_base_and_head

# What an offline preview has no use for: node drivers and their transports, the daemon's
# listener, page, scheduler and terminal tables.
DAEMON_AND_NODE_LIBRARIES = (
    "docker",
    "paramiko",
    "requests",
    "jinja2",
    "werkzeug",
    "cheroot",
    "rich",
    "apscheduler",
    "watchdog",
)

_IMPORTS_OF_A_PREVIEW = """
import json, sys
from syncd.cli.main import cli
cli.main(args=sys.argv[1:], prog_name="syncd", standalone_mode=False)
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _deployment(id_: str, replicas: int = 1, level: str = "info") -> str:
    return (
        f'id: "{id_}"\ndefinitionId: "def_web"\nreplicas: {replicas}\n'
        f"envars:\n  LOG_LEVEL: {level}\n"
    )


DEFINITION = 'id: "def_web"\nimage:\n  name: "web:1"\n  internalPorts: [8080]\n'
NODE = 'id: "node-a"\nurl: "unix:///nonexistent/a.sock"\ncluster: "test"\nzone: "z1"\n'


@pytest.fixture()
def pull_request(tmp_path: Path, clean_env: dict[str, str]) -> Path:
    """A work tree whose deployments live in ./deploy; HEAD~1 is the base, HEAD the head
    (one deployment changed, one added, one removed, one untouched)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main", env=clean_env)
    write_files(
        root,
        {
            "deploy/nodes/a.yaml": NODE,
            "deploy/definitions/web.yaml": DEFINITION,
            "deploy/deployments/same.yaml": _deployment("same"),
            "deploy/deployments/changed.yaml": _deployment("changed"),
            "deploy/deployments/removed.yaml": _deployment("removed"),
        },
    )
    git(root, "add", "-A", env=clean_env)
    git(root, "commit", "-q", "-m", "base", env=clean_env)
    (root / "deploy/deployments/removed.yaml").unlink()
    write_files(
        root,
        {
            "deploy/deployments/changed.yaml": _deployment("changed", 2, "debug"),
            "deploy/deployments/added.yaml": _deployment("added"),
        },
    )
    git(root, "add", "-A", env=clean_env)
    git(root, "commit", "-q", "-m", "head", env=clean_env)
    return root


def _two_checkouts(folder: Path, base: str, head: str) -> str:
    """The preview's markdown the long way: each commit written out and loaded on its own."""
    environ = _KeepEnvReferences()
    with checked_out(folder, base) as base_revision:
        before = load_revision(base_revision, environ=environ, read_secrets=False).desired
    with checked_out(folder, head) as head_revision:
        after = load_revision(head_revision, environ=environ, read_secrets=False).desired
    return "".join(render.markdown(plan_offline(before, after)))


def _preview(folder: Path, base: str, head: str) -> str:
    before, after = load_base_and_head(folder, base, head, environ=_KeepEnvReferences())
    return "".join(render.markdown(plan_offline(before, after)))


def test_an_offline_preview_imports_no_node_or_daemon_library(
    pull_request: Path, clean_env: dict[str, str]
) -> None:
    done = run(
        [
            sys.executable,
            "-c",
            _IMPORTS_OF_A_PREVIEW,
            "plan",
            "--repo",
            str(pull_request / "deploy"),
            "--base",
            "HEAD~1",
            "--format",
            "markdown",
        ],
        cwd=PROJECT_ROOT,
        env=clean_env,
        check=True,
    )
    assert "`added`" in done.stdout and "`removed`" in done.stdout  # it did plan
    loaded = {name.split(".")[0] for name in json.loads(done.stderr.splitlines()[-1])}
    assert sorted(loaded & set(DAEMON_AND_NODE_LIBRARIES)) == []


def test_the_head_read_from_a_clean_work_tree_plans_like_a_checkout(
    pull_request: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncd.sync.preview

    folder = pull_request / "deploy"
    written: list[str] = []

    def counting_checkout(folder: Path, rev: str):  # type: ignore[no-untyped-def]
        written.append(rev)
        return checked_out(folder, rev)

    monkeypatch.setattr(syncd.sync.preview, "checked_out", counting_checkout)
    preview = _preview(folder, "HEAD~1", "HEAD")
    # the base was read from Git and the head where it is: no commit was written out
    assert written == []
    assert preview == _two_checkouts(folder, "HEAD~1", "HEAD")
    assert "`same`" not in preview.split("<details>")[0]  # untouched: only counted
    assert "LOG_LEVEL: info -> debug" in preview


@pytest.mark.parametrize(
    "edit",
    ["modified", "staged", "untracked", "ignored"],
)
def test_a_work_tree_that_differs_from_the_head_is_not_read(
    pull_request: Path, clean_env: dict[str, str], edit: str
) -> None:
    """Whatever is in the folder beyond the commit (a modified, staged, untracked or ignored
    file) never reaches the preview of that commit."""
    folder = pull_request / "deploy"
    expected = _two_checkouts(folder, "HEAD~1", "HEAD")
    if edit in ("modified", "staged"):
        (folder / "deployments/same.yaml").write_text(_deployment("same", 7))
        if edit == "staged":
            git(pull_request, "add", "-A", env=clean_env)
    else:
        if edit == "ignored":
            (pull_request / ".gitignore").write_text("local.yaml\n")
            git(pull_request, "add", ".gitignore", env=clean_env)
            git(pull_request, "commit", "-q", "-m", "ignore", env=clean_env)
            expected = _two_checkouts(folder, "HEAD~2", "HEAD")
        (folder / "deployments/local.yaml").write_text(_deployment("local"))
    base = "HEAD~2" if edit == "ignored" else "HEAD~1"
    preview = _preview(folder, base, "HEAD")
    assert preview == expected
    assert "`local`" not in preview and "7 replicas" not in preview


def test_a_head_other_than_the_work_tree_is_checked_out(
    pull_request: Path, clean_env: dict[str, str]
) -> None:
    folder = pull_request / "deploy"
    head = git(pull_request, "rev-parse", "HEAD", env=clean_env).strip()
    git(pull_request, "checkout", "-q", "HEAD~1", env=clean_env)  # the work tree is the base
    assert _preview(folder, "HEAD", head) == _two_checkouts(folder, "HEAD", head)
    assert "`added`" in _preview(folder, "HEAD", head)


def test_a_preview_with_local_build_contexts_plans_like_two_checkouts(
    pull_request: Path, clean_env: dict[str, str]
) -> None:
    """A definition built from a folder of the repository: its context is written for the
    checks and the content hash, and a change inside it is a new image."""
    folder = pull_request / "deploy"
    built = 'id: "def_built"\nrepository:\n  url: ./services/web\n  internalPorts: [8080]\n'
    write_files(
        pull_request,
        {
            "deploy/definitions/built.yaml": built,
            "deploy/deployments/built.yaml": 'id: "built"\ndefinitionId: "def_built"\n',
            "deploy/services/web/Dockerfile": "FROM scratch\nCOPY www /www\n",
            "deploy/services/web/www/index.html": "one\n",
        },
    )
    git(pull_request, "add", "-A", env=clean_env)
    git(pull_request, "commit", "-q", "-m", "a built deployment", env=clean_env)
    (folder / "services/web/www/index.html").write_text("two\n")
    git(pull_request, "commit", "-q", "-am", "new page", env=clean_env)
    preview = _preview(folder, "HEAD~1", "HEAD")
    assert preview == _two_checkouts(folder, "HEAD~1", "HEAD")
    assert "`built`" in preview  # the new page is a new image tag: the deployment rolls


def test_a_commit_with_a_symlink_is_still_previewed_from_a_checkout(
    pull_request: Path, clean_env: dict[str, str]
) -> None:
    folder = pull_request / "deploy"
    (folder / "deployments/alias.yaml").symlink_to("../shared/alias.yaml")
    write_files(pull_request, {"deploy/shared/alias.yaml": _deployment("alias")})
    git(pull_request, "add", "-A", env=clean_env)
    git(pull_request, "commit", "-q", "-m", "a symlinked deployment", env=clean_env)
    git(pull_request, "checkout", "-q", "HEAD~2", env=clean_env)  # neither is the work tree
    preview = _preview(folder, "main~1", "main")
    assert preview == _two_checkouts(folder, "main~1", "main")
    assert "`alias`" in preview


def test_a_head_without_the_folder_is_refused(
    pull_request: Path, clean_env: dict[str, str]
) -> None:
    folder = pull_request / "deploy"
    git(pull_request, "rm", "-q", "-r", "deploy", env=clean_env)
    git(pull_request, "commit", "-q", "-m", "moved away", env=clean_env)
    git(pull_request, "checkout", "-q", "HEAD~1", env=clean_env)  # the folder is back on disk
    with pytest.raises(UsageError, match="is not a folder at 'main'"):
        _preview(folder, "HEAD", "main")
