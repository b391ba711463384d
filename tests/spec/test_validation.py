"""Cross-file and meaning checks: each bad repository yields exactly the located problem expected."""

from __future__ import annotations

import pytest

from syncd.spec.repository import load_repository

from .conftest import assert_one_problem_at, problems_of

RECREATE = "id: depl_web\ndefinitionId: def_web\nstrategy: {type: Recreate, maxSurge: 0, maxUnavailable: 0}\n"

# (files changed from the valid base repo, file, line, column, json path, words in the message)
CASES = [
    # unique ids per kind
    (
        {"deployments/copy.yaml": "id: depl_web\ndefinitionId: def_web\n"},
        "deployments/depl_web.yaml",
        1,
        5,
        "$.id",
        ["duplicate deployment id 'depl_web'", "also declared at deployments/copy.yaml:1"],
    ),
    (
        {
            "definitions/more.yaml": "id: other\nimage: {name: a, internalPorts: [1]}\n---\nid: def_web\nimage: {name: b, internalPorts: [1]}\n"
        },
        "definitions/more.yaml",
        4,
        5,
        "$.id",
        ["duplicate definition id 'def_web'", "definitions/def_web.yaml:1"],
    ),
    (
        {"nodes/b.yaml": "id: local\nurl: unix:///x.sock\n"},
        "nodes/local.yaml",
        1,
        5,
        "$.id",
        ["duplicate node id 'local'"],
    ),
    # definitionId resolves
    (
        {"deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_wbe\n"},
        "deployments/depl_web.yaml",
        2,
        15,
        "$.definitionId",
        ["definition 'def_wbe' not found", "did you mean 'def_web'?"],
    ),
    (
        {"deployments/depl_web.yaml": "id: depl_web\ndefinitionId: zzz\n"},
        "deployments/depl_web.yaml",
        2,
        15,
        "$.definitionId",
        ["known: def_web"],
    ),
    # replicas within [minReplicas, maxReplicas], min <= max
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplicas: 12\nautoScaling: {minReplicas: 2, maxReplicas: 10}\n"
        },
        "deployments/depl_web.yaml",
        3,
        11,
        "$.replicas",
        ["replicas 12 is outside autoScaling's range [2, 10]"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplicas: 0\nautoScaling: {minReplicas: 2, maxReplicas: 3}\n"
        },
        "deployments/depl_web.yaml",
        3,
        11,
        "$.replicas",
        ["replicas 0 (run as 1)", "[2, 3]"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nautoScaling: {minReplicas: 2, maxReplicas: 3}\n"
        },
        "deployments/depl_web.yaml",
        3,
        14,
        "$.autoScaling",
        ["replicas (1 when omitted)"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplicas: 5\nautoScaling:\n  minReplicas: 8\n  maxReplicas: 4\n"
        },
        "deployments/depl_web.yaml",
        5,
        16,
        "$.autoScaling.minReplicas",
        ["minReplicas 8 is above maxReplicas 4"],
    ),
    # maxSurge and maxUnavailable not both zero
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nstrategy:\n  maxSurge: 0\n  maxUnavailable: '0%'\n"
        },
        "deployments/depl_web.yaml",
        4,
        13,
        "$.strategy.maxSurge",
        ["both 0", "maxSurge: 1"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nstrategy: {type: RollingUpdate, maxSurge: '00%', maxUnavailable: 0}\n"
        },
        "deployments/depl_web.yaml",
        3,
        43,
        "$.strategy.maxSurge",
        ["both 0"],
    ),
    # cpuThreshold 1..100 (the schema says so, located the same way)
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nreplicas: 2\nautoScaling: {minReplicas: 1, maxReplicas: 4, cpuThreshold: 0}\n"
        },
        "deployments/depl_web.yaml",
        4,
        61,
        "$.autoScaling.cpuThreshold",
        ["a percentage from 1 to 100"],
    ),
    # target clusters and zones exist among declared nodes
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\ntargetRegions:\n  - cluster: local-dokcer\n"
        },
        "deployments/depl_web.yaml",
        4,
        14,
        "$.targetRegions[0].cluster",
        ["no node is in cluster 'local-dokcer'", "did you mean 'local-docker'?"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\ntargetRegions:\n  - cluster: mars\n"
        },
        "deployments/depl_web.yaml",
        4,
        14,
        "$.targetRegions[0].cluster",
        ["clusters with nodes: local-docker"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\ntargetRegions:\n  - cluster: local-docker\n    zone: z1\n"
        },
        "deployments/depl_web.yaml",
        5,
        11,
        "$.targetRegions[0].zone",
        ["no node of cluster 'local-docker' is in zone 'z1'", "declare no zone"],
    ),
    (
        {
            "nodes/local.yaml": None,
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\ntargetRegions: [{cluster: a}]\n",
        },
        "deployments/depl_web.yaml",
        3,
        27,
        "$.targetRegions[0].cluster",
        ["no nodes are declared"],
    ),
    # well-formed {{secret:NAME}} / {{env:NAME}}
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nenvars:\n  OK: '{{secret:a}} {{env:B}}'\n  BAD: '{{sekret:jwt}}'\n"
        },
        "deployments/depl_web.yaml",
        5,
        8,
        "$.envars.BAD",
        ["malformed reference '{{sekret:jwt}}'", "{{secret:NAME}}"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nimage: {name: a, internalPorts: [80]}\nenvars:\n  - key: A\n    value: '{{env:}}'\n"
        },
        "definitions/def_web.yaml",
        5,
        12,
        "$.envars[0].value",
        ["malformed reference"],
    ),
    (
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\nenvars:\n  A: 'x {{secret:a'\n"
        },
        "deployments/depl_web.yaml",
        4,
        6,
        "$.envars.A",
        ["unclosed '{{'"],
    ),
    # definitions: host ports, envars, volumes
    (
        {
            "definitions/def_web.yaml": "id: def_web\nimage: {name: a, internalPorts: [80, 81]}\nports:\n  - {internal: 80, host: 8080}\n  - {internal: 81, host: 8080}\n"
        },
        "definitions/def_web.yaml",
        5,
        26,
        "$.ports[1].host",
        ["host port 8080/tcp is already published by ports[0]"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nimage: {name: a, internalPorts: [80]}\nenvars:\n  - {key: A, value: x}\n  - {key: A, value: y}\n"
        },
        "definitions/def_web.yaml",
        5,
        11,
        "$.envars[1].key",
        ["envar 'A' is set twice"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nimage: {name: a, internalPorts: [80]}\nvolumes:\n  - {source: a, target: /d}\n  - {source: b, target: /d}\n"
        },
        "definitions/def_web.yaml",
        5,
        25,
        "$.volumes[1].target",
        ["already mounted by volumes[0]"],
    ),
    # repository builds stay inside the repository and exist
    (
        {
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: ../elsewhere, internalPorts: [80]}\n"
        },
        "definitions/def_web.yaml",
        2,
        19,
        "$.repository.url",
        ["leaves the repository"],
    ),
    (
        {"definitions/def_web.yaml": "id: def_web\nrepository: {url: /etc, internalPorts: [80]}\n"},
        "definitions/def_web.yaml",
        2,
        19,
        "$.repository.url",
        ["leaves the repository"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: 'file:///etc', internalPorts: [80]}\n"
        },
        "definitions/def_web.yaml",
        2,
        19,
        "$.repository.url",
        ["file: URL"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: 'ftp://h/x', internalPorts: [80]}\n"
        },
        "definitions/def_web.yaml",
        2,
        19,
        "$.repository.url",
        ["unsupported URL scheme 'ftp'"],
    ),
    (
        {
            "svc/Dockerfile": "FROM x\n",
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: ./svc, buildContext: ../.., internalPorts: [80]}\n",
        },
        "definitions/def_web.yaml",
        2,
        40,
        "$.repository.buildContext",
        ["leaves the repository"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: 'https://git.example.com/a.git', buildContext: ../x, internalPorts: [80]}\n"
        },
        "definitions/def_web.yaml",
        2,
        66,
        "$.repository.buildContext",
        ["leaves the checkout"],
    ),
    (
        {
            "svc/Dockerfile": "FROM x\n",
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: ./svc, containerFile: ../../Dockerfile, internalPorts: [80]}\n",
        },
        "definitions/def_web.yaml",
        2,
        41,
        "$.repository.containerFile",
        ["leaves the build context"],
    ),
    (
        {
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: ./missing, internalPorts: [80]}\n"
        },
        "definitions/def_web.yaml",
        2,
        19,
        "$.repository.url",
        ["build context 'missing' is not a directory"],
    ),
    (
        {
            "svc/app/x": "",
            "definitions/def_web.yaml": "id: def_web\nrepository: {url: ./svc, buildContext: app, internalPorts: [80]}\n",
        },
        "definitions/def_web.yaml",
        2,
        13,
        "$.repository.containerFile",
        ["container file 'svc/app/Dockerfile' does not exist"],
    ),
    # nodes: url shapes and credentials that fit the transport
    (
        {"nodes/b.yaml": "id: b\nurl: unix://relative.sock\n"},
        "nodes/b.yaml",
        2,
        6,
        "$.url",
        ["absolute socket path"],
    ),
    (
        {"nodes/b.yaml": "id: b\nurl: ssh://host:22\n"},
        "nodes/b.yaml",
        2,
        6,
        "$.url",
        ["ssh://USER@HOST:PORT"],
    ),
    (
        {"nodes/b.yaml": "id: b\nurl: 'ssh://u@host:port'\n"},
        "nodes/b.yaml",
        2,
        6,
        "$.url",
        ["port must be a number"],
    ),
    (
        {"nodes/b.yaml": "id: b\nurl: tcp:///path\n"},
        "nodes/b.yaml",
        2,
        6,
        "$.url",
        ["unix://, tcp:// or ssh://"],
    ),
    (
        {"nodes/b.yaml": "id: b\nurl: unix:///s\ntls: {caCert: a, clientCert: b, clientKey: c}\n"},
        "nodes/b.yaml",
        3,
        6,
        "$.tls",
        ["tls applies to tcp:// nodes only"],
    ),
    (
        {"nodes/b.yaml": "id: b\nurl: tcp://h:2376\nssh: {identityFile: k}\n"},
        "nodes/b.yaml",
        3,
        6,
        "$.ssh",
        ["ssh applies to ssh:// nodes only"],
    ),
    (
        {
            "nodes/b.yaml": "id: b\nurl: unix:///s\ngpus:\n  - {id: 0, vram: 1Gi}\n  - {id: '0', vram: 1Gi}\n"
        },
        "nodes/b.yaml",
        5,
        10,
        "$.gpus[1].id",
        ["GPU '0' is listed twice"],
    ),
]


