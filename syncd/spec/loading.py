"""Safe YAML loading that remembers where every value came from.

PyYAML's C parser composes the node tree (fast); we then build plain Python data from it
ourselves, which lets us do what ``yaml.safe_load`` does not:

- refuse duplicate mapping keys (PyYAML silently keeps the last one);
- cap the expanded size, so an alias bomb ("billion laughs") is an error, not an out-of-memory;
- refuse recursive aliases and absurd nesting;
- record the line and column of every key and value, so a schema error deep in a file points at
  the exact place, and non-string keys (``on:``/``yes:`` read as booleans) are named.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from syncd.errors import SpecError, SpecProblem
from syncd.spec.quick_yaml import MAP_TAG as _MAP_TAG
from syncd.spec.quick_yaml import MAX_DEPTH, MAX_EXPANDED_NODES, QuickBuilder, Unusual
from syncd.spec.quick_yaml import SEQ_TAG as _SEQ_TAG
from syncd.spec.quick_yaml import STR_TAG as _STR_TAG

JsonPath = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
_MERGE_TAG = "tag:yaml.org,2002:merge"


_KIND = {bool: "boolean", int: "number", float: "number", type(None): "null"}


class _Loader(yaml.CSafeLoader):
    """The C parser with PyYAML's safe scalar constructors; no Python object tags.

    The C parser asks Python to resolve every scalar's tag; without path resolvers that depends
    on the text alone, so plain scalars are resolved once per distinct value (repos repeat
    "true", "1", "RollingUpdate"...). Quoted scalars are strings without asking.
    """

    _plain_tags: ClassVar[dict[str, str]] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers are registered: nothing to track

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return _STR_TAG  # quoted (or a bare '!'): a string, as the base resolver says
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._plain_tags) < 50_000 and len(value) < 100:
                    self._plain_tags[value] = tag
            return tag
        # an untagged collection: what the base resolver gives without path resolvers
        return _MAP_TAG if kind is yaml.MappingNode else _SEQ_TAG


def json_path(parts: JsonPath) -> str:
    """``("strategy", "maxSurge")`` -> ``$.strategy.maxSurge``; ``("ports", 0)`` -> ``$.ports[0]``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and not part[:1].isdigit():
            text += f".{part}"
        else:
            text += "[" + repr(part) + "]"
    return text


