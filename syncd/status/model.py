"""What the daemon reports after each pass: the status file, the notes and the CLI tables read this.

The JSON form (``to_json_dict``) is the status file's format, described by
``schemas/status.schema.json``; keys are camelCase like the Deploy Svc API's (``definitionId``),
times are ISO 8601 in UTC. Secrets never reach these models: details and errors are written from
masked values only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast, get_args

from syncd.errors import SpecProblem, SyncdError
from syncd.state import NodeFacts, ObservedInstance

SCHEMA_VERSION = 1

DeploymentState = Literal["Pending", "Deploying", "OK", "Error", "Failed"]
DEPLOYMENT_STATES: tuple[str, ...] = get_args(DeploymentState)


# Bounds whatever the input (a commit asking for 100,000 replicas, an engine's endless error):
# a status is read by people and rewritten every pass, so no text in it grows without limit.
MAX_TEXT_CHARS = 2000  # details, lastError, sourceError, headError, commitSubject
MAX_VALIDATION_ERRORS = 100  # the first ones; ``syncd validate`` lists them all


def bounded_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was left out (applying it
    twice changes nothing, so a status read back and written again stays the same)."""
    if len(text) <= limit:
        return text
    # the note's length is taken from the kept part; len(text) has at least as many digits as
    # the count it will say, so the result never exceeds ``limit``
    kept = max(limit - len(f"… ({len(text)} more characters)"), 0)
    return text[:kept] + f"… ({len(text) - kept} more characters)"


class StatusFormatError(SyncdError):
    """A status file or note that is not what syncd writes (hand-edited, truncated, too new)."""


# -- (de)serialising helpers ---------------------------------------------------------------------


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second ("2026-11-28T07:40:37Z"); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive times in syncd are UTC
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StatusFormatError(f"{where}: expected a date-time string, found {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise StatusFormatError(f"{where}: {value!r} is not an ISO 8601 date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, dict):
        raise StatusFormatError(f"{where}: expected an object, found {type(data).__name__}")
    if key not in data:
        raise StatusFormatError(f"{where}: the field {key!r} is missing")
    value = data[key]
    # bool is an int in Python; a count must not be read from true/false
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StatusFormatError(f"{where}.{key}: expected {_kind_name(kind)}, found {value!r}")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def _optional(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any
) -> Any:
    if data.get(key) is None:
        return default
    return _field(data, key, kind, where)


# -- the models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceStatus:
    """One container of a deployment as the last observation saw it."""

    node_id: str
    container_id: str
    name: str
    replica: int
    spec_hash: str
    state: str  # Docker's container state: running, exited, ...
    health: str  # healthy, unhealthy, starting, none

    @classmethod
    def from_observed(cls, instance: ObservedInstance) -> InstanceStatus:
        return cls(
            node_id=instance.node_id,
            container_id=instance.container_id,
            name=instance.name,
            replica=instance.replica,
            spec_hash=instance.spec_hash,
            state=instance.state,
            health=instance.health,
        )

    @property
    def reference_status(self) -> str:
        """The reference's instance status: Healthy, Degraded, Unreachable, Error or Unknown."""
        if self.state == "unreachable":
            return "Unreachable"
        if self.state in ("exited", "dead") or self.health == "unhealthy":
            return "Error"
        if self.state == "running" and self.health in ("healthy", "none"):
            return "Healthy"
        if self.state in ("running", "restarting", "paused", "created"):
            return "Degraded"  # up but starting, restarting or paused
        return "Unknown"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "containerId": self.container_id,
            "name": self.name,
            "replica": self.replica,
            "specHash": self.spec_hash,
            "state": self.state,
            "health": self.health,
        }

    @classmethod
    def from_json_dict(cls, data: Any, where: str = "instance") -> InstanceStatus:
        return cls(
            node_id=_field(data, "nodeId", str, where),
            container_id=_field(data, "containerId", str, where),
            name=_field(data, "name", str, where),
            replica=_field(data, "replica", int, where),
            spec_hash=_field(data, "specHash", str, where),
            state=_field(data, "state", str, where),
            health=_field(data, "health", str, where),
        )


