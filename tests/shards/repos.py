"""A sharded repository written to a folder: two clusters per side, one deployment each."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFINITION = {
    "id": "def_sleeper",
    "image": {"name": "syncd-test/busybox:latest", "internalPorts": []},
    "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
    "network": "none",
}
SHARDS = "shards:\n  east:\n    clusters: [eu-1]\n  west:\n    clusters: [us-1, us-2]\n"


def node(node_id: str, cluster: str) -> dict[str, object]:
    return {"id": node_id, "url": f"unix:///tmp/{node_id}.sock", "cluster": cluster}


def deployment(deployment_id: str, *clusters: str, replicas: int = 1) -> dict[str, object]:
    body: dict[str, object] = {
        "id": deployment_id,
        "definitionId": "def_sleeper",
        "replicas": replicas,
    }
    if clusters:
        body["targetRegions"] = [{"cluster": cluster} for cluster in clusters]
    return body


def write_repo(
    root: Path,
    *,
    shards: str | None = SHARDS,
    nodes: tuple[dict[str, object], ...] = (
        node("eu-a", "eu-1"),
        node("us-a", "us-1"),
        node("us-b", "us-2"),
    ),
    deployments: tuple[dict[str, object], ...] = (
        deployment("depl_east", "eu-1"),
        deployment("depl_west", "us-1", "us-2"),
    ),
) -> Path:
    """Write the repository's files under ``root`` (replacing what was there) and return it."""
    for folder in ("nodes", "deployments", "definitions"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for old in (root / folder).glob("*.yaml"):
            old.unlink()
    (root / "definitions" / "def_sleeper.yaml").write_text(yaml.safe_dump(DEFINITION))
    for body in nodes:
        (root / "nodes" / f"{body['id']}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    for body in deployments:
        path = root / "deployments" / f"{body['id']}.yaml"
        path.write_text(yaml.safe_dump(body, sort_keys=False))
    if shards is None:
        (root / "shards.yaml").unlink(missing_ok=True)
    else:
        (root / "shards.yaml").write_text(shards)
    return root
