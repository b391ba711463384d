"""load_repository: discovery, kinds, symlinks and bad files; the example repo; single API bodies."""

from __future__ import annotations

import os

import pytest

from syncd.errors import SpecError, UsageError
from syncd.spec.models import (
    AutoScaling,
    HealthCheck,
    RepositorySource,
    Resources,
    Strategy,
    TargetRegion,
)
from syncd.spec.repository import load_repository, parse_definition, parse_deployment, parse_node

from .conftest import EXAMPLE_REPO, assert_one_problem_at, problems_of, write_repo

REFERENCE_DEPLOYMENTS = {
    "depl_myservice123",
    "depl_simple123",
    "depl_webapp_prod",
    "depl_ai_model",
    "depl_user_service",
    "depl_dev_api",
}


def test_example_repo_holds_every_reference_example_and_validates():
    spec = load_repository(EXAMPLE_REPO)
    assert {d.id for d in spec.deployments} == REFERENCE_DEPLOYMENTS
    assert {d.definition_id for d in spec.deployments} == {d.id for d in spec.definitions}
    assert {n.cluster for n in spec.nodes} >= {
        "local-docker",
        "us-west1",
        "us-east1",
        "gpu-cluster-a100",
    }
    assert spec.notes == ()
    for name in REFERENCE_DEPLOYMENTS:
        first = (EXAMPLE_REPO / "deployments" / f"{name}.yaml").read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/deployment.schema.json"
        assert (
            (EXAMPLE_REPO / "deployments" / "../../schemas/deployment.schema.json")
            .resolve()
            .is_file()
        )


def test_reference_example_is_read_exactly():
    spec = load_repository(EXAMPLE_REPO)
    deployment = next(d for d in spec.deployments if d.id == "depl_myservice123")
    assert deployment.definition_id == "def_myservice456"
    assert deployment.name == "user-service-v2"
    assert deployment.replicas == 3
    assert deployment.strategy == Strategy("RollingUpdate", max_surge=2, max_unavailable=1)
    assert deployment.resources == Resources(
        cpu_millis=500, memory_bytes=256 * 2**20, vram_bytes=24 * 10**9
    )
    assert deployment.auto_scaling == AutoScaling(min_replicas=2, max_replicas=10, cpu_threshold=80)
    assert deployment.target_regions == (
        TargetRegion("us-west1", "us-west1-b"),
        TargetRegion("local-docker", None),
    )
    assert deployment.envars[0] == ("ENVIRONMENT", "production")
    assert deployment.envars[2] == ("FEATURE_FLAG_X", "true")
    assert deployment.source is not None
    assert (deployment.source.file, deployment.source.line) == (
        "deployments/depl_myservice123.yaml",
        2,
    )
    simple = next(d for d in spec.deployments if d.id == "depl_simple123")
    assert simple.strategy == Strategy() and simple.auto_scaling is None and simple.envars == ()
    dev = next(d for d in spec.deployments if d.id == "depl_dev_api")
    assert dev.strategy.type == "Recreate"


def test_example_definitions_build_offline_from_the_repo():
    spec = load_repository(EXAMPLE_REPO)
    routed = []
    for definition in spec.definitions:
        assert isinstance(definition.repository, RepositorySource)
        (port,) = definition.internal_ports
        if any(p.routed for p in definition.ports):
            # served through the node's proxy: it listens where syncd says (docs/traffic.md)
            routed.append(definition.id)
            assert definition.network == "host"
            assert definition.command == (
                "/bin/sh",
                "-c",
                'exec /bin/httpd -f -p "$HOST:$PORT" -h /www',
            )
        else:
            assert definition.network == "none"
            assert definition.command == (
                "/bin/httpd",
                "-f",
                "-p",
                f"127.0.0.1:{port}",
                "-h",
                "/www",
            )
        assert definition.health_check == HealthCheck(
            kind="http",
            path="/",
            port=port,
            interval_s=2.0,
            timeout_s=2.0,
            retries=3,
            start_period_s=1.0,
        )
        dockerfile = EXAMPLE_REPO / definition.repository.url / "Dockerfile"
        assert dockerfile.read_text().startswith("FROM syncd-test/busybox:latest")
    assert routed == ["def_user_api"]


