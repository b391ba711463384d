"""Wrappers over the engine's container dicts (like Compose 1.29 ``compose/container.py``).

The only place that reads Docker's JSON: ``ListedContainer`` for an entry of the list call
(``Labels``, ``State``, ``Status`` text), ``InspectedContainer`` for an inspect answer (``State``,
``State.Health``, ``Config.Labels``), ``EngineInfo`` for ``/info`` and ``parse_cpu_sample`` for a
``cpu_stats`` section. Everything else reads attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.nodes.base import CpuSample
from syncd.state import (
    LABEL_COMMIT,
    LABEL_CPU,
    LABEL_DEPLOYMENT,
    LABEL_GPUS,
    LABEL_HOST_PORTS,
    LABEL_MANAGED,
    LABEL_MEMORY,
    LABEL_OWNER,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
    LABEL_VRAM,
    ContainerState,
    Health,
    HealthReport,
    ObservedInstance,
)

_STATES: frozenset[str] = frozenset(
    ("created", "running", "paused", "restarting", "removing", "exited", "dead")
)
_EXIT_CODE = re.compile(r"^Exited \((-?\d+)\)")
_UP_FOR = re.compile(r"^Up (.+?)(?: \((?:Paused|healthy|unhealthy|health: starting)\))?$")
# Docker's HumanDuration units (go-units), each with the smallest duration it can stand for.
_DURATION_UNITS = {
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


#: what a managed container is for when it is not a deployment's instance (the node's proxy)
LABEL_ROLE = "io.syncd.role"
ROLE_PROXY = "proxy"
ROLE_PROXY_HELPER = "proxy-helper"  # a throwaway container that looks at the node's ports


def _is_managed(labels: Mapping[str, str]) -> bool:
    return labels.get(LABEL_MANAGED) == "true"


def _is_instance(labels: Mapping[str, str]) -> bool:
    """Managed and a deployment's replica: syncd's own helpers (the proxy) carry a role."""
    return _is_managed(labels) and LABEL_ROLE not in labels


class ListedContainer:
    """One entry of the label-filtered list call: enough to plan with, no inspect needed."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    @property
    def id(self) -> str:
        return str(self._raw["Id"])

    @property
    def name(self) -> str:
        names = self._raw.get("Names") or []
        return str(names[0]).lstrip("/") if names else self.id[:12]

    @property
    def labels(self) -> Mapping[str, str]:
        return self._raw.get("Labels") or {}

    @property
    def is_managed(self) -> bool:
        return _is_managed(self.labels)

    @property
    def is_instance(self) -> bool:
        """A deployment's replica: managed, and not one of syncd's helpers such as the proxy."""
        return _is_instance(self.labels)

    @property
    def state(self) -> ContainerState:
        return container_state(str(self._raw.get("State") or "").lower())

    @property
    def status_text(self) -> str:
        """Docker's human summary: "Up 5 seconds (healthy)", "Exited (3) 2 minutes ago"."""
        return str(self._raw.get("Status") or "")

    @property
    def created_at(self) -> datetime | None:
        created = self._raw.get("Created")
        return datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None

    @property
    def exit_code(self) -> int | None:
        match = _EXIT_CODE.match(self.status_text)
        return int(match.group(1)) if match else None

    def observed(self, node_id: str, now: datetime) -> ObservedInstance:
        """As the planner sees it; health and start time come from the status text."""
        labels = self.labels
        running = self.state == "running"
        return ObservedInstance(
            node_id=node_id,
            container_id=self.id,
            name=self.name,
            deployment_id=labels.get(LABEL_DEPLOYMENT, ""),
            replica=_int_label(labels, LABEL_REPLICA, default=-1),
            spec_hash=labels.get(LABEL_SPEC_HASH, ""),
            commit=labels.get(LABEL_COMMIT, ""),
            state=self.state,
            health=health_from_status(self.status_text) if running else "none",
            created_at=self.created_at,
            started_at=started_from_status(self.status_text, now) if running else None,
            exit_code=self.exit_code,
            cpu_millis=_int_label(labels, LABEL_CPU),
            memory_bytes=_int_label(labels, LABEL_MEMORY),
            vram_bytes=_int_label(labels, LABEL_VRAM),
            gpu_ids=_list_label(labels, LABEL_GPUS),
            host_ports=_list_label(labels, LABEL_HOST_PORTS),
            owner=labels.get(LABEL_OWNER) or None,
        )


