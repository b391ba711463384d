"""What the apply engine takes (options) and gives back (progress events, a report).

A reason is one readable sentence a person can act on ("health check failed: ...", "exited with
code 3: <last log line>", "build failed: COPY failed: ..."). Reasons and events never carry a
secret value: they are built only from engine output, names and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["ok", "failed", "error", "cancelled", "noop"]

# The defaults of every apply, written once: the daemon config, `syncd apply` and the sync
# layer's settings all fall back to these.
DEFAULT_CONCURRENCY = 4  # deployments applied at once
DEFAULT_PROGRESS_DEADLINE_S = 600.0  # a new instance must be available within this


@dataclass(frozen=True)
class ApplyOptions:
    """Knobs of one apply; defaults suit a production daemon, tests shrink the waits."""

    concurrency: int = DEFAULT_CONCURRENCY
    progress_deadline_s: float = DEFAULT_PROGRESS_DEADLINE_S
    settle_s: float = 2.0  # without a health check: running this long without a restart
    stop_grace_s: float = 10.0  # SIGTERM, then SIGKILL after this
    poll_interval_s: float = 0.25  # how often pending instances are inspected
    log_lines: int = 20  # log lines read to explain a failure


@dataclass(frozen=True)
class ProgressEvent:
    """One step of one deployment, for live progress (the CLI) and status (the daemon).

    ``updated``: instances of the target version that exist; ``healthy``: instances of any
    version that serve; ``total``: instances of any version that exist (parked ones excluded).
    """

    deployment_id: str
    phase: str  # "building", "starting", "waiting", "removing", "reverting", "done", "failed"
    message: str
    updated: int = 0
    healthy: int = 0
    total: int = 0
    desired: int = 0
    traffic_percent: int | None = None  # Canary/BlueGreen: the new version's share now


@dataclass(frozen=True)
class DeploymentResult:
    deployment_id: str
    outcome: Outcome
    reason: str = ""
    retryable: bool = False
    reverted: bool = False
    started: int = 0  # containers created in this apply
    removed: int = 0  # containers removed in this apply


@dataclass(frozen=True)
class ApplyReport:
    commit: str
    results: tuple[DeploymentResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """No deployment failed, errored or was cancelled."""
        return all(r.outcome in ("ok", "noop") for r in self.results)

    @property
    def failures(self) -> tuple[DeploymentResult, ...]:
        return tuple(r for r in self.results if r.outcome not in ("ok", "noop"))

    def result(self, deployment_id: str) -> DeploymentResult | None:
        return next((r for r in self.results if r.deployment_id == deployment_id), None)
