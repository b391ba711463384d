"""``kind: swarm`` node files: loaded as Swarm clusters, and every mistake named at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from syncd.errors import SpecError
from syncd.spec.repository import load_repository, parse_node
from testkit.services import deployment, service_definition

SWARM = {"kind": "swarm", "id": "sw", "cluster": "c1", "managers": ["unix:///run/m1.sock"]}


def _repo(tmp_path: Path, nodes: list[dict[str, object]], regions: list[dict[str, str]]) -> Path:
    for folder in ("deployments", "definitions", "nodes"):
        (tmp_path / folder).mkdir(exist_ok=True)
    for index, node in enumerate(nodes):
        (tmp_path / "nodes" / f"n{index}.yaml").write_text(yaml.safe_dump(node, sort_keys=False))
    (tmp_path / "definitions" / "d.yaml").write_text(yaml.safe_dump(service_definition()))
    doc = deployment("web", 2)
    doc["targetRegions"] = regions
    (tmp_path / "deployments" / "web.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def _problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_repository(root)
    return [f"{p.file}:{p.line}: {p.message}" for p in caught.value.problems]


def test_a_swarm_file_loads_as_a_cluster_with_parsed_managers(tmp_path: Path) -> None:
    swarm = {
        **SWARM,
        "managers": ["unix:///run/m1.sock", "ssh://deploy@m2:2222"],
        "zoneLabel": "zone",
    }
    repo = load_repository(_repo(tmp_path, [swarm], [{"cluster": "c1", "zone": "any-zone"}]))
    assert repo.nodes == ()
    (loaded,) = repo.swarms
    assert (loaded.id, loaded.cluster, loaded.zone_label, loaded.cluster_label) == (
        "sw", "c1", "zone", "syncd.cluster",
    )  # fmt: skip
    assert [e.scheme for e in loaded.endpoints] == ["unix", "ssh"]
    assert loaded.endpoints[1].port == 2222


@pytest.mark.parametrize(
    ("swarm", "words"),
    [
        ({**SWARM, "url": "unix:///x.sock"}, "has managers, not url"),
        ({k: v for k, v in SWARM.items() if k != "managers"}, "missing required field 'managers'"),
        ({**SWARM, "managers": ["http://m1"]}, "unix://, tcp:// or ssh://"),
        ({**SWARM, "managers": ["ssh://m1:22"]}, "write ssh://USER@HOST:PORT"),
        ({**SWARM, "capacity": {"cpu": "4"}}, "no zone, capacity or gpus"),
    ],
)
def test_a_bad_swarm_file_says_what_to_fix(
    tmp_path: Path, swarm: dict[str, object], words: str
) -> None:
    problems = _problems(_repo(tmp_path, [swarm], [{"cluster": "c1"}]))
    assert any(words in p and p.startswith("nodes/n0.yaml") for p in problems), problems


def test_swarm_fields_on_a_host_node_are_refused(tmp_path: Path) -> None:
    host = {"id": "h1", "url": "unix:///x.sock", "cluster": "c2", "zoneLabel": "z"}
    problems = _problems(_repo(tmp_path, [host], [{"cluster": "c2"}]))
    assert any("belong to a 'kind: swarm' document" in p for p in problems), problems


def test_a_swarm_cluster_is_its_own_and_a_deployment_uses_one_kind(tmp_path: Path) -> None:
    host = {"id": "h1", "url": "unix:///x.sock", "cluster": "c1"}
    problems = _problems(_repo(tmp_path, [SWARM, host], [{"cluster": "c1"}]))
    assert any("already has Docker host nodes" in p for p in problems), problems
    other = {"id": "h1", "url": "unix:///x.sock", "cluster": "hosts"}
    mixed = _problems(_repo(tmp_path, [SWARM, other], [{"cluster": "c1"}, {"cluster": "hosts"}]))
    assert any("split it into one deployment per kind" in p for p in mixed), mixed


def test_node_and_swarm_ids_share_one_space(tmp_path: Path) -> None:
    host = {"id": "sw", "url": "unix:///x.sock", "cluster": "hosts"}
    problems = _problems(_repo(tmp_path, [host, SWARM], [{"cluster": "c1"}]))
    assert any("duplicate node id 'sw'" in p for p in problems), problems


def test_the_config_cannot_declare_a_swarm(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="declared in the repository"):
        parse_node(dict(SWARM))
