"""The quick YAML builder (spec/quick_yaml.py) accepts exactly what the recording builder does.

It counts a collection's values at once and finds a recursive alias by its depth alone; these
check that a document at the expansion limit still loads the quick way (no positions recorded)
and one value more is refused with the recording builder's message, and that a recursive alias
nested under the depth limit is still named as such.
"""

from __future__ import annotations

import pytest

from syncd.errors import SpecError
from syncd.spec.loading import load_yaml
from syncd.spec.quick_yaml import MAX_EXPANDED_NODES


def _aliased(extra_key: bool) -> bytes:
    """A mapping expanding to MAX_EXPANDED_NODES values exactly (one more with ``extra_key``).

    root 1 + ``a`` 1 + its k items + ``b`` 1 + m aliases each of k + 1 values = 2 + (m+1)(k+1).
    """
    aliases, items = 5, 33_332
    assert 2 + (aliases + 1) * (items + 1) == MAX_EXPANDED_NODES
    text = "a: &a [" + ", ".join(["1"] * items) + "]\n"
    text += "b: [" + ", ".join(["*a"] * aliases) + "]\n"
    if extra_key:
        text += "c: 1\n"
    return text.encode()


def test_a_document_at_the_expansion_limit_loads_the_quick_way():
    (document,) = load_yaml(_aliased(extra_key=False), "f.yaml")
    assert document._positions is not None  # built by the quick builder: positions on demand
    assert len(document.data["b"]) == 5
    assert document.data["b"][4] == [1] * 33_332


def test_one_value_over_the_limit_is_refused_with_the_recording_builders_message():
    with pytest.raises(SpecError) as caught:
        load_yaml(_aliased(extra_key=True), "f.yaml")
    (problem,) = caught.value.problems
    assert f"expands to more than {MAX_EXPANDED_NODES:,} values" in problem.message


def test_a_recursive_alias_deep_in_a_document_is_named_with_its_place():
    nested = "".join(f"{'  ' * level}k{level}:\n" for level in range(10))
    text = nested + "  " * 10 + "a: &x [1, *x]\n"
    with pytest.raises(SpecError) as caught:
        load_yaml(text.encode(), "f.yaml")
    (problem,) = caught.value.problems
    assert "recursive alias" in problem.message
    assert problem.line == 11
