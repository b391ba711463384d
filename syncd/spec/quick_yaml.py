"""Building a composed YAML node tree into plain data fast, for the common document.

``load_yaml`` (spec/loading.py) tries this first; it records no positions (they are found again
only when a problem needs one) and refuses, with ``Unusual``, anything it does not handle the way
the recording builder does, which then builds the document instead. The limits and tags live here
so that both builders count and compare alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

# A 1 MiB file without aliases holds far fewer values than this; only aliases expand past it.
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 64

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"


class Unusual(Exception):
    """The quick builder met something only the recording builder handles or reports."""


class QuickBuilder:
    """The data of a composed node tree, without positions, for the common document: string
    keys, no merge keys, no unknown tags, within the limits. Anything else raises ``Unusual``
    and the recording builder (``loading._Builder``) builds the document instead, and reports
    what is wrong at its place: the two give the same data, and the quick one accepts only
    what the recording one accepts (the same values counted against the same limits).

    A recursive alias needs no set of the nodes being built here: it nests without end, so it
    passes ``MAX_DEPTH`` and goes to the recording builder, which names it."""

    def __init__(self, constructors: Mapping[str | None, Any], loader: Any) -> None:
        self.constructors = constructors  # the loader's scalar constructors, by tag
        self.loader = loader
        self.expanded = 0

    def build(self, node: yaml.Node, depth: int) -> Any:
        """The data of ``node`` (the root of a document, at ``depth`` 0)."""
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise Unusual
        return self._value(node, depth)

    def _value(self, node: yaml.Node, depth: int) -> Any:
        """The data of a node already counted."""
        kind = node.__class__
        if kind is yaml.ScalarNode:
            return self._scalar(node)
        if depth > MAX_DEPTH:
            raise Unusual
        if kind is yaml.MappingNode and node.tag == MAP_TAG:
            return self._mapping(node.value, depth + 1)
        if kind is yaml.SequenceNode and node.tag == SEQ_TAG:
            items = node.value
            self._count(len(items))
            return [self._value(item, depth + 1) for item in items]
        raise Unusual

    def _count(self, values: int) -> None:
        # a collection counts its values at once, before building them: the same total as one
        # by one, so a document goes over the limit here exactly when it does there
        self.expanded += values
        if self.expanded > MAX_EXPANDED_NODES:
            raise Unusual

    def _mapping(self, pairs: list[tuple[yaml.Node, yaml.Node]], depth: int) -> dict[str, Any]:
        self._count(len(pairs))
        built: dict[str, Any] = {}
        scalar = yaml.ScalarNode
        for key_node, value_node in pairs:
            if key_node.__class__ is not scalar or key_node.tag != STR_TAG:
                raise Unusual  # a merge key, or a key that is not a string
            key = key_node.value
            if key in built:
                raise Unusual  # a duplicate key: reported with both lines
            if value_node.__class__ is scalar and value_node.tag == STR_TAG:
                built[key] = value_node.value  # the most common value, without a call
            else:
                built[key] = self._value(value_node, depth)
        return built

    def _scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        text = node.value
        if tag == STR_TAG:
            return text
        if tag == INT_TAG and is_plain_decimal(text):
            return int(text)  # what construct_yaml_int gives, without its detours
        constructor = self.constructors.get(tag)
        if constructor is None:
            raise Unusual
        try:
            return constructor(self.loader, node)
        except yaml.YAMLError:
            raise Unusual from None


def is_plain_decimal(text: str) -> bool:
    """ASCII digits without a leading zero (which YAML 1.1 reads as octal), no sign, no ``_``."""
    return text.isascii() and text.isdigit() and (text[0] != "0" or len(text) == 1)
