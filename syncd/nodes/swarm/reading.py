"""The engine's Swarm dicts read in one place: services, nodes and tasks into ``syncd.state``
types (the Compose ``container.py`` idea: the rest of syncd reads attributes, not JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.state import (
    LABEL_COMMIT,
    LABEL_DEPLOYMENT,
    LABEL_OWNER,
    LABEL_SPEC_HASH,
    SwarmNode,
    SwarmService,
    SwarmTask,
)

_UPDATE_STATES = {
    "updating",
    "paused",
    "completed",
    "rollback_started",
    "rollback_paused",
    "rollback_completed",
}


def parse_time(text: str | None) -> datetime | None:
    """The engine's RFC 3339 times (nanoseconds cut to what Python reads)."""
    if not text:
        return None
    head, _, rest = text.partition(".")
    zone = "Z" if rest.endswith("Z") else ""
    try:
        return datetime.fromisoformat(head + ("+00:00" if zone else ""))
    except ValueError:
        return None


def read_node(data: dict[str, Any]) -> SwarmNode:
    spec = data.get("Spec") or {}
    description = data.get("Description") or {}
    resources = description.get("Resources") or {}
    return SwarmNode(
        node_id=data["ID"],
        hostname=str(description.get("Hostname") or data["ID"][:12]),
        role=str(spec.get("Role", "worker")),
        availability=str(spec.get("Availability", "active")),
        state=str((data.get("Status") or {}).get("State", "unknown")),
        labels=tuple(sorted((spec.get("Labels") or {}).items())),
        cpu_millis=int(resources.get("NanoCPUs", 0)) // 1_000_000,
        memory_bytes=int(resources.get("MemoryBytes", 0)),
    )


def read_service(data: dict[str, Any], tasks: tuple[SwarmTask, ...] = ()) -> SwarmService:
    spec = data.get("Spec") or {}
    labels = spec.get("Labels") or {}
    status = data.get("UpdateStatus") or {}
    state = status.get("State")
    return SwarmService(
        service_id=data["ID"],
        name=str(spec.get("Name", "")),
        version=int((data.get("Version") or {}).get("Index", 0)),
        deployment_id=str(labels.get(LABEL_DEPLOYMENT, "")),
        spec_hash=str(labels.get(LABEL_SPEC_HASH, "")),
        commit=str(labels.get(LABEL_COMMIT, "")),
        owner=labels.get(LABEL_OWNER),
        spec=spec,
        update_state=state if state in _UPDATE_STATES else None,
        update_message=str(status.get("Message", "")),
        update_started_at=parse_time(status.get("StartedAt")),
        running_tasks=int((data.get("ServiceStatus") or {}).get("RunningTasks", 0)),
        tasks=tasks,
    )


def read_task(data: dict[str, Any]) -> SwarmTask:
    status = data.get("Status") or {}
    container = (data.get("Spec") or {}).get("ContainerSpec") or {}
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    return SwarmTask(
        task_id=data["ID"],
        node_id=str(data.get("NodeID", "")),
        spec_hash=str((container.get("Labels") or {}).get(LABEL_SPEC_HASH, "")),
        desired_state=str(data.get("DesiredState", "")),
        state=str(status.get("State", "")),
        message=str(status.get("Message", "")),
        error=str(status.get("Err", "")),
        exit_code=int(exit_code) if exit_code is not None else None,
    )
