"""``load_yaml`` builds a common document's data without positions and finds them again only when a
problem needs one. The data and every position must be those the recording builder gives
directly, for any document, in any place of a multi-document file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.errors import SpecError
from syncd.spec.loading import Document, _Builder, _Loader, load_yaml

keys = st.text("abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(["yes", "on", "0x1f", "1_000", "2026-01-01", "~", "08", "1e3"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, min_size=1, max_size=5)


def _recorded(text: str) -> list[Document]:
    """Every document as the recording builder alone makes it (the reference)."""
    loader = _Loader(text)
    found = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or node.tag == "tag:yaml.org,2002:null":
                continue
            builder = _Builder(loader, "f.yaml")
            data = builder.build(node, ())
            found.append(Document(data, "f.yaml", 1, 0, builder.values, builder.keys))
    finally:
        loader.dispose()
    return found


def _paths(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*path, index))
    return found


@settings(max_examples=200, deadline=None)
@given(stream=st.lists(documents, min_size=1, max_size=3), flow=st.booleans())
def test_data_and_positions_are_the_recording_builders(stream, flow):
    text = yaml.safe_dump_all(stream, default_flow_style=flow, explicit_start=True)
    quick, reference = load_yaml(text.encode(), "f.yaml"), _recorded(text)
    assert [d.data for d in quick] == [d.data for d in reference] == stream
    for document, expected in zip(quick, reference, strict=True):
        for path in _paths(document.data):
            assert document.position(path) == expected.position(path), path
            assert document.key_position(path) == expected.key_position(path), path
        assert document.position(("no", "such", 3)) == expected.position(("no", "such", 3))


def test_a_merge_key_is_built_by_the_recording_builder_with_its_positions():
    text = "base: &b {cpu: 1m, memory: 2Mi}\nresources:\n  <<: *b\n  cpu: 3m\n"
    document = load_yaml(text.encode(), "f.yaml")[0]
    assert document.data["resources"] == {"cpu": "3m", "memory": "2Mi"}
    assert document.position(("resources", "cpu")) == (4, 8)
    assert document.key_position(("resources", "memory")) == (1, 20)
    assert document._positions is None  # recorded as it was built, not found again


def test_a_duplicate_key_is_still_reported_with_both_lines():
    with pytest.raises(SpecError) as caught:
        load_yaml(b"id: a\nreplicas: 1\nreplicas: 2\n", "f.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (3, 1)
    assert "first written on line 2" in problem.message


@given(
    value=st.one_of(scalars.map(str), st.text(max_size=8)),
    implicit=st.tuples(st.booleans(), st.booleans()),
)
def test_the_resolver_short_cuts_agree_with_pyyaml(value, implicit):
    ours, theirs = _Loader(""), yaml.CSafeLoader("")
    try:
        assert ours.resolve(yaml.ScalarNode, value, implicit) == theirs.resolve(
            yaml.ScalarNode, value, implicit
        )
        for kind in (yaml.MappingNode, yaml.SequenceNode):
            assert ours.resolve(kind, None, implicit[0]) == theirs.resolve(kind, None, implicit[0])
    finally:
        ours.dispose()
        theirs.dispose()