class _Positions:
    """Where every key and value of one document is written, found when first asked for.

    Most documents are valid and nobody ever asks, so the load builds the data alone; a
    position is wanted for a problem, and then the document's text is composed again (the same
    text gives the same node tree) and walked by the recording builder, once."""

    def __init__(self, text: str, ordinal: int, file: str) -> None:
        self._text: str | None = text
        self._ordinal = ordinal  # how many nodes the stream composes before this document's
        self._file = file
        self._found: tuple[dict[JsonPath, tuple[int, int]], dict[JsonPath, tuple[int, int]]]
        self._found = ({}, {})

    def get(self) -> tuple[dict[JsonPath, tuple[int, int]], dict[JsonPath, tuple[int, int]]]:
        """(value positions, key positions), by path."""
        text = self._text
        if text is not None:  # racing threads compute the same dicts: either may win
            loader = _Loader(text)
            try:
                composed, node = 0, None
                while loader.check_node():  # the very calls load_yaml made, to the same node
                    node = loader.get_node()
                    if composed == self._ordinal:
                        break
                    composed += 1
                builder = _Builder(loader, self._file)
                if node is not None:
                    builder.build(node, ())
            finally:
                loader.dispose()
            self._found = (builder.values, builder.keys)
            self._text = None
        return self._found


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: plain data plus the position of every key and value."""

    data: Any
    file: str
    start_line: int = 1
    index: int = 0  # position of the document in its file (0 for the first)
    _values: dict[JsonPath, tuple[int, int]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    # set instead of _values/_keys when the positions are found on demand
    _positions: _Positions | None = field(default=None, repr=False, compare=False)

    def _located(self) -> tuple[dict[JsonPath, tuple[int, int]], dict[JsonPath, tuple[int, int]]]:
        return self._positions.get() if self._positions is not None else (self._values, self._keys)

    def position(self, parts: JsonPath) -> tuple[int, int]:
        """1-based (line, column) of the value at ``parts``, else of its nearest located parent."""
        values = self._located()[0]
        for length in range(len(parts), -1, -1):
            found = values.get(tuple(parts[:length]))
            if found:
                return found
        return (self.start_line, 1)

    def key_position(self, parts: JsonPath) -> tuple[int, int]:
        """Where the key naming ``parts`` is written (the value's position when it has no key)."""
        return self._located()[1].get(tuple(parts)) or self.position(parts)

    def problem(self, parts: JsonPath, message: str, *, at_key: bool = False) -> SpecProblem:
        """A SpecProblem located at ``parts`` in this document."""
        line, column = self.key_position(parts) if at_key else self.position(parts)
        return SpecProblem(self.file, line, column, json_path(parts), message)


class _Builder:
    """Turns one composed node tree into plain data, recording positions and refusing abuse."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.expanded = 0
        self.active: set[int] = set()  # nodes on the current path, to catch recursive aliases

    def fail(self, node: yaml.Node, message: str, path: JsonPath = ()) -> SpecError:
        mark = node.start_mark
        return SpecError(
            [SpecProblem(self.file, mark.line + 1, mark.column + 1, json_path(path), message)]
        )

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_EXPANDED_NODES:,} values "
                "(aliases nested inside aliases?): write the values out or split the file",
                path,
            )
        mark = node.start_mark
        self.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == _STR_TAG else self.scalar(node, path)
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        if id(node) in self.active:
            raise self.fail(node, "recursive alias: an anchor refers to itself", path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self.fail(node, f"unsupported tag {node.tag!r} on a list", path)
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            if not isinstance(node, yaml.MappingNode) or node.tag != _MAP_TAG:
                raise self.fail(node, f"unsupported tag {node.tag!r} on a mapping", path)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        if node.tag == _STR_TAG:
            return node.value
        constructor = self.loader.yaml_constructors.get(node.tag)
        if constructor is None:
            raise self.fail(node, f"unsupported tag {node.tag!r}: write a plain value", path)
        try:
            return constructor(self.loader, node)
        except yaml.YAMLError as exc:
            raise self.fail(node, f"cannot read value {node.value!r}: {exc}", path) from None

    def key(self, node: yaml.Node, path: JsonPath) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(
                node, "a mapping key must be a plain string, not a list or mapping", path
            )
        value = self.scalar(node, path)
        if not isinstance(value, str):
            raise self.fail(
                node,
                f"key {node.value!r} is read as a {_KIND.get(type(value), type(value).__name__)}, not a string: "
                f'quote it ("{node.value}")',
                path,
            )
        return value

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        built: dict[str, Any] = {}
        keys = self.keys
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if key_node.__class__ is yaml.ScalarNode and key_node.tag == _STR_TAG:
                key = key_node.value
            else:
                key = self.key(key_node, path)
            child = (*path, key)
            if key in built:
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r} (first written on line {keys[child][0]}): "
                    "YAML keeps only one of them; remove or rename one",
                    child,
                )
            mark = key_node.start_mark
            keys[child] = (mark.line + 1, mark.column + 1)
            built[key] = self.build(value_node, child)
        # Merged keys ('<<: *base') fill in what the mapping does not set; earlier merges win.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise self.fail(
                        source, "a merge key '<<' takes a mapping or a list of them", path
                    )
                for key_node, value_node in source.value:
                    key = self.key(key_node, path)
                    if key not in built:
                        child = (*path, key)
                        mark = key_node.start_mark
                        keys[child] = (mark.line + 1, mark.column + 1)
                        built[key] = self.build(value_node, child)
        return built


def _decode(data: bytes, display_name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError(
            [
                SpecProblem(
                    display_name,
                    line,
                    column,
                    "$",
                    f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
                    "save the file as UTF-8",
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def decode_text(data: bytes) -> str | None:
    """The text of a file's bytes as ``load_yaml`` reads it; None when they are not UTF-8."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None


def load_yaml(data: bytes, display_name: str, *, max_bytes: int = MAX_FILE_BYTES) -> list[Document]:
    """Every document of a YAML file, as plain data with positions.

    Raises SpecError (located to file:line:col) for a file over ``max_bytes``, non-UTF-8 bytes,
    malformed YAML, duplicate keys, alias bombs, unsupported tags and an empty file. Documents
    that are empty (a stray ``---``) are skipped; a file with none at all is an error.
    """

    def whole_file(message: str) -> SpecError:
        return SpecError([SpecProblem(display_name, 1, 1, "$", message)])

    if len(data) > max_bytes:
        raise whole_file(
            f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit: split it into several files"
        )
    text = _decode(data, display_name)
    documents: list[Document] = []
    loader = _Loader(text)
    try:
        for node, ordinal, index in _documents(loader):
            start_line = node.start_mark.line + 1
            try:
                value = QuickBuilder(loader.yaml_constructors, loader).build(node, 0)
            except Unusual:
                builder = _Builder(loader, display_name)
                value = builder.build(node, ())
                document = Document(
                    value, display_name, start_line, index, builder.values, builder.keys
                )
            else:
                document = _quick_document(text, display_name, (value, start_line, index, ordinal))
            documents.append(document)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise SpecError(
            [SpecProblem(display_name, line, column, "$", f"invalid YAML: {reason}")]
        ) from None
    except yaml.YAMLError as exc:
        raise whole_file(f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not documents:
        raise whole_file(
            "empty file: expected a YAML document (a Deployment, Definition or Node); "
            "delete the file or fill it in"
        )
    return documents


def _documents(loader: _Loader) -> Iterator[tuple[yaml.Node, int, int]]:
    """(root node, nodes the stream composed before it, its index in the file) of every
    document of the stream that is not empty; an empty one (a stray ``---``) still counts in
    the index, as the file's readers number its documents."""
    index = 0
    ordinal = 0  # nodes composed so far: where _Positions finds this document again
    while loader.check_node():
        node = loader.get_node()
        ordinal += 1
        if node is None:
            continue
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            index += 1
            continue
        yield node, ordinal - 1, index
        index += 1


# A document built the quick way, as plain values that cross a process boundary by marshal:
# (data, start line, index in the file, nodes composed before it)
QuickDocument = tuple[Any, int, int, int]
# A file read and built that way: (its text, its documents)
PreparedFile = tuple[str, list[QuickDocument]]


def quick_documents(text: str) -> list[QuickDocument] | None:
    """The documents of ``text`` when every one of them is common (``QuickBuilder`` builds it)
    and the text parses; None otherwise, and for a file with no document: ``load_yaml`` then
    reads the file and builds or reports it. What ``spec/parse_helper.py`` runs in its second
    process; ``documents_from_quick`` makes the Documents ``load_yaml`` would have made."""
    loader = _Loader(text)
    try:
        built = [
            (
                QuickBuilder(loader.yaml_constructors, loader).build(node, 0),
                node.start_mark.line + 1,
                index,
                ordinal,
            )
            for node, ordinal, index in _documents(loader)
        ]
    except (Unusual, yaml.YAMLError):
        return None
    finally:
        loader.dispose()
    return built or None


def documents_from_quick(
    text: str, display_name: str, documents: list[QuickDocument]
) -> list[Document]:
    """The Documents of a file that ``quick_documents`` built, as ``load_yaml`` makes them."""
    return [_quick_document(text, display_name, document) for document in documents]


def _quick_document(text: str, display_name: str, quick: QuickDocument) -> Document:
    value, start_line, index, ordinal = quick
    positions = _Positions(text, ordinal, display_name)
    return Document(value, display_name, start_line, index, _positions=positions)


def document_from_data(data: Any, file: str = "<api>") -> Document:
    """A Document for data that did not come from YAML (an API body): every position is 1:1."""
    return Document(data=data, file=file)
