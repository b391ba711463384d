"""The pure parts of the apply engine: names, labels, env resolution, redaction, reasons."""

from __future__ import annotations

import pytest

from syncd.apply.executor import build_reason
from syncd.apply.instances import (
    Redactor,
    container_name,
    create_instance,
    instance_labels,
    resolved_env,
)
from syncd.cli.apply import parse_duration
from syncd.errors import (
    BuildError,
    ImageBuildFailed,
    ImagePullFailed,
    InstanceFailed,
    InstanceMisconfigured,
    NameConflict,
    NodeError,
    NodeUnreachable,
    SecretError,
    UsageError,
)
from syncd.nodes.base import ContainerRequest
from syncd.plan.model import Placement
from syncd.spec.desired import DesiredDeployment, InstanceSpec
from syncd.spec.models import Definition, Deployment, ImageSource, PortMapping, Resources
from syncd.state import LABEL_DEPLOYMENT, LABEL_GPUS, LABEL_HOST_PORTS, LABEL_MANAGED, LABEL_MEMORY


def desired(env=(), labels=(), ports=()) -> DesiredDeployment:  # type: ignore[no-untyped-def]
    spec = InstanceSpec(
        image="syncd-test/busybox:latest",
        build=None,
        command=None,
        env=tuple(env),
        resources=Resources(cpu_millis=500, memory_bytes=256 << 20),
        ports=tuple(ports),
        health_check=None,
        network=None,
        volumes=(),
        labels=tuple(labels),
    )
    return DesiredDeployment(
        deployment=Deployment(id="depl_web", definition_id="def_web"),
        definition=Definition(id="def_web", image=ImageSource("syncd-test/busybox:latest")),
        spec=spec,
        spec_hash="3f2a9c1b07e4" + "0" * 52,
        replicas=2,
    )


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SecretError(f"secret {name!r} not found: looked in /etc/syncd/secrets/{name}")
        return self.values[name]


def test_container_names_carry_deployment_replica_and_hash() -> None:
    assert container_name("depl_web", 3, "3f2a9c1b07e4ab") == "depl_web-3-3f2a9c1b"
    assert container_name("depl_web", 3, "3f2a9c1b07e4ab", "a1b2") == "depl_web-3-3f2a9c1b-a1b2"


def test_ownership_labels_win_over_the_definitions_labels() -> None:
    labels = dict(
        instance_labels(
            desired(
                labels=[("team", "web"), (LABEL_DEPLOYMENT, "spoofed"), (LABEL_MANAGED, "false")],
                ports=[PortMapping(internal=80, host=8080)],
            ),
            Placement(replica=1, node_id="node-a", gpu_ids=("0", "1")),
            "abc123",
        )
    )
    assert labels["team"] == "web"
    assert labels[LABEL_DEPLOYMENT] == "depl_web" and labels[LABEL_MANAGED] == "true"
    assert labels[LABEL_MEMORY] == str(256 << 20)
    assert labels[LABEL_GPUS] == "0,1" and labels[LABEL_HOST_PORTS] == "8080/tcp"


def test_secret_references_resolve_only_here_and_are_remembered_for_redaction() -> None:
    redact = Redactor()
    env = resolved_env(
        desired(env=[("DSN", "postgres://u:{{secret:db}}@h/db"), ("PLAIN", "x")]),
        Secrets({"db": "hunter2-long"}),
        redact,
    )
    assert env == (("DSN", "postgres://u:hunter2-long@h/db"), ("PLAIN", "x"))
    assert redact("login failed for hunter2-long") == "login failed for (secret db)"


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (None, "no secret source is configured"),
        (Secrets({}), "envar DSN: secret 'db' not found"),
    ],
)
def test_missing_secrets_fail_permanently_by_name(provider, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InstanceMisconfigured) as caught:
        resolved_env(desired(env=[("DSN", "{{secret:db}}")]), provider, Redactor())
    assert message in caught.value.message and not caught.value.retryable


def test_build_reasons_keep_the_engines_words() -> None:
    error = ImageBuildFailed(
        "syncd-build/def_web:29d3",
        "node-a",
        "COPY failed: file not found in build context or excluded by .dockerignore: stat x: "
        "file does not exist",
        context="services/web",
    )
    assert error.message.startswith(
        "building syncd-build/def_web:29d3 from 'services/web' on node node-a failed: COPY failed"
    )
    assert build_reason(error, built=True) == (
        "build failed: COPY failed: file not found in build context or excluded by "
        ".dockerignore: stat x: file does not exist (image syncd-build/def_web:29d3 on node-a)"
    )
    pull = ImagePullFailed("nginx:1", "node-a", "x")
    assert pull.message == "image nginx:1 is not present on node node-a and could not be pulled: x"
    assert build_reason(pull, built=False) == pull.message
    unusable = BuildError("build context 'up' resolves to /elsewhere, outside the checkout")
    assert build_reason(unusable, built=True) == f"build failed: {unusable.message}"


class CreatingDriver:
    """Just enough of a NodeDriver for create_instance: each create answers with the next
    outcome (an exception to raise, or a container id)."""

    node_id = "node-a"

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.names: list[str] = []

    def create_instance(self, request: ContainerRequest) -> str:
        self.names.append(request.name)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _create(driver: CreatingDriver) -> tuple[str, str]:
    return create_instance(
        driver,  # type: ignore[arg-type]
        desired(),
        Placement(replica=0, node_id="node-a"),
        commit="c" * 40,
        env=(),
        redact=Redactor(),
    )


def test_a_taken_name_gets_a_suffix_by_the_errors_type() -> None:
    driver = CreatingDriver(NameConflict("node-a", "depl_web-0-3f2a9c1b", "in use"), "id-2")
    container_id, name = _create(driver)
    assert container_id == "id-2" and name == driver.names[1]
    assert driver.names[0] == "depl_web-0-3f2a9c1b"
    assert name.startswith("depl_web-0-3f2a9c1b-") and len(name) == len(driver.names[0]) + 5


def test_create_failures_keep_their_kind() -> None:
    # an engine refusal whose text mentions a conflict is still a refusal, not a name clash
    refusal = NodeError("node node-a: creating x failed: Conflict with the device cgroup rules")
    with pytest.raises(InstanceFailed, match="cannot create depl_web-0-3f2a9c1b on node-a"):
        _create(CreatingDriver(refusal))
    down = NodeUnreachable("node-a", "timed out")
    with pytest.raises(NodeUnreachable):  # retryable: raised as is, for the state Error
        _create(CreatingDriver(down))
    taken = [NameConflict("node-a", "n", "in use")] * 3
    with pytest.raises(InstanceFailed, match="cannot create a uniquely named container"):
        _create(CreatingDriver(*taken))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600.0), ("90s", 90.0), ("1.5h", 5400.0), ("500ms", 0.5), ("7", 7.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0s", "-1m", "10 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