@pytest.mark.parametrize(("files", "file", "line", "column", "path", "words"), CASES)
def test_problem_is_found_and_located(repo, files, file, line, column, path, words):
    assert_one_problem_at(repo(files), file, line, column, path, words)


def test_recreate_ignores_surge_and_unavailable(repo):
    spec = load_repository(repo({"deployments/depl_web.yaml": RECREATE}))
    assert spec.deployments[0].strategy.type == "Recreate"


def test_tcp_without_tls_is_allowed_with_a_note(repo):
    spec = load_repository(repo({"nodes/b.yaml": "id: b\nurl: tcp://10.1.2.3:2375\n"}))
    (note,) = spec.notes
    assert (note.file, note.line, note.path) == ("nodes/b.yaml", 2, "$.url")
    assert "tcp without tls" in note.message


def test_extra_nodes_from_the_daemon_config_count_for_target_regions(repo):
    from syncd.spec.models import NodeSpec

    root = repo(
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_web\ntargetRegions: [{cluster: edge, zone: e1}]\n"
        }
    )
    problems_of(root)  # without the extra node: no node in cluster 'edge'
    spec = load_repository(
        root, extra_nodes=[NodeSpec(id="edge-1", url="unix:///e.sock", cluster="edge", zone="e1")]
    )
    assert spec.deployments[0].target_regions[0].cluster == "edge"


def test_every_problem_of_every_file_in_one_run(repo):
    root = repo(
        {
            "deployments/depl_web.yaml": "id: depl_web\ndefinitionId: def_nope\nreplica: 2\n",
            "deployments/two.yaml": "id: two\ndefinitionId: def_web\nresources: {memory: 1Gb}\n",
            "deployments/three.yaml": "id: three\ndefinitionId: def_nope\n",
            "definitions/def_web.yaml": "id: def_web\nimage: {name: a, internalPorts: [80]}\nlabels: {io.syncd.managed: x}\n",
            "nodes/bad.yaml": "id: n\nurl: [x]\n",
            "nodes/empty.yaml": "",
        }
    )
    problems = problems_of(root)
    assert [(p.file, p.path) for p in problems] == [
        ("definitions/def_web.yaml", "$.labels['io.syncd.managed']"),
        ("deployments/depl_web.yaml", "$.replica"),
        ("deployments/three.yaml", "$.definitionId"),
        ("deployments/two.yaml", "$.resources.memory"),
        ("nodes/bad.yaml", "$.url"),
        ("nodes/empty.yaml", "$"),
    ]