@dataclass(frozen=True)
class DeploymentStatus:
    """One deployment: the reference's status and details, replica counts and instances."""

    id: str
    definition_id: str
    status: DeploymentState
    details: str  # one sentence saying why, e.g. "health check failed: ..."
    desired_replicas: int
    ready_replicas: int
    updated_replicas: int
    instances: tuple[InstanceStatus, ...] = ()
    autoscaling: str | None = None  # e.g. "autoscaled 2..10, now 4"
    attempts: int = 0  # failed attempts on the current commit
    last_error: str = ""
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in DEPLOYMENT_STATES:
            raise ValueError(
                f"status must be one of {', '.join(DEPLOYMENT_STATES)}, not {self.status!r}"
            )
        object.__setattr__(self, "instances", tuple(self.instances))
        object.__setattr__(self, "details", bounded_text(self.details))
        object.__setattr__(self, "last_error", bounded_text(self.last_error))
        if self.autoscaling is not None:
            object.__setattr__(self, "autoscaling", bounded_text(self.autoscaling))

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "definitionId": self.definition_id,
            "status": self.status,
            "details": self.details,
            "desiredReplicas": self.desired_replicas,
            "readyReplicas": self.ready_replicas,
            "updatedReplicas": self.updated_replicas,
            "instances": [instance.to_json_dict() for instance in self.instances],
            "autoscaling": self.autoscaling,
            "attempts": self.attempts,
            "lastError": self.last_error,
            "updatedAt": format_time(self.updated_at),
        }

    @classmethod
    def from_json_dict(cls, data: Any, where: str = "deployment") -> DeploymentStatus:
        status = _field(data, "status", str, where)
        if status not in DEPLOYMENT_STATES:
            raise StatusFormatError(f"{where}.status: unknown status {status!r}")
        instances = _field(data, "instances", list, where)
        return cls(
            id=_field(data, "id", str, where),
            definition_id=_field(data, "definitionId", str, where),
            status=cast(DeploymentState, status),
            details=_field(data, "details", str, where),
            desired_replicas=_field(data, "desiredReplicas", int, where),
            ready_replicas=_field(data, "readyReplicas", int, where),
            updated_replicas=_field(data, "updatedReplicas", int, where),
            instances=tuple(
                InstanceStatus.from_json_dict(item, f"{where}.instances[{index}]")
                for index, item in enumerate(instances)
            ),
            autoscaling=_optional(data, "autoscaling", str, where, None),
            attempts=_optional(data, "attempts", int, where, 0),
            last_error=_optional(data, "lastError", str, where, ""),
            updated_at=parse_time(data.get("updatedAt"), f"{where}.updatedAt"),
        )


@dataclass(frozen=True)
class NodeStatus:
    """One node: could we reach its engine, and when did we last hear from it."""

    id: str
    url: str
    reachable: bool
    error: str | None = None
    engine_version: str | None = None
    last_seen: datetime | None = None  # last successful observation ("last heartbeat")
    cluster: str | None = None

    @classmethod
    def from_facts(
        cls,
        facts: NodeFacts,
        url: str,
        *,
        cluster: str | None = None,
        last_seen: datetime | None = None,
    ) -> NodeStatus:
        """From an observation; ``last_seen`` defaults to the observation's time when reachable."""
        if last_seen is None and facts.reachable:
            last_seen = facts.observed_at
        return cls(
            id=facts.node_id,
            url=url,
            reachable=facts.reachable,
            error=facts.error,
            engine_version=facts.engine_version,
            last_seen=last_seen,
            cluster=cluster,
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "reachable": self.reachable,
            "error": self.error,
            "engineVersion": self.engine_version,
            "lastSeen": format_time(self.last_seen),
            "cluster": self.cluster,
        }

    @classmethod
    def from_json_dict(cls, data: Any, where: str = "node") -> NodeStatus:
        return cls(
            id=_field(data, "id", str, where),
            url=_field(data, "url", str, where),
            reachable=_field(data, "reachable", bool, where),
            error=_optional(data, "error", str, where, None),
            engine_version=_optional(data, "engineVersion", str, where, None),
            last_seen=parse_time(data.get("lastSeen"), f"{where}.lastSeen"),
            cluster=_optional(data, "cluster", str, where, None),
        )


