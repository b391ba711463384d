"""A shard's pass: only its clusters' nodes and deployments, decided once at load; a shard the
revision does not define applies nothing. The config's ``shard`` and its notes ref."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.daemon.config import parse_config
from syncd.errors import ConfigError, SpecError
from syncd.source.notes import DEFAULT_NOTES_REF
from syncd.sync import Revision, Sync, SyncSettings
from syncd.sync.loading import load_revision
from syncd.sync.selection import shard_of

from .repos import write_repo


def _loaded(root: Path, shard: str | None):  # type: ignore[no-untyped-def]
    return Sync(SyncSettings(shard=shard), environ={}).load(Revision(root))


def test_a_shard_loads_only_its_clusters(tmp_path: Path) -> None:
    west = _loaded(write_repo(tmp_path), "west")
    assert [n.id for n in west.desired.nodes] == ["us-a", "us-b"]
    assert [d.id for d in west.desired.deployments] == ["depl_west"]
    east = _loaded(tmp_path, "east")
    assert [n.id for n in east.desired.nodes] == ["eu-a"]
    assert [d.id for d in east.desired.deployments] == ["depl_east"]


def test_an_unsharded_pass_keeps_every_cluster(tmp_path: Path) -> None:
    everything = _loaded(write_repo(tmp_path), None)
    assert len(everything.desired.nodes) == 3
    assert len(everything.desired.deployments) == 2


def test_a_shard_the_revision_does_not_define_applies_nothing(tmp_path: Path) -> None:
    loaded = load_revision(Revision(write_repo(tmp_path)), environ={})
    with pytest.raises(SpecError) as raised:
        shard_of(loaded, "north")
    assert (
        "configured for shard 'north', which shards.yaml does not define (it has east, west)"
        in (raised.value.problems[0].message)
    )
    assert (
        raised.value.hint == "add shard 'north' to shards.yaml, or fix shard: in the daemon config"
    )


def test_a_shard_on_an_unsharded_repository_applies_nothing(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        _loaded(write_repo(tmp_path, shards=None), "east")
    assert "the repository has no shards.yaml: nothing is applied" in str(raised.value)


def _config(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    body = f"repo: {{url: {tmp_path}/repo.git}}\n{text}"
    return parse_config(body.encode(), "syncd.yaml", base_dir=tmp_path)


def test_the_config_names_its_shard_and_gets_its_own_notes_ref(tmp_path: Path) -> None:
    settings = _config(tmp_path, "shard: east\n")
    assert settings.shard == "east"
    assert settings.notes.ref == "refs/notes/syncd-shards/east"
    assert SyncSettings.of(settings).shard == "east"


def test_an_unsharded_config_keeps_the_notes_ref(tmp_path: Path) -> None:
    settings = _config(tmp_path, "")
    assert settings.shard is None
    assert settings.notes.ref == DEFAULT_NOTES_REF


def test_an_explicit_notes_ref_wins_over_the_shard_default(tmp_path: Path) -> None:
    settings = _config(tmp_path, "shard: east\nnotes: {ref: refs/notes/east-status}\n")
    assert settings.notes.ref == "refs/notes/east-status"


def test_a_bad_shard_name_in_the_config_is_refused_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(tmp_path, "shard: East/1\n")
    assert str(raised.value.problems[0]).startswith("syncd.yaml:2:")
    assert "a shard name such as" in raised.value.problems[0].message
