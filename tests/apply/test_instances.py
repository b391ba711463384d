"""The pure parts of the apply engine: names, labels, env resolution, redaction, reasons."""

from __future__ import annotations

import pytest

from syncd.apply.executor import build_reason
from syncd.apply.instances import (
    Redactor,
    container_name,
    instance_labels,
    resolved_env,
)
from syncd.cli.apply import parse_duration
from syncd.errors import (
    BuildError,
    ImageBuildFailed,
    ImagePullFailed,
    InstanceMisconfigured,
    SecretError,
    UsageError,
)
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
