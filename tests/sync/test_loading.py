"""The load step: the config's nodes join the repository's one way, and a clash is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.errors import SpecError
from syncd.spec.models import NodeSpec
from syncd.sync import Revision, SyncSettings, load_revision


def node(node_id: str) -> NodeSpec:
    return NodeSpec(id=node_id, url=f"tcp://{node_id}.invalid:2376", cluster="main")


def test_config_nodes_come_after_the_repositorys(repo_with: Callable[..., Path]) -> None:
    root = repo_with({"depl_web": 1})
    loaded = load_revision(Revision(root), SyncSettings(extra_nodes=(node("node-x"),)), environ={})
    assert [n.id for n in loaded.desired.nodes] == ["node-a", "node-b", "node-x"]


def test_a_config_node_with_a_repository_nodes_id_is_refused(
    repo_with: Callable[..., Path],
) -> None:
    """The daemon used to drop the repository's node and the CLI to keep both; both now load
    through load_repository, which names the file to fix."""
    root = repo_with({"depl_web": 1})
    with pytest.raises(SpecError) as raised:
        load_revision(Revision(root), SyncSettings(extra_nodes=(node("node-b"),)), environ={})
    [problem] = raised.value.problems
    assert problem.file == "nodes/node-b.yaml"
    assert "also declared in the daemon's configuration" in str(problem)


def test_an_invalid_revision_carries_the_callers_hint(repo_with: Callable[..., Path]) -> None:
    root = repo_with({"depl_web": 1})
    (root / "deployments" / "depl_web.yaml").write_text("id: depl_web\nreplicas: two\n")
    with pytest.raises(SpecError) as raised:
        load_revision(Revision(root, "abc"), environ={}, invalid_hint="fix abc first")
    assert raised.value.hint == "fix abc first"


def test_secrets_are_read_from_the_settings_unless_told_not_to(
    repo_with: Callable[..., Path], tmp_path: Path
) -> None:
    root = repo_with({"depl_web": 1})
    settings = SyncSettings(secrets_dir=tmp_path / "secrets")
    loaded = load_revision(Revision(root), settings, environ={})
    assert loaded.secrets is not None and loaded.secrets.secrets_dir == tmp_path / "secrets"
    offline = load_revision(Revision(root), settings, environ={}, read_secrets=False)
    assert offline.secrets is None
