"""Validation of shards.yaml against the repository: every cluster in exactly one shard, every
deployment in one shard, problems at FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syncd.errors import SpecError
from syncd.spec.repository import load_repository
from syncd.spec.shards import Shard, ShardMap

from .repos import SHARDS, deployment, node, write_repo


def _problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as raised:
        load_repository(root)
    return [str(problem) for problem in raised.value.problems]


def test_a_valid_assignment_is_loaded_with_the_repository(tmp_path: Path) -> None:
    repo = load_repository(write_repo(tmp_path))
    assert repo.shards == ShardMap((Shard("east", ("eu-1",)), Shard("west", ("us-1", "us-2"))))
    assert repo.shards.shard_of("us-2") == "west"
    assert repo.shards.shards[1].source is not None
    assert str(repo.shards.shards[1].source) == "shards.yaml:4"


def test_without_shards_yaml_the_repository_is_unsharded(tmp_path: Path) -> None:
    assert load_repository(write_repo(tmp_path, shards=None)).shards is None


def test_a_cluster_in_no_shard_is_refused_at_its_node_file(tmp_path: Path) -> None:
    nodes = (node("eu-a", "eu-1"), node("us-a", "us-1"), node("ap-a", "ap-1"))
    problems = _problems(write_repo(tmp_path, nodes=nodes, deployments=()))
    assert problems == [
        "nodes/ap-a.yaml:3:10: $.cluster: cluster 'ap-1' (of node 'ap-a') is in no shard, so no "
        "daemon would apply it: add it to one shard's clusters in shards.yaml (shards: east, west)"
    ]


def test_a_cluster_in_two_shards_is_refused_at_the_second_listing(tmp_path: Path) -> None:
    shards = "shards:\n  east:\n    clusters: [eu-1, us-1]\n  west:\n    clusters: [us-1, us-2]\n"
    problems = _problems(write_repo(tmp_path, shards=shards, deployments=()))
    assert len(problems) == 1
    assert problems[0].startswith("shards.yaml:5:")
    assert "cluster 'us-1' is listed also in shard 'east' (shards.yaml:3)" in problems[0]


def test_a_deployment_across_two_shards_is_refused(tmp_path: Path) -> None:
    spanning = (deployment("depl_both", "eu-1", "us-1"),)
    problems = _problems(write_repo(tmp_path, deployments=spanning))
    assert len(problems) == 1
    assert problems[0].startswith("deployments/depl_both.yaml:")
    assert "(east: eu-1; west: us-1)" in problems[0]
    assert "split it into one deployment per shard" in problems[0]


def test_a_deployment_without_target_regions_spans_every_shard(tmp_path: Path) -> None:
    problems = _problems(write_repo(tmp_path, deployments=(deployment("depl_anywhere"),)))
    assert len(problems) == 1
    assert "give it targetRegions in the clusters of one shard" in problems[0]


def test_a_shard_cluster_without_nodes_is_only_a_note(tmp_path: Path) -> None:
    shards = SHARDS.replace("[eu-1]", "[eu-1, eu-2]")
    repo = load_repository(write_repo(tmp_path, shards=shards))
    assert [p.message for p in repo.notes] == [
        "shard 'east' lists cluster 'eu-2', which no node declares"
    ]


def test_a_bad_shard_name_is_a_schema_problem(tmp_path: Path) -> None:
    problems = _problems(write_repo(tmp_path, shards="shards:\n  East_1:\n    clusters: [eu-1]\n"))
    assert problems and all(p.startswith("shards.yaml:") for p in problems)


def test_shards_yaml_must_say_shards(tmp_path: Path) -> None:
    problems = _problems(write_repo(tmp_path, shards="clusters: [eu-1]\n"))
    assert problems and all(p.startswith("shards.yaml:") for p in problems)


def test_a_swarm_cluster_in_no_shard_is_refused_at_its_node_file(tmp_path: Path) -> None:
    root = write_repo(tmp_path, deployments=())
    swarm = {"kind": "swarm", "id": "sw-ap", "cluster": "ap-1", "managers": ["unix:///m.sock"]}
    (root / "nodes" / "sw-ap.yaml").write_text(yaml.safe_dump(swarm, sort_keys=False))
    problems = _problems(root)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        "nodes/sw-ap.yaml:3:10: $.cluster: cluster 'ap-1' (of Swarm 'sw-ap')"
    )
    assert "is in no shard" in problems[0]


def test_a_swarm_cluster_in_a_shard_is_assigned_like_hosts(tmp_path: Path) -> None:
    shards = "shards:\n  east:\n    clusters: [eu-1, sw-1]\n  west:\n    clusters: [us-1, us-2]\n"
    root = write_repo(tmp_path, shards=shards, deployments=())
    swarm = {"kind": "swarm", "id": "sw", "cluster": "sw-1", "managers": ["unix:///m.sock"]}
    (root / "nodes" / "sw.yaml").write_text(yaml.safe_dump(swarm, sort_keys=False))
    repo = load_repository(root)
    assert repo.shards is not None and repo.shards.shard_of("sw-1") == "east"
    assert [swarm.id for swarm in repo.swarms] == ["sw"]
    # the Swarm declares its cluster: no "lists cluster ..., which no node declares" note
    assert not [note for note in repo.notes if "sw-1" in note.message]
