"""load_yaml: plain data with positions, and every bad input refused with a located message."""

from __future__ import annotations

import pytest

from syncd.errors import SpecError
from syncd.spec.loading import Document, json_path, load_yaml


def only_problem(data: bytes, **kwargs):
    with pytest.raises(SpecError) as caught:
        load_yaml(data, "f.yaml", **kwargs)
    (problem,) = caught.value.problems
    return problem


def test_positions_of_values_and_keys_deep_in_a_file():
    text = (
        b"# comment\n"
        b"id: a\n"
        b"strategy:\n"
        b"  type: RollingUpdate\n"
        b"  maxSurge: 2\n"
        b"targetRegions:\n"
        b"  - cluster: us-west1\n"
        b"    zone:   us-west1-b\n"
    )
    (document,) = load_yaml(text, "deployments/a.yaml")
    assert document.data["targetRegions"][0]["zone"] == "us-west1-b"
    assert document.start_line == 2
    assert document.position(("strategy", "maxSurge")) == (5, 13)
    assert document.key_position(("strategy", "maxSurge")) == (5, 3)
    assert document.position(("targetRegions", 0, "zone")) == (8, 13)
    assert document.position(("targetRegions", 0)) == (7, 5)
    # a path that does not exist falls back to its nearest located parent
    assert document.position(("strategy", "nope", 3)) == (4, 3)
    problem = document.problem(("targetRegions", 0, "zone"), "bad zone")
    assert str(problem) == "deployments/a.yaml:8:13: $.targetRegions[0].zone: bad zone"


def test_multi_document_files_keep_each_documents_lines_and_skip_empty_ones():
    documents = load_yaml(b"id: one\n---\n---\nid: two\nx: [1, 2]\n...\n", "f.yaml")
    assert [d.data for d in documents] == [{"id": "one"}, {"id": "two", "x": [1, 2]}]
    assert [d.start_line for d in documents] == [1, 4]
    assert [d.index for d in documents] == [0, 2]
    assert documents[1].position(("x", 1)) == (5, 8)


def test_plain_data_types_are_the_safe_ones():
    (document,) = load_yaml(
        b"s: '5'\ni: 5\nf: 2.5\nb: true\nn: null\nl: [a]\nm: {k: v}\nd: 2024-01-02\n", "f.yaml"
    )
    data = document.data
    assert (data["s"], data["i"], data["f"], data["b"], data["n"]) == ("5", 5, 2.5, True, None)
    assert data["l"] == ["a"] and data["m"] == {"k": "v"}
    assert str(data["d"]) == "2024-01-02"


def test_merge_keys_fill_in_without_overriding():
    (document,) = load_yaml(
        b"base: &b {cpu: '1', memory: 1Gi}\nres:\n  <<: *b\n  cpu: '2'\n", "f.yaml"
    )
    assert document.data["res"] == {"cpu": "2", "memory": "1Gi"}


def test_a_utf8_bom_is_accepted():
    (document,) = load_yaml("\ufeffid: café\n".encode(), "f.yaml")
    assert document.data == {"id": "café"}


@pytest.mark.parametrize(
    ("data", "line", "column", "path", "words"),
    [
        (b"id: a\nreplicas: 1\nid: b\n", 3, 1, "$.id", ["duplicate key 'id'", "line 1"]),
        (b"a:\n  b:\n    c: 1\n    c: 2\n", 4, 5, "$.a.b.c", ["duplicate key 'c'"]),
        (b"", 1, 1, "$", ["empty file"]),
        (b"# only a comment\n\n", 1, 1, "$", ["empty file"]),
        (b"---\n---\n", 1, 1, "$", ["empty file"]),
        (b"id: a\nname: [unclosed\nx: 1\n", 3, 2, "$", ["invalid YAML", "flow sequence"]),
        (b"id: a\n  bad indent: 1\n", 2, 13, "$", ["invalid YAML", "mapping values"]),
        (b"id: a\ndesc: caf\xe9\n", 2, 10, "$", ["not UTF-8", "0xe9"]),
        (b"\xff\xfei\x00d\x00", 1, 1, "$", ["not UTF-8"]),
        (b"on: 1\n", 1, 1, "$", ["'on' is read as a boolean", 'quote it ("on")']),
        (b"labels:\n  1: x\n", 2, 3, "$.labels", ["'1' is read as a number"]),
        (b"? [a, b]\n: 1\n", 1, 3, "$", ["mapping key must be a plain string"]),
        (b"a: &x [1, *x]\n", 1, 4, "$.a[1]", ["recursive alias"]),
        (b"x: !!python/object:os.system ls\n", 1, 4, "$.x", ["unsupported tag"]),
        (b"x: !custom 1\n", 1, 4, "$.x", ["unsupported tag '!custom'"]),
        (b"x: !!set {a, b}\n", 1, 4, "$.x", ["unsupported tag"]),
        (b"x: !!binary aGVsbG8=\n", 1, 4, "$.x", []),  # safe, but not JSON: left to the schema
    ],
)
def test_bad_input_is_refused_with_a_located_message(data, line, column, path, words):
    if not words:
        (document,) = load_yaml(data, "f.yaml")
        assert document.data["x"] == b"hello"
        return
    problem = only_problem(data)
    assert (problem.file, problem.line, problem.column, problem.path) == (
        "f.yaml",
        line,
        column,
        path,
    )
    for word in words:
        assert word in problem.message


def test_an_alias_bomb_is_capped_not_expanded():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):  # 10**9 leaves if expanded
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    problem = only_problem("\n".join(lines).encode())
    assert "expands to more than" in problem.message
    assert "aliases" in problem.message


def test_modest_aliases_are_fine():
    (document,) = load_yaml(b"a: &a {k: v}\nb: [*a, *a]\n", "f.yaml")
    assert document.data["b"] == [{"k": "v"}, {"k": "v"}]


def test_a_file_over_the_size_cap_is_refused_before_parsing():
    problem = only_problem(b"a: " + b"x" * 2000 + b"\n", max_bytes=1000)
    assert "over the 1,000-byte limit" in problem.message
    assert "split" in problem.message


def test_the_default_size_cap_is_one_mebibyte():
    big = b"k: " + b"x" * (1024 * 1024) + b"\n"
    assert "1,048,576-byte limit" in only_problem(big).message


def test_deep_nesting_is_refused():
    problem = only_problem(b"a: " + b"[" * 100 + b"]" * 100 + b"\n")
    assert "nesting deeper than" in problem.message


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        ((), "$"),
        (("strategy", "maxSurge"), "$.strategy.maxSurge"),
        (("ports", 0, "host"), "$.ports[0].host"),
        (("labels", "io.syncd.x"), "$.labels['io.syncd.x']"),
        (("envars", "LOG-LEVEL"), "$.envars.LOG-LEVEL"),
        (("envars", "1X"), "$.envars['1X']"),
    ],
)
def test_json_path(parts, text):
    assert json_path(parts) == text


def test_a_document_without_positions_points_at_its_start():
    document = Document(data={"a": 1}, file="<api>")
    assert document.position(("a",)) == (1, 1)
    assert str(document.problem(("a",), "m")) == "<api>:1:1: $.a: m"
