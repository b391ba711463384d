"""JSON Schemas: every field type checked, with messages a person can act on, at the right place."""

from __future__ import annotations

import json
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from syncd.errors import SyncdError
from syncd.spec.loading import load_yaml
from syncd.spec.schemas import (
    check,
    check_data,
    fast_validator,
    load_schema,
    schema_names,
    validator,
)

from .conftest import EXAMPLE_REPO, PROJECT_ROOT


def problems(schema: str, text: str) -> list[tuple[int, int, str, str]]:
    (document,) = load_yaml(textwrap.dedent(text).encode(), "f.yaml")
    return [(p.line, p.column, p.path, p.message) for p in check(document, schema)]


def one_problem(schema: str, text: str) -> tuple[int, int, str, str]:
    found = problems(schema, text)
    assert len(found) == 1, found
    return found[0]


# (schema, document, line, column, json path, words the message must hold)
CASES = [
    # ---- deployment
    (
        "deployment",
        "id: d\ndefinitionId: x\nreplica: 3\n",
        3,
        1,
        "$.replica",
        ["unknown field 'replica'", "did you mean 'replicas'?"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvar: {}\n",
        3,
        1,
        "$.envar",
        ["did you mean 'envars'?"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nzzz: 1\n",
        3,
        1,
        "$.zzz",
        ["unknown field 'zzz'", "known fields: kind, id"],
    ),
    ("deployment", "id: d\n", 1, 1, "$", ["missing required field 'definitionId'"]),
    (
        "deployment",
        "id: d\ndefinitionId: x\nreplicas: '3'\n",
        3,
        11,
        "$.replicas",
        ['expected an integer, got the string "3"'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nreplicas: -1\n",
        3,
        11,
        "$.replicas",
        ["at least 0", "got -1"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nreplicas: 2.5\n",
        3,
        11,
        "$.replicas",
        ["expected an integer, got the number 2.5"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nname: 5\n",
        3,
        7,
        "$.name",
        ['expected a string, got the integer 5: quote it ("5")'],
    ),
    (
        "deployment",
        "id: 'bad id!'\ndefinitionId: x\n",
        1,
        5,
        "$.id",
        ["can name a Docker container"],
    ),
    ("deployment", f"id: {'a' * 64}\ndefinitionId: x\n", 1, 5, "$.id", ["at most 63"]),
    ("deployment", "id: d\ndefinitionId: ''\n", 2, 15, "$.definitionId", ["must not be empty"]),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy:\n  type: Rolling\n",
        4,
        9,
        "$.strategy.type",
        ["must be one of 'RollingUpdate', 'Recreate'", "did you mean 'RollingUpdate'?"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy:\n  maxSurge: '25'\n",
        4,
        13,
        "$.strategy.maxSurge",
        ['a count (0, 1, 2...) or a percentage like "25%"', 'got the string "25"'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy:\n  maxUnavailable: -1\n",
        4,
        19,
        "$.strategy.maxUnavailable",
        ["a percentage like"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy: {maxSurg: 1}\n",
        3,
        12,
        "$.strategy.maxSurg",
        ["did you mean 'maxSurge'?"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy: RollingUpdate\n",
        3,
        11,
        "$.strategy",
        ['expected a mapping, got the string "RollingUpdate"'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nresources:\n  cpu: 500mm\n",
        4,
        8,
        "$.resources.cpu",
        ['a cpu quantity: cores ("1", "2.5") or millicores ("500m")'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nresources:\n  memory: 1Gb\n",
        4,
        11,
        "$.resources.memory",
        ["a memory quantity"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nresources:\n  vram: [24GB]\n",
        4,
        9,
        "$.resources.vram",
        ["a memory quantity"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nresources:\n  gpu: 1\n",
        4,
        3,
        "$.resources.gpu",
        ["unknown field 'gpu'"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nautoScaling: {minReplicas: 1, maxReplicas: 2, cpuThreshold: 0}\n",
        3,
        61,
        "$.autoScaling.cpuThreshold",
        ["a percentage from 1 to 100", "got the integer 0"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nautoScaling: {minReplicas: 1, maxReplicas: 2, cpuThreshold: 101}\n",
        3,
        61,
        "$.autoScaling.cpuThreshold",
        ["a percentage from 1 to 100"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nautoScaling: {minReplicas: 1}\n",
        3,
        14,
        "$.autoScaling",
        ["missing required field 'maxReplicas'"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\ntargetRegions: {cluster: a}\n",
        3,
        16,
        "$.targetRegions",
        ["expected a list, got a mapping"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\ntargetRegions:\n  - zone: z\n",
        4,
        5,
        "$.targetRegions[0]",
        ["missing required field 'cluster'"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\ntargetRegions:\n  - cluster: a\n    region: b\n",
        5,
        5,
        "$.targetRegions[0].region",
        ["unknown field 'region'"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvars:\n  DEBUG: true\n",
        4,
        10,
        "$.envars.DEBUG",
        ['expected a string, got the boolean true: quote it ("true")'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvars:\n  PORT: 8080\n",
        4,
        9,
        "$.envars.PORT",
        ['quote it ("8080")'],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvars:\n  EMPTY:\n",
        4,
        9,
        "$.envars.EMPTY",
        ["got nothing (null): fill in a value or remove the key"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvars:\n  '1ABC': x\n",
        4,
        3,
        "$.envars['1ABC']",
        ["environment variable name"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nenvars: [A=1]\n",
        3,
        9,
        "$.envars",
        ["expected a mapping, got a list"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstatus: Great\n",
        3,
        9,
        "$.status",
        ["must be one of 'Pending'"],
    ),
    (
        "deployment",
        "kind: Definition\nid: d\ndefinitionId: x\n",
        1,
        7,
        "$.kind",
        ["must be 'Deployment'"],
    ),
    # ---- definition
    ("definition", "id: d\n", 1, 1, "$", ["exactly one of image", "or repository"]),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [1]}\nrepository: {url: ., internalPorts: [1]}\n",
        1,
        1,
        "$",
        ["exactly one of image"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a}\n",
        2,
        8,
        "$.image",
        ["missing required field 'internalPorts'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [0]}\n",
        2,
        34,
        "$.image.internalPorts[0]",
        ["a port number from 1 to 65535", "got the integer 0"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [70000]}\n",
        2,
        34,
        "$.image.internalPorts[0]",
        ["1 to 65535"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: 80}\n",
        2,
        33,
        "$.image.internalPorts",
        ["expected a list"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80], tag: x}\n",
        2,
        39,
        "$.image.tag",
        ["unknown field 'tag'"],
    ),
    (
        "definition",
        "id: d\nrepository: {url: ., internalPorts: [80], dockerfile: D}\n",
        2,
        43,
        "$.repository.dockerfile",
        ["did you mean 'containerFile'?"],
    ),
    (
        "definition",
        "id: d\nrepository: {internalPorts: [80]}\n",
        2,
        13,
        "$.repository",
        ["missing required field 'url'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nenvars: {A: b}\n",
        3,
        9,
        "$.envars",
        ["expected a list, got a mapping"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nenvars:\n  - {key: A}\n",
        4,
        5,
        "$.envars[0]",
        ["missing required field 'value'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nenvars:\n  - {key: 'A B', value: x}\n",
        4,
        11,
        "$.envars[0].key",
        ["environment variable name"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nports:\n  - {internal: 80}\n",
        4,
        5,
        "$.ports[0]",
        ["missing required field 'host'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nports:\n  - {internal: 80, host: 8080, protocol: sctp}\n",
        4,
        42,
        "$.ports[0].protocol",
        ["must be one of 'tcp', 'udp'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\ncommand: httpd -f\n",
        3,
        10,
        "$.command",
        ["expected a list, got the string"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\ncommand: []\n",
        3,
        10,
        "$.command",
        ["must list at least 1 item"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\ncommand: [httpd, 1]\n",
        3,
        18,
        "$.command[1]",
        ['quote it ("1")'],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck: {interval: 5s}\n",
        3,
        14,
        "$.healthCheck",
        ["exactly one of http, tcp or command"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck: {tcp: {port: 1}, command: [x]}\n",
        3,
        14,
        "$.healthCheck",
        ["exactly one of http, tcp or command"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck:\n  http: {path: health, port: 80}\n",
        4,
        16,
        "$.healthCheck.http.path",
        ["a path starting with '/'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck:\n  http: {path: /}\n",
        4,
        9,
        "$.healthCheck.http",
        ["missing required field 'port'"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck:\n  tcp: {port: 99999}\n",
        4,
        15,
        "$.healthCheck.tcp.port",
        ["1 to 65535"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck:\n  tcp: {port: 1}\n  interval: 10 seconds\n",
        5,
        13,
        "$.healthCheck.interval",
        ['a duration: "500ms", "10s"'],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nhealthCheck:\n  tcp: {port: 1}\n  retries: 0\n",
        5,
        12,
        "$.healthCheck.retries",
        ["at least 1"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nnetwork: [host]\n",
        3,
        10,
        "$.network",
        ["expected a string"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nvolumes:\n  - {source: ./data, target: /data}\n",
        4,
        14,
        "$.volumes[0].source",
        ["a volume name or an absolute path"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nvolumes:\n  - {source: data, target: data}\n",
        4,
        28,
        "$.volumes[0].target",
        ["an absolute path"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nvolumes:\n  - {source: d, target: /d, readOnly: 'yes'}\n",
        4,
        39,
        "$.volumes[0].readOnly",
        ["expected true or false"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nlabels:\n  io.syncd.managed: 'true'\n",
        4,
        3,
        "$.labels['io.syncd.managed']",
        ["reserved for syncd's ownership labels"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\napiSpecs:\n  - {url: u, protocol: x}\n",
        4,
        14,
        "$.apiSpecs[0].protocol",
        ["did you mean 'protocolType'?"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nclients:\n  - {lang: Go}\n",
        4,
        6,
        "$.clients[0].lang",
        ["did you mean 'language'?"],
    ),
    # ---- node
    ("node", "id: n\n", 1, 1, "$", ["missing required field 'url'"]),
    ("node", "id: n\nurl: http://x:2375\n", 2, 6, "$.url", ["unix://, tcp:// or ssh://"]),
    (
        "node",
        "id: n\nurl: unix:///s\ncapacity: {cpu: lots}\n",
        3,
        17,
        "$.capacity.cpu",
        ["a cpu quantity"],
    ),
    (
        "node",
        "id: n\nurl: unix:///s\ncapacity: {memory: 1.5.1Gi}\n",
        3,
        20,
        "$.capacity.memory",
        ["a memory quantity"],
    ),
    (
        "node",
        "id: n\nurl: unix:///s\ngpus: [{id: 0}]\n",
        3,
        8,
        "$.gpus[0]",
        ["missing required field 'vram'"],
    ),
    (
        "node",
        "id: n\nurl: unix:///s\ngpus: [{id: [0], vram: 1Gi}]\n",
        3,
        13,
        "$.gpus[0].id",
        ["device index"],
    ),
    (
        "node",
        "id: n\nurl: tcp://h:2376\ntls: {caCert: a, clientCert: b}\n",
        3,
        6,
        "$.tls",
        ["missing required field 'clientKey'"],
    ),
    (
        "node",
        "id: n\nurl: ssh://u@h\nssh: {identity: k}\n",
        3,
        7,
        "$.ssh.identity",
        ["did you mean 'identityFile'?"],
    ),
    (
        "node",
        "id: n\nurl: unix:///s\nregion: x\n",
        3,
        1,
        "$.region",
        ["unknown field 'region'", "did you mean 'cluster'?"],
    ),
    (
        "node",
        "id: n\nurl: unix:///s\navailabilityZone: x\n",
        3,
        1,
        "$.availabilityZone",
        ["did you mean 'zone'?"],
    ),
    (
        "definition",
        "id: d\nimage: {name: a, internalPorts: [80]}\nenvironment: []\n",
        3,
        1,
        "$.environment",
        ["did you mean 'envars'?"],
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nDefinitionID: y\n",
        3,
        1,
        "$.DefinitionID",
        ["did you mean 'definitionId'?"],
    ),
    ("node", "id: n\nurl: unix:///s\nlabels: {a: 1}\n", 3, 13, "$.labels.a", ['quote it ("1")']),
]


@pytest.mark.parametrize(("schema", "text", "line", "column", "path", "words"), CASES)
def test_schema_problem_is_located_and_actionable(schema, text, line, column, path, words):
    found_line, found_column, found_path, message = one_problem(schema, text)
    assert (found_line, found_column, found_path) == (line, column, path), message
    for word in words:
        assert word in message


def test_every_problem_of_a_document_is_reported_in_order():
    found = problems(
        "deployment",
        """\
        id: d
        definitionId: x
        replica: 3
        strategy:
          type: Rolling
        resources:
          cpu: lots
        """,
    )
    assert [(line, path) for line, _, path, _ in found] == [
        (3, "$.replica"),
        (5, "$.strategy.type"),
        (7, "$.resources.cpu"),
    ]


VALID = [
    ("deployment", "id: d\ndefinitionId: x\n"),
    (
        "deployment",
        "kind: Deployment\nid: d.1-x_y\ndefinitionId: x\nreplicas: 0\nstatus: OK\ndetails: fine\n",
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy: {type: Recreate}\nresources: {cpu: 0.5, memory: 1048576}\n",
    ),
    (
        "deployment",
        "id: d\ndefinitionId: x\nstrategy: {maxSurge: '25%', maxUnavailable: 0}\nresources: {cpu: 2}\n",
    ),
    ("definition", "id: d\nimage: {name: a, internalPorts: []}\n"),
    (
        "definition",
        """\
        id: d
        repository: {url: ./s, version: v1, buildContext: app, containerFile: Dockerfile.prod, internalPorts: [80]}
        envars: [{key: A, value: '{{secret:x}}'}]
        ports: [{internal: 80, host: 8080, hostIp: 0.0.0.0, protocol: udp}]
        apiSpecs: [{url: u, protocolType: OpenAPI, version: '3', metadata: {a: b}}]
        clients: [{language: Go, url: u}]
        command: [a, b]
        healthCheck: {command: [/bin/true], interval: 1m, timeout: 500ms, retries: 5, startPeriod: 30}
        network: host
        volumes: [{source: /srv, target: /srv, readOnly: true}]
        labels: {com.example.team: x}
        """,
    ),
    ("node", "id: n\nurl: unix:///var/run/docker.sock\n"),
    (
        "node",
        """\
        kind: Node
        id: n
        url: tcp://10.0.0.1:2376
        cluster: c
        zone: z
        capacity: {cpu: 3500m, memory: 64G, vram: 80GB}
        gpus: [{id: 0, name: A100, vram: 80GB}, {id: GPU-abc, vram: 40Gi}]
        labels: {disk: ssd}
        tls: {caCert: /a, clientCert: /b, clientKey: /c}
        """,
    ),
]


@pytest.mark.parametrize(("schema", "text"), VALID)
def test_valid_documents_have_no_problems(schema, text):
    assert problems(schema, text) == []


def test_check_data_for_api_bodies():
    (problem,) = check_data({"id": "d", "definitionId": "x", "replica": 1}, "deployment", "<api>")
    assert (
        str(problem) == "<api>:1:1: $.replica: unknown field 'replica' (did you mean 'replicas'?)"
    )


def test_unknown_schema_name_is_a_clear_error():
    with pytest.raises(SyncdError, match="no schema named 'nope'"):
        load_schema("nope")


def test_validators_are_built_once():
    assert validator("deployment") is validator("deployment")


@pytest.mark.parametrize("name", ["deployment", "definition", "node"])
def test_schema_files_are_valid_draft_2020_12_with_a_stable_id(name):
    schema = json.loads((PROJECT_ROOT / "schemas" / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://syncd.dev/schemas/{name}.schema.json"
    assert name in schema_names()


def _fields(schema: dict, where: str = ""):
    """(path, field schema) of every declared field, recursively."""
    for key, sub in schema.get("properties", {}).items():
        path = f"{where}.{key}" if where else key
        yield path, sub
        yield from _fields(sub, path)
        if isinstance(sub.get("items"), dict):
            yield from _fields(sub["items"], path + "[]")


@pytest.mark.parametrize("name", ["deployment", "definition", "node"])
def test_every_field_has_a_description_and_examples_and_objects_are_closed(name):
    schema = load_schema(name)
    assert schema["additionalProperties"] is False
    for path, sub in _fields(schema):
        assert sub.get("description"), f"{name}: {path} has no description"
        assert sub.get("examples"), f"{name}: {path} has no examples"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub["additionalProperties"] is False, f"{name}: {path} is open"
        for example in sub["examples"]:
            if "anyOf" not in sub and "const" not in sub:
                assert not list(Draft202012Validator(sub).iter_errors(example)), (path, example)


# ---------------------------------------------------------------- the fast path agrees with jsonschema


def _verdicts(schema: str, data) -> tuple[bool, bool]:
    quick = fast_validator(schema)
    assert quick is not None, f"{schema} should compile to the fast path"
    return quick(data), validator(schema).is_valid(data)


@pytest.mark.parametrize(("schema", "text"), [(case[0], case[1]) for case in CASES] + VALID)
def test_fast_path_agrees_with_jsonschema_on_every_table_case(schema, text):
    (document,) = load_yaml(textwrap.dedent(text).encode(), "f.yaml")
    fast, full = _verdicts(schema, document.data)
    assert fast == full


def _example_documents():
    for folder, schema in (
        ("deployments", "deployment"),
        ("definitions", "definition"),
        ("nodes", "node"),
    ):
        for path in sorted((EXAMPLE_REPO / folder).glob("*.yaml")):
            for document in load_yaml(path.read_bytes(), path.name):
                yield schema, document.data


EXAMPLES = list(_example_documents())
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=70000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            "0%",
            "25%",
            "500m",
            "1Gi",
            "24GB",
            "10s",
            "/x",
            "io.syncd.x",
            "tcp://h:1",
            "a b",
            "Recreate",
        ]
    ),
    st.lists(st.integers(min_value=0, max_value=3), max_size=2),
    st.dictionaries(
        st.sampled_from(["port", "path", "x", "key", "value"]), st.integers(0, 2), max_size=2
    ),
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [
        (_replace(item, rest, new) if index == head else item) for index, item in enumerate(value)
    ]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_fast_path_agrees_with_jsonschema_on_mutated_examples(data):
    schema, document = data.draw(st.sampled_from(EXAMPLES))
    path = data.draw(st.sampled_from(list(_paths(document))[1:]))
    mutated = _replace(document, path, data.draw(ODD_VALUES))
    if data.draw(st.booleans()):
        mutated = {
            **mutated,
            data.draw(st.sampled_from(["replica", "kind", "zone", "status", "tls"])): data.draw(
                ODD_VALUES
            ),
        }
    fast, full = _verdicts(schema, mutated)
    assert fast == full, (path, mutated)