@dataclass(frozen=True)
class SyncStatus:
    """The whole status after a pass: what is applied, what is wrong, every deployment and node."""

    commit: str | None  # the commit applied (the last good one); None before the first
    commit_subject: str = ""
    last_pass_at: datetime | None = None
    last_success_at: datetime | None = None
    source_stale: bool = False  # fetching failed: what runs may lag behind the branch
    source_error: str = ""
    # problems of the newest commit when it was refused; dicts are accepted and converted
    validation_errors: tuple[SpecProblem, ...] = ()
    deployments: tuple[DeploymentStatus, ...] = ()
    nodes: tuple[NodeStatus, ...] = ()
    daemon_version: str = ""
    # the newest commit fetched; differs from ``commit`` when it was refused (invalid, unsigned)
    head_commit: str | None = None
    head_error: str = ""  # why the head commit was refused, in a sentence

    def __post_init__(self) -> None:
        problems = tuple(
            p if isinstance(p, SpecProblem) else _problem_from_dict(p, f"validationErrors[{i}]")
            for i, p in enumerate(self.validation_errors)
        )
        object.__setattr__(self, "validation_errors", problems[:MAX_VALIDATION_ERRORS])
        for name in ("commit_subject", "source_error", "head_error"):
            object.__setattr__(self, name, bounded_text(getattr(self, name)))
        object.__setattr__(self, "deployments", tuple(self.deployments))
        object.__setattr__(self, "nodes", tuple(self.nodes))

    def deployment(self, deployment_id: str) -> DeploymentStatus | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    def node(self, node_id: str) -> NodeStatus | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_json_dict(self) -> dict[str, Any]:
        """The status file's JSON object (schemas/status.schema.json)."""
        return {
            "schemaVersion": SCHEMA_VERSION,
            "commit": self.commit,
            "commitSubject": self.commit_subject,
            "headCommit": self.head_commit,
            "headError": self.head_error,
            "lastPassAt": format_time(self.last_pass_at),
            "lastSuccessAt": format_time(self.last_success_at),
            "sourceStale": self.source_stale,
            "sourceError": self.source_error,
            "validationErrors": [problem.as_dict() for problem in self.validation_errors],
            "deployments": [deployment.to_json_dict() for deployment in self.deployments],
            "nodes": [node.to_json_dict() for node in self.nodes],
            "daemonVersion": self.daemon_version,
        }

    # the daemon's reporting calls it this way
    to_dict = to_json_dict

    @classmethod
    def from_json_dict(cls, data: Any) -> SyncStatus:
        """Read the status file's JSON object; StatusFormatError says which field is wrong."""
        where = "status"
        version = _field(data, "schemaVersion", int, where)
        if version > SCHEMA_VERSION:
            raise StatusFormatError(
                f"the status was written by a newer syncd (schema version {version}, "
                f"this syncd reads {SCHEMA_VERSION})",
                hint="use the same syncd version as the daemon",
            )
        return cls(
            commit=_optional(data, "commit", str, where, None),
            commit_subject=_optional(data, "commitSubject", str, where, ""),
            head_commit=_optional(data, "headCommit", str, where, None),
            head_error=_optional(data, "headError", str, where, ""),
            last_pass_at=parse_time(data.get("lastPassAt"), f"{where}.lastPassAt"),
            last_success_at=parse_time(data.get("lastSuccessAt"), f"{where}.lastSuccessAt"),
            source_stale=_optional(data, "sourceStale", bool, where, False),
            source_error=_optional(data, "sourceError", str, where, ""),
            validation_errors=tuple(
                _problem_from_dict(item, f"{where}.validationErrors[{index}]")
                for index, item in enumerate(_optional(data, "validationErrors", list, where, []))
            ),
            deployments=tuple(
                DeploymentStatus.from_json_dict(item, f"{where}.deployments[{index}]")
                for index, item in enumerate(_optional(data, "deployments", list, where, []))
            ),
            nodes=tuple(
                NodeStatus.from_json_dict(item, f"{where}.nodes[{index}]")
                for index, item in enumerate(_optional(data, "nodes", list, where, []))
            ),
            daemon_version=_optional(data, "daemonVersion", str, where, ""),
        )


def _problem_from_dict(data: Any, where: str) -> SpecProblem:
    return SpecProblem(
        file=_field(data, "file", str, where),
        line=_field(data, "line", int, where),
        column=_field(data, "column", int, where),
        path=_field(data, "path", str, where),
        message=_field(data, "message", str, where),
    )
