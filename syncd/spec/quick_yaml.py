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
    what is wrong at its place: the two give the same data, counted the same way against the
    same limits."""

    def __init__(self, constructors: Mapping[str | None, Any], loader: Any) -> None:
        self.constructors = constructors  # the loader's scalar constructors, by tag
        self.loader = loader
        self.expanded = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise Unusual
        kind = node.__class__
        if kind is yaml.ScalarNode:
            tag = node.tag
            if tag == STR_TAG:
                return node.value
            if tag == INT_TAG and is_plain_decimal(node.value):
                return int(node.value)  # what construct_yaml_int gives, without its detours
            constructor = self.constructors.get(tag)
            if constructor is None:
                raise Unusual
            try:
                return constructor(self.loader, node)
            except yaml.YAMLError:
                raise Unusual from None
        if depth > MAX_DEPTH or id(node) in self.active:
            raise Unusual
        self.active.add(id(node))
        try:
            if kind is yaml.SequenceNode and node.tag == SEQ_TAG:
                return [self.build(item, depth + 1) for item in node.value]
            if kind is not yaml.MappingNode or node.tag != MAP_TAG:
                raise Unusual
            built: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag != STR_TAG:
                    raise Unusual  # a merge key, or a key that is not a string
                key = key_node.value
                if key in built:
                    raise Unusual  # a duplicate key: reported with both lines
                if value_node.__class__ is yaml.ScalarNode and value_node.tag == STR_TAG:
                    self.expanded += 1  # build() inlined for the most common value: a string
                    if self.expanded > MAX_EXPANDED_NODES:
                        raise Unusual
                    built[key] = value_node.value
                else:
                    built[key] = self.build(value_node, depth + 1)
            return built
        finally:
            self.active.discard(id(node))


def is_plain_decimal(text: str) -> bool:
    """ASCII digits without a leading zero (which YAML 1.1 reads as octal), no sign, no ``_``."""
    return text.isascii() and text.isdigit() and (text[0] != "0" or len(text) == 1)