class InspectedContainer:
    """An inspect answer: the container's full state, health log and configuration."""

    def __init__(self, raw: Mapping[str, Any], fallback_id: str = "") -> None:
        self._raw = raw
        self._fallback_id = fallback_id
        self._state: Mapping[str, Any] = raw.get("State") or {}
        self._health: Mapping[str, Any] = self._state.get("Health") or {}

    @property
    def id(self) -> str:
        return str(self._raw.get("Id") or self._fallback_id)

    @property
    def name(self) -> str:
        return str(self._raw.get("Name") or self.id).lstrip("/")

    @property
    def labels(self) -> Mapping[str, str]:
        return (self._raw.get("Config") or {}).get("Labels") or {}

    @property
    def stop_signal(self) -> str:
        """The signal ``docker stop`` sends it first (its StopSignal, else SIGTERM)."""
        return str((self._raw.get("Config") or {}).get("StopSignal") or "SIGTERM")

    @property
    def stop_timeout_s(self) -> float:
        """The grace ``docker stop`` gives it before SIGKILL (its StopTimeout, else 10 s)."""
        timeout = (self._raw.get("Config") or {}).get("StopTimeout")
        return float(timeout) if timeout is not None else 10.0

    @property
    def is_managed(self) -> bool:
        return _is_managed(self.labels)

    @property
    def state(self) -> ContainerState:
        return container_state(str(self._state.get("Status") or ""))

    @property
    def health(self) -> Health:
        return health_value(str(self._health.get("Status") or "none"))

    @property
    def exit_code(self) -> int | None:
        """Only for a container that has exited: a running one's ExitCode is stale or 0."""
        if self.state in ("exited", "dead", "restarting"):
            return int(self._state.get("ExitCode", 0))
        return None

    @property
    def last_probe_output(self) -> str:
        log = self._health.get("Log") or []
        return str(log[-1].get("Output") or "").strip() if log else ""

    def health_report(self) -> HealthReport:
        return HealthReport(
            container_id=self.id,
            state=self.state,
            health=self.health,
            exit_code=self.exit_code,
            restart_count=int(self._raw.get("RestartCount") or 0),
            failing_streak=int(self._health.get("FailingStreak") or 0),
            last_probe_output=self.last_probe_output,
            oom_killed=bool(self._state.get("OOMKilled")),
            error=str(self._state.get("Error") or ""),
        )


class EngineInfo:
    """The engine's ``/info`` answer."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    @property
    def server_version(self) -> str | None:
        version = self._raw.get("ServerVersion")
        return str(version) if version else None

    @property
    def cpu_millis(self) -> int | None:
        return int(self._raw["NCPU"]) * 1000 if self._raw.get("NCPU") else None

    @property
    def memory_bytes(self) -> int | None:
        return int(self._raw["MemTotal"]) if self._raw.get("MemTotal") else None

    @property
    def has_gpu_runtime(self) -> bool:
        return "nvidia" in (self._raw.get("Runtimes") or {})


def parse_cpu_sample(section: Mapping[str, Any] | None) -> CpuSample | None:
    """A ``cpu_stats`` (or ``precpu_stats``) section as a sample; None when it is empty (the
    ``precpu_stats`` of a one-shot read, or a container that is not running)."""
    if not section:
        return None
    usage = (section.get("cpu_usage") or {}).get("total_usage")
    system = section.get("system_cpu_usage")
    if not isinstance(usage, int) or not isinstance(system, int) or system <= 0:
        return None
    cpus = (
        section.get("online_cpus")
        or len((section.get("cpu_usage") or {}).get("percpu_usage") or ())
        or 1
    )
    return CpuSample(total_usage_ns=usage, system_usage_ns=system, online_cpus=int(cpus))


# --------------------------------------------------------------------------- values and text


def container_state(value: str) -> ContainerState:
    return value if value in _STATES else "dead"  # type: ignore[return-value]


def health_value(value: str) -> Health:
    return value if value in ("healthy", "unhealthy", "starting") else "none"  # type: ignore[return-value]


def health_from_status(status: str) -> Health:
    """Health from the list call's Status text: "Up 3 seconds (healthy)", "(health: starting)"."""
    if status.endswith("(healthy)"):
        return "healthy"
    if status.endswith("(unhealthy)"):
        return "unhealthy"
    if status.endswith("(health: starting)"):
        return "starting"
    return "none"


def started_from_status(status: str, now: datetime) -> datetime | None:
    """When a running container started, from the list call's "Up 5 seconds" text.

    Exact to the second under a minute, coarser above (Docker rounds: "About an hour"); the
    shortest duration the text can mean is used, so the estimate errs towards "started later".
    """
    match = _UP_FOR.match(status)
    if match is None:
        return None
    text = match.group(1).lower()
    if text == "less than a second":
        seconds = 0.0
    elif text == "about a minute":
        seconds = 60.0
    elif text == "about an hour":
        seconds = 1800.0  # Docker rounds hours: "about an hour" starts at 30 minutes
    else:
        count, _, unit = text.partition(" ")
        try:
            number = int(count)
        except ValueError:
            return None
        scale = _DURATION_UNITS.get(unit.rstrip("s"))
        if scale is None:
            return None
        seconds = (number - 0.5) * scale if unit.startswith("hour") else number * scale
    return now - timedelta(seconds=seconds)


def _int_label(labels: Mapping[str, str], key: str, default: int = 0) -> int:
    try:
        return int(labels.get(key, default))
    except ValueError:
        return default


def _list_label(labels: Mapping[str, str], key: str) -> tuple[str, ...]:
    return tuple(item for item in (labels.get(key) or "").split(",") if item)
