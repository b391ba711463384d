"""Reading one schema-valid daemon config document: values by key path, durations, paths taken
from the config file's directory, the extra nodes. What only code can find wrong (a duration of
zero, a bad node) is collected in ``problems``, located in the file, so every problem is reported
at once. ``syncd.daemon.config`` builds the typed settings from these values.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from syncd.errors import SpecError, SpecProblem
from syncd.spec.loading import Document
from syncd.spec.models import NodeSpec
from syncd.spec.quantities import QuantityError, parse_duration


class ConfigDocument:
    """A schema-valid config document and the problems found while reading its values."""

    def __init__(self, document: Document, base_dir: Path) -> None:
        self.document = document
        self.base_dir = base_dir
        self.problems: list[SpecProblem] = []

    def value(self, parts: tuple[str, ...]) -> Any:
        """The value at ``parts`` (a key path), or None when any key on the way is missing."""
        value: Any = self.document.data
        for part in parts:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def duration(self, parts: tuple[str, ...], default: float) -> float:
        """The duration at ``parts`` in seconds; ``default`` when absent or wrong (then noted)."""
        value = self.value(parts)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except QuantityError as exc:
            self.problems.append(self.document.problem(parts, exc.message))
            return default
        if seconds <= 0:
            self.problems.append(self.document.problem(parts, "must be longer than zero"))
            return default
        return seconds

    def path(self, value: str | None) -> Path | None:
        """``~`` expanded; a relative path taken from the config file's directory."""
        if value is None:
            return None
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base_dir / path

    def url(self, url: str) -> str:
        """The repo url; a relative local path taken from the config file's directory."""
        # A relative local path means relative to the config file, like every other path.
        if "://" in url or url.startswith("/") or _looks_scp_like(url):
            return url
        return str(self.base_dir / url)

    def nodes(self, raw_nodes: list[Any]) -> tuple[NodeSpec, ...]:
        """The config's extra nodes, checked as a repository's node files are."""
        if not raw_nodes:
            return ()
        from syncd.spec.repository import parse_node

        nodes: list[NodeSpec] = []
        for index, raw_node in enumerate(raw_nodes):
            prefix = ("nodes", index)
            try:
                nodes.append(parse_node(self.node_paths(raw_node), self.document.file))
            except SpecError as exc:
                # parse_node sees plain data: put each problem back at its line in this file.
                for problem in exc.problems:
                    parts = (*prefix, *_parse_json_path(problem.path))
                    self.problems.append(self.document.problem(parts, problem.message))
        return tuple(nodes)

    def node_paths(self, raw_node: Any) -> Any:
        """The node with its TLS and SSH file paths taken from the config file's directory."""
        if not isinstance(raw_node, dict):
            return raw_node
        node = dict(raw_node)
        for section, keys in (
            ("tls", ("caCert", "clientCert", "clientKey")),
            ("ssh", ("identityFile", "knownHosts")),
        ):
            if isinstance(node.get(section), dict):
                node[section] = {
                    key: str(self.path(value)) if key in keys and isinstance(value, str) else value
                    for key, value in node[section].items()
                }
        return node


def _parse_json_path(path: str) -> tuple[str | int, ...]:
    """``$.tls.caCert`` / ``$.gpus[0].vram`` back into parts (the inverse of json_path)."""
    parts: list[str | int] = []
    for match in re.finditer(r"\.([^.\[]+)|\[(\d+)\]|\['([^']*)'\]", path.removeprefix("$")):
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else quoted))
    return tuple(parts)


def _looks_scp_like(url: str) -> bool:
    """``git@host:org/repo.git``: scp-like syntax Git accepts for ssh."""
    head = url.split("/", 1)[0]
    return ":" in head and "@" in head
