"""A deployment as flat, displayable fields, and the field-level diff between two of them.

The offline plan (base commit vs head commit) compares these; the live plan cannot, since a
running container carries only its spec hash. Secret references are shown as ``(secret NAME)``
and nothing else: their values are never in the desired state to begin with.
"""

from __future__ import annotations

import shlex

from syncd.plan.model import FieldChange
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import HealthCheck
from syncd.spec.quantities import format_cpu, format_memory

# Fields in the order plans show them.
_ORDER = (
    "image",
    "build",
    "command",
    "env",
    "resources",
    "ports",
    "healthCheck",
    "stopGracePeriod",
    "stopSignal",
    "network",
    "volumes",
    "labels",
    "replicas",
    "autoScaling",
    "strategy",
    "targetRegions",
    "name",
    "description",
)


def flatten(desired: DesiredDeployment) -> dict[str, str]:
    """Every field that a person would want to see diffed, as ``path -> display text``;
    empty fields are left out."""
    spec = desired.spec
    deployment = desired.deployment
    fields: dict[str, str] = {"image": spec.image}
    if spec.build is not None:
        fields["build"] = (
            f"{spec.build.context} ({spec.build.container_file}, content "
            f"{spec.build.content_hash[:12]})"
        )
    if spec.command is not None:
        fields["command"] = shlex.join(spec.command)
    for key, value in spec.display_env():
        fields[f"env.{key}"] = value
    resources = spec.resources
    if resources.cpu_millis is not None:
        fields["resources.cpu"] = format_cpu(resources.cpu_millis)
    if resources.memory_bytes is not None:
        fields["resources.memory"] = format_memory(resources.memory_bytes)
    if resources.vram_bytes is not None:
        fields["resources.vram"] = format_memory(resources.vram_bytes)
    if spec.ports:
        fields["ports"] = ", ".join(
            f"{p.host_ip}:{p.host}:{p.internal}/{p.protocol}" for p in spec.ports
        )
    if spec.health_check is not None:
        fields["healthCheck"] = describe_health_check(spec.health_check)
    if spec.stop_grace_s is not None:
        fields["stopGracePeriod"] = f"{spec.stop_grace_s:g}s"
    if spec.stop_signal is not None:
        fields["stopSignal"] = spec.stop_signal
    if spec.network is not None:
        fields["network"] = spec.network
    if spec.volumes:
        fields["volumes"] = ", ".join(
            f"{v.source}:{v.target}{':ro' if v.read_only else ''}" for v in spec.volumes
        )
    for key, value in spec.labels:
        fields[f"labels.{key}"] = value
    fields["replicas"] = str(desired.replicas)
    if deployment.auto_scaling is not None:
        scaling = deployment.auto_scaling
        fields["autoScaling"] = (
            f"{scaling.min_replicas}..{scaling.max_replicas} at {scaling.cpu_threshold}% cpu"
        )
    strategy = deployment.strategy
    fields["strategy"] = (
        f"RollingUpdate (maxSurge {strategy.max_surge}, maxUnavailable {strategy.max_unavailable})"
        if strategy.type == "RollingUpdate"
        else strategy.type
    )
    if deployment.target_regions:
        fields["targetRegions"] = ", ".join(
            region.cluster + (f"/{region.zone}" if region.zone else "")
            for region in deployment.target_regions
        )
    if deployment.name:
        fields["name"] = deployment.name
    if deployment.description:
        fields["description"] = deployment.description
    return fields


# Deployment settings that never need a new container: changing them alone is not a rollout.
SETTINGS_ONLY = ("replicas", "autoScaling", "strategy", "targetRegions", "name", "description")


def needs_new_container(path: str) -> bool:
    """Whether a change of the field ``path`` (``env.LOG_LEVEL``, ``replicas``) is a rollout."""
    return path.split(".")[0] not in SETTINGS_ONLY


def diff(old: DesiredDeployment | None, new: DesiredDeployment | None) -> tuple[FieldChange, ...]:
    """Field changes from ``old`` to ``new`` (either may be None: created or removed)."""
    before = flatten(old) if old is not None else {}
    after = flatten(new) if new is not None else {}
    paths = sorted(set(before) | set(after), key=_sort_key)
    return tuple(
        FieldChange(path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
    )


def describe_health_check(check: HealthCheck) -> str:
    if check.kind == "http":
        probe = f"http GET :{check.port}{check.path or '/'}"
    elif check.kind == "tcp":
        probe = f"tcp :{check.port}"
    else:
        probe = f"command {shlex.join(check.command)}"
    return (
        f"{probe} every {check.interval_s:g}s, timeout {check.timeout_s:g}s, "
        f"{check.retries} retries, start period {check.start_period_s:g}s"
    )


def _sort_key(path: str) -> tuple[int, str]:
    head = path.split(".", 1)[0]
    rank = _ORDER.index(head) if head in _ORDER else len(_ORDER)
    return (rank, path)