def test_example_gpu_node():
    spec = load_repository(EXAMPLE_REPO)
    node = next(n for n in spec.nodes if n.cluster == "gpu-cluster-a100")
    assert node.zone == "gpu-zone-1"
    assert [g.vram_bytes for g in node.gpus] == [80 * 10**9, 80 * 10**9]
    assert node.ssh is not None and node.ssh.known_hosts
    local = next(n for n in spec.nodes if n.id == "local")
    assert (local.url, local.cluster, local.capacity) == (
        "unix:///run/syncd-demo/docker.sock",
        "local-docker",
        None,
    )


def test_kind_in_a_file_anywhere_and_folders_at_any_depth(repo):
    root = repo(
        {
            "all-in-one.yaml": (
                "kind: Definition\nid: def_two\nimage: {name: a, internalPorts: [1]}\n---\n"
                "kind: Deployment\nid: depl_two\ndefinitionId: def_two\n"
            ),
            "deployments/team-a/nested/three.yml": "id: depl_three\ndefinitionId: def_two\n",
            "nodes/extra.yaml": "kind: Node\nid: n2\nurl: unix:///n2.sock\n",
        }
    )
    spec = load_repository(root)
    assert {d.id for d in spec.deployments} == {"depl_web", "depl_two", "depl_three"}
    assert {d.id for d in spec.definitions} == {"def_web", "def_two"}


def test_yaml_that_is_not_ours_is_left_alone(repo):
    root = repo(
        {
            ".github/workflows/ci.yaml": "on: push\njobs: {}\n",
            "docker-compose.yml": "services: {web: {image: nginx}}\n",
            "k8s/svc.yaml": "apiVersion: v1\nkind: Service\n",
            "services/api/openapi.yaml": "{{ not: yaml at all",
            "README.md": "# hi\n",
        }
    )
    assert len(load_repository(root).deployments) == 1


def test_a_file_elsewhere_that_declares_our_kind_is_checked(repo):
    (problem,) = problems_of(
        repo({"misc/x.yaml": "kind: Deployment\nid: d\ndefinitionId: def_web\nreplica: 1\n"})
    )
    assert (problem.file, problem.line, problem.path) == ("misc/x.yaml", 4, "$.replica")


@pytest.mark.parametrize(
    ("files", "file", "line", "column", "path", "words"),
    [
        (
            {"deployments/x.yaml": "kind: Deploymnet\nid: a\n"},
            "deployments/x.yaml",
            1,
            7,
            "$.kind",
            ["unknown kind 'Deploymnet'", "did you mean 'Deployment'?"],
        ),
        (
            {"deployments/x.yaml": "kind: Service\nid: a\n"},
            "deployments/x.yaml",
            1,
            7,
            "$.kind",
            ["unknown kind 'Service'", "Deployment, Definition and Node"],
        ),
        (
            {"x.yaml": "kind: Node\nid: n\nurl: unix:///s\n---\nid: m\n"},
            "x.yaml",
            5,
            1,
            "$",
            ["no kind"],
        ),
        (
            {"deployments/x.yaml": "- id: a\n"},
            "deployments/x.yaml",
            1,
            1,
            "$",
            ["expected a mapping (a Deployment), got a list"],
        ),
        (
            {"deployments/x.yaml": "just a string\n"},
            "deployments/x.yaml",
            1,
            1,
            "$",
            ["expected a mapping", 'the string "just a string"'],
        ),
        ({"deployments/x.yaml": ""}, "deployments/x.yaml", 1, 1, "$", ["empty file"]),
        ({"deployments/x.yaml": b"id: caf\xe9\n"}, "deployments/x.yaml", 1, 8, "$", ["not UTF-8"]),
        (
            {"deployments/x.yaml": "id: a\nid: b\n"},
            "deployments/x.yaml",
            2,
            1,
            "$.id",
            ["duplicate key 'id'"],
        ),
        (
            {"deployments/x.yaml": "id: a\nreplicas: [1\n"},
            "deployments/x.yaml",
            3,
            1,
            "$",
            ["invalid YAML"],
        ),
        (
            {"deployments/x.yaml": "id: a\ndefinitionId: def_web\nreplicas: three\n"},
            "deployments/x.yaml",
            3,
            11,
            "$.replicas",
            ['expected an integer, got the string "three"'],
        ),
        (
            {
                "definitions/x.yaml": "kind: Deployment\nid: depl_x\ndefinitionId: def_web\nreplica: 1\n"
            },
            "definitions/x.yaml",
            4,
            1,
            "$.replica",
            ["unknown field 'replica'"],
        ),
    ],
)
def test_bad_files(repo, files, file, line, column, path, words):
    assert_one_problem_at(repo(files), file, line, column, path, words)


