"""A repository on disk (deployments/, definitions/, nodes/) that a test rewrites between passes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from syncd.spec.models import NodeSpec
from testkit.services import node_document, service_definition


@dataclass
class TestRepo:
    """A repository on disk that a test rewrites between passes; every write lists all nodes."""

    __test__ = False  # a helper, not a pytest test class

    root: Path
    nodes: list[NodeSpec]

    def write(
        self,
        deployments: list[dict[str, Any]],
        definitions: list[dict[str, Any]] | None = None,
    ) -> None:
        """Replace every document: these deployments, these definitions (default: the test
        service's), and one file per node."""
        for folder in ("deployments", "definitions", "nodes"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            for old in (self.root / folder).glob("*.yaml"):
                old.unlink()
        for doc in deployments:
            self._dump("deployments", doc["id"], doc)
        for doc in definitions if definitions is not None else [service_definition()]:
            self._dump("definitions", doc["id"], doc)
        for node in self.nodes:
            self._dump("nodes", node.id, node_document(node))

    def _dump(self, folder: str, name: str, doc: dict[str, Any]) -> None:
        (self.root / folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
