"""A planned Swarm service in the engine's terms: the Spec that ``POST /services/create`` takes,
and the edit that puts syncd's fields into a service's current Spec (everything else the
engine or an operator set is kept, so an update never drops a field syncd does not own)."""

from __future__ import annotations

import copy
from typing import Any

from syncd.nodes.container_config import docker_healthcheck
from syncd.plan.swarm_model import SwarmChange, SwarmServicePlan, SwarmServiceTarget
from syncd.state import LABEL_COMMIT

# ContainerSpec keys syncd writes; an update replaces exactly these (absent = removed)
_OWNED_CONTAINER_KEYS = ("Image", "Args", "Env", "Labels", "Healthcheck", "Mounts")
_OWNED_TASK_KEYS = ("Resources", "Placement", "Networks", "RestartPolicy")
_RESTART_DELAY_NS = 1_000_000_000
_NANOS = 1_000_000_000


def service_spec(
    target: SwarmServiceTarget, env: tuple[tuple[str, str], ...], commit: str
) -> dict[str, Any]:
    """The whole Spec of ``target``; ``env`` holds the resolved values (secrets included:
    the result is sent to the engine and never logged)."""
    labels = {**dict(target.service_labels), LABEL_COMMIT: commit}
    spec: dict[str, Any] = {
        "Name": target.name,
        "Labels": labels,
        "TaskTemplate": _task_template(target, env, commit),
        "Mode": {"Replicated": {"Replicas": target.replicas}},
        "UpdateConfig": _update_config(target),
        "RollbackConfig": {
            # back as fast as forward, and never give up half-way
            "Parallelism": target.update.parallelism,
            "Order": target.update.order,
            "FailureAction": "pause",
            "Monitor": int(target.update.monitor_s * _NANOS),
        },
    }
    if target.network == "host":
        spec["EndpointSpec"] = {"Mode": "dnsrr"}  # no virtual IP without an overlay network
    elif target.ports:
        spec["EndpointSpec"] = {
            "Mode": "dnsrr",
            "Ports": [
                {
                    "Protocol": port.protocol,
                    "TargetPort": port.internal,
                    "PublishedPort": port.host,
                    "PublishMode": "host",  # the routing mesh needs the ingress overlay
                }
                for port in target.ports
            ],
        }
    return spec


def edited_spec(
    current: dict[str, Any],
    plan: SwarmServicePlan,
    env: tuple[tuple[str, str], ...] | None,
    commit: str,
) -> dict[str, Any]:
    """``current`` with the fields of the plan's changes put in: the task template only for a
    rollout (``env`` resolved then), the replicas for a scale, labels and policies always."""
    target = plan.target
    assert target is not None, "a removal edits nothing"
    wanted = service_spec(target, env or (), commit)
    spec = copy.deepcopy(current)
    foreign_labels = {
        k: v for k, v in (spec.get("Labels") or {}).items() if not k.startswith("io.syncd.")
    }
    spec["Labels"] = {**foreign_labels, **wanted["Labels"]}
    spec["UpdateConfig"] = wanted["UpdateConfig"]
    spec["RollbackConfig"] = wanted["RollbackConfig"]
    if SwarmChange.SCALE in plan.changes or SwarmChange.ROLLOUT in plan.changes:
        spec["Mode"] = wanted["Mode"]
    if SwarmChange.ROLLOUT in plan.changes:
        assert env is not None, "a rollout sends the resolved environment"
        task = spec.get("TaskTemplate") or {}
        container = {
            k: v
            for k, v in (task.get("ContainerSpec") or {}).items()
            if k not in _OWNED_CONTAINER_KEYS
        }
        container.update(wanted["TaskTemplate"]["ContainerSpec"])
        task = {k: v for k, v in task.items() if k not in _OWNED_TASK_KEYS}
        task.update(wanted["TaskTemplate"])
        task["ContainerSpec"] = container
        spec["TaskTemplate"] = task
        if "EndpointSpec" in wanted:
            spec["EndpointSpec"] = wanted["EndpointSpec"]
    return spec


def _task_template(
    target: SwarmServiceTarget, env: tuple[tuple[str, str], ...], commit: str
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "Image": target.image,
        "Labels": {**dict(target.task_labels), LABEL_COMMIT: commit},
        "Env": [f"{key}={value}" for key, value in env],
    }
    if target.command is not None:
        container["Args"] = list(target.command)
    health = docker_healthcheck(target.health_check)
    if health is not None:
        container["Healthcheck"] = {
            "Test": health["test"],
            "Interval": health["interval"],
            "Timeout": health["timeout"],
            "Retries": health["retries"],
            "StartPeriod": health["start_period"],
        }
    if target.volumes:
        container["Mounts"] = [
            {
                "Type": "bind" if volume.source.startswith("/") else "volume",
                "Source": volume.source,
                "Target": volume.target,
                "ReadOnly": volume.read_only,
            }
            for volume in target.volumes
        ]
    amounts: dict[str, int] = {}
    if target.cpu_millis is not None:
        amounts["NanoCPUs"] = target.cpu_millis * 1_000_000
    if target.memory_bytes is not None:
        amounts["MemoryBytes"] = target.memory_bytes
    placement: dict[str, Any] = {"Constraints": list(target.constraints)}
    if target.spread_label:
        placement["Preferences"] = [
            {"Spread": {"SpreadDescriptor": f"node.labels.{target.spread_label}"}}
        ]
    task: dict[str, Any] = {
        "ContainerSpec": container,
        # cpu/memory are both what Swarm reserves on a node and the container's limit
        "Resources": {"Limits": dict(amounts), "Reservations": dict(amounts)},
        "Placement": placement,
        "RestartPolicy": {"Condition": "any", "Delay": _RESTART_DELAY_NS},
    }
    if target.network not in (None, "none"):  # "none": no network attached at all
        task["Networks"] = [{"Target": target.network}]
    return task


def _update_config(target: SwarmServiceTarget) -> dict[str, Any]:
    return {
        "Parallelism": target.update.parallelism,
        "Delay": 0,
        "FailureAction": "rollback",
        "Monitor": int(target.update.monitor_s * _NANOS),
        "MaxFailureRatio": 0,
        "Order": target.update.order,
    }