def test_a_huge_file_is_refused_without_reading_it_whole(repo):
    root = repo({"deployments/huge.yaml": "id: a\n" + "# padding\n" * 120_000})
    (problem,) = problems_of(root)
    assert problem.file == "deployments/huge.yaml"
    assert "over the 1,048,576-byte limit" in problem.message


def test_an_alias_bomb_in_the_repo_is_refused(repo):
    lines = ["id: depl_bomb", "definitionId: def_web", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    (problem,) = problems_of(repo({"deployments/bomb.yaml": "\n".join(lines) + "\n"}))
    assert "expands to more than" in problem.message


def test_symlinks_leaving_the_repo_are_refused(repo, tmp_path):
    outside = write_repo(tmp_path / "outside", {"secret.yaml": "id: x\n", "dir/d.yaml": "id: y\n"})
    root = repo()
    os.symlink(outside / "secret.yaml", root / "deployments" / "link.yaml")
    os.symlink(outside / "dir", root / "nodes" / "linked-dir")
    os.symlink(root / "missing.yaml", root / "deployments" / "dangling.yaml")
    problems = problems_of(root)
    messages = {p.file: p.message for p in problems}
    assert set(messages) == {
        "deployments/link.yaml",
        "nodes/linked-dir",
        "deployments/dangling.yaml",
    }
    assert "symlink leaves the repository" in messages["deployments/link.yaml"]
    assert str(outside / "secret.yaml") in messages["deployments/link.yaml"]
    assert "symlink leaves the repository" in messages["nodes/linked-dir"]
    assert "broken symlink" in messages["deployments/dangling.yaml"]


def test_symlinks_inside_the_repo_are_followed_once(repo):
    root = repo(
        {"shared/def.yaml": "kind: Definition\nid: def_two\nimage: {name: a, internalPorts: [1]}\n"}
    )
    os.symlink(root / "shared", root / "definitions" / "shared-link")
    os.symlink(root / "definitions", root / "definitions" / "loop")
    spec = load_repository(root)
    assert sorted(d.id for d in spec.definitions) == ["def_two", "def_web"]


def test_a_build_context_symlinked_out_of_the_repo_is_refused(repo, tmp_path):
    outside = write_repo(tmp_path / "outside", {"Dockerfile": "FROM x\n"})
    root = repo(
        {"definitions/def_web.yaml": "id: def_web\nrepository: {url: ./svc, internalPorts: [80]}\n"}
    )
    os.symlink(outside, root / "svc")
    definition, link = problems_of(root)
    assert (definition.file, definition.path) == ("definitions/def_web.yaml", "$.repository.url")
    assert "symlink that leaves the repository" in definition.message
    assert (link.file, link.message) == (
        "svc",
        f"symlink leaves the repository (to {outside}): refused",
    )


def test_a_root_that_is_not_a_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        load_repository(tmp_path / "nope")


def test_an_empty_repository_is_valid(tmp_path):
    spec = load_repository(tmp_path)
    assert (spec.deployments, spec.definitions, spec.nodes) == ((), (), ())


def test_revision_is_kept(repo):
    assert load_repository(repo(), revision="abc123").revision == "abc123"


def test_parse_deployment_for_an_api_body():
    deployment = parse_deployment(
        {
            "id": "depl_x",
            "definitionId": "def_x",
            "replicas": 0,
            "status": "OK",
            "details": "ignored",
            "strategy": {"maxSurge": "50%", "maxUnavailable": 0},
            "resources": {"cpu": 2},
        }
    )
    assert deployment.replicas == 0
    assert deployment.strategy == Strategy("RollingUpdate", max_surge="50%", max_unavailable=0)
    assert deployment.resources.cpu_millis == 2000
    assert deployment.source is not None and deployment.source.file == "<api>"


def test_parse_deployment_reports_every_problem():
    with pytest.raises(SpecError) as caught:
        parse_deployment({"id": "bad id", "replica": 2, "envars": {"A": "{{secret:}}"}}, "body")
    assert [str(p) for p in caught.value.problems] == [
        "body:1:1: $: missing required field 'definitionId'",
        "body:1:1: $.id: an id starts with a letter or digit and holds only letters, digits, '_', '.', '-' "
        '(at most 63 characters), so it can name a Docker container; got the string "bad id"',
        "body:1:1: $.replica: unknown field 'replica' (did you mean 'replicas'?)",
    ]


def test_parse_deployment_runs_the_meaning_checks():
    with pytest.raises(SpecError, match="malformed reference"):
        parse_deployment({"id": "d", "definitionId": "x", "envars": {"A": "{{secret:}}"}})


def test_parse_definition_checks_paths_but_not_the_disk():
    definition = parse_definition(
        {"id": "def_x", "repository": {"url": "./svc", "internalPorts": [80]}}
    )
    assert definition.repository == RepositorySource(url="./svc", internal_ports=(80,))
    with pytest.raises(SpecError, match="leaves the repository"):
        parse_definition({"id": "def_x", "repository": {"url": "../svc", "internalPorts": [80]}})


def test_parse_node():
    node = parse_node({"id": "n", "url": "ssh://deploy@h:22", "ssh": {"identityFile": "/k"}})
    assert node.ssh is not None and node.ssh.identity_file == "/k" and node.cluster == "default"


def test_errors_deep_in_a_reference_file_are_located_exactly(repo):
    text = (EXAMPLE_REPO / "deployments" / "depl_myservice123.yaml").read_text()
    text = text.replace('zone: "us-west1-b"', 'zone: "us-west1-z"')
    text = text.replace('LOG_LEVEL: "debug"', 'LOG_LEVEL: "{{env:}}"')
    text = text.replace("maxSurge: 2", 'maxSurge: "two"')
    root = repo(
        {
            "deployments/depl_myservice123.yaml": text,
            "nodes/usw.yaml": 'id: w\nurl: "ssh://d@w:22"\ncluster: us-west1\nzone: us-west1-b\n',
            "definitions/def_myservice456.yaml": "id: def_myservice456\nimage: {name: a, internalPorts: [1]}\n",
        }
    )
    (surge,) = problems_of(root)  # schema problems stop the meaning checks of that document
    assert str(surge).startswith(
        "deployments/depl_myservice123.yaml:10:13: $.strategy.maxSurge: a count"
    )
    root = repo(
        {"deployments/depl_myservice123.yaml": text.replace('maxSurge: "two"', "maxSurge: 2")}
    )
    assert [str(p) for p in problems_of(root)] == [
        "deployments/depl_myservice123.yaml:21:11: $.targetRegions[0].zone: no node of cluster "
        "'us-west1' is in zone 'us-west1-z' (did you mean 'us-west1-b'?)",
        "deployments/depl_myservice123.yaml:25:14: $.envars.LOG_LEVEL: malformed reference "
        "'{{env:}}': write {{env:NAME}} or {{secret:NAME}}",
    ]


def test_a_fifo_named_like_yaml_is_refused_not_read(repo):
    root = repo()
    os.mkfifo(root / "deployments" / "pipe.yaml")
    (problem,) = problems_of(root)
    assert (problem.file, problem.message) == ("deployments/pipe.yaml", "not a regular file")
