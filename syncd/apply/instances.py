"""One instance's life as the apply engine sees it: its name, labels and environment, creating
it, waiting until it serves, explaining why it did not, and removing it.

Availability: a new instance counts only once it serves. With a Docker health check (the
definition's, or the image's own) that means ``healthy``; without one, running for
``settle_s`` without a restart. It fails when it exits, restarts (crash loop), cannot be
created, or is not available within the progress deadline.
"""

from __future__ import annotations

import logging
import re
import secrets as random_source
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from syncd.apply.listening import (
    host_port_claims,
    listening_env,
    listening_health_check,
    listening_ports,
)
from syncd.apply.report import ApplyOptions
from syncd.errors import InstanceFailed, InstanceMisconfigured, NameConflict, NodeError, SecretError
from syncd.nodes.base import ContainerRequest, NodeDriver
from syncd.plan.model import Placement
from syncd.spec.desired import DesiredDeployment
from syncd.spec.templating import REFERENCE
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
    HealthReport,
    ObservedInstance,
)

log = logging.getLogger("syncd.apply")

_RESERVED_LABEL_PREFIX = "io.syncd."
#: how long to wait for a restarted instance's next exit, to report its exit code
CRASH_CONFIRM_S = 5.0
_MIN_REDACTED_LENGTH = 4  # shorter values would blank out ordinary words


class SecretLookup(Protocol):
    """Something with ``get(name) -> str``: ``syncd.spec.secrets.SecretProvider``."""

    def get(self, name: str) -> str: ...


@dataclass
class Redactor:
    """Replaces every secret value this apply resolved with ``(secret NAME)`` in any text that
    leaves the engine (reasons built from container logs, engine errors). Belt and braces: an
    application that prints its own environment must not leak it into syncd's status."""

    values: dict[str, str] = field(default_factory=dict)  # value -> name
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, value: str) -> None:
        if len(value) >= _MIN_REDACTED_LENGTH:
            with self._lock:
                self.values[value] = name

    def __call__(self, text: str) -> str:
        with self._lock:
            known = sorted(self.values.items(), key=lambda item: -len(item[0]))
        for value, name in known:
            text = text.replace(value, f"(secret {name})")
        return text


# --------------------------------------------------------------------------- requests


def container_name(deployment_id: str, replica: int, spec_hash: str, suffix: str = "") -> str:
    """``<deployment>-<replica>-<hash8>``: readable in ``docker ps``, unique per version."""
    name = f"{deployment_id}-{replica}-{spec_hash[:8]}"
    return f"{name}-{suffix}" if suffix else name


def instance_labels(
    desired: DesiredDeployment, placement: Placement, commit: str
) -> tuple[tuple[str, str], ...]:
    """The definition's labels, then syncd's ownership and resource-claim labels (which win)."""
    spec = desired.spec
    resources = spec.resources
    ours = {
        LABEL_MANAGED: "true",
        LABEL_DEPLOYMENT: desired.id,
        LABEL_SPEC_HASH: desired.spec_hash,
        LABEL_COMMIT: commit,
        LABEL_REPLICA: str(placement.replica),
    }
    if resources.cpu_millis is not None:
        ours[LABEL_CPU] = str(resources.cpu_millis)
    if resources.memory_bytes is not None:
        ours[LABEL_MEMORY] = str(resources.memory_bytes)
    if resources.vram_bytes is not None:
        ours[LABEL_VRAM] = str(resources.vram_bytes)
    if placement.gpu_ids:
        ours[LABEL_GPUS] = ",".join(placement.gpu_ids)
    if placement.owner is not None:  # the plan's owner; never part of the spec hash
        ours[LABEL_OWNER] = placement.owner
    if spec.ports:
        ours[LABEL_HOST_PORTS] = ",".join(host_port_claims(desired, placement))
    theirs = [(k, v) for k, v in spec.labels if not k.startswith(_RESERVED_LABEL_PREFIX)]
    return tuple(theirs) + tuple(sorted(ours.items()))


def resolved_env(
    desired: DesiredDeployment, secrets: SecretLookup | None, redact: Redactor
) -> tuple[tuple[str, str], ...]:
    """The environment with ``{{secret:NAME}}`` replaced by values: the only place they are read.

    Raises InstanceMisconfigured (permanent) naming the secret, never its value."""
    env: list[tuple[str, str]] = []
    for key, value in desired.spec.env:

        def lookup(match: re.Match[str], key: str = key) -> str:
            kind, name = match.group(1), match.group(2)
            if kind != "secret":
                return match.group(0)
            if secrets is None:
                raise InstanceMisconfigured(
                    f"envar {key} references secret {name!r} but no secret source is configured "
                    "(--secrets-dir or --age-identity)"
                )
            try:
                secret = secrets.get(name)
            except SecretError as exc:
                raise InstanceMisconfigured(f"envar {key}: {exc.message}") from None
            redact.add(name, secret)
            return secret

        env.append((key, REFERENCE.sub(lookup, value)))
    return tuple(env)


def build_request(
    desired: DesiredDeployment,
    placement: Placement,
    *,
    commit: str,
    env: tuple[tuple[str, str], ...],
    suffix: str = "",
) -> ContainerRequest:
    spec = desired.spec
    return ContainerRequest(
        name=container_name(desired.id, placement.replica, desired.spec_hash, suffix),
        image=spec.image,
        labels=instance_labels(desired, placement, commit),
        env=listening_env(desired, placement) + env,
        command=spec.command,
        cpu_millis=spec.resources.cpu_millis,
        memory_bytes=spec.resources.memory_bytes,
        gpu_ids=placement.gpu_ids,
        network=spec.network,
        ports=listening_ports(desired, placement),
        volumes=spec.volumes,
        health_check=listening_health_check(desired, placement),
        stop_signal=spec.stop_signal,
        stop_grace_s=spec.stop_grace_s,
    )


def create_instance(
    driver: NodeDriver,
    desired: DesiredDeployment,
    placement: Placement,
    *,
    commit: str,
    env: tuple[tuple[str, str], ...],
    redact: Redactor,
) -> tuple[str, str]:
    """Create and start one instance; returns (container id, name). A name already taken (a
    leftover the planner will clean up) gets a short random suffix instead of failing."""
    suffix = ""
    for _attempt in range(3):
        request = build_request(desired, placement, commit=commit, env=env, suffix=suffix)
        try:
            return driver.create_instance(request), request.name
        except NameConflict:
            suffix = random_source.token_hex(2)
        except NodeError as exc:
            if exc.retryable:
                raise
            raise InstanceFailed(
                f"cannot create {request.name} on {placement.node_id}: {redact(str(exc))}"
            ) from None
    raise InstanceFailed(f"cannot create a uniquely named container on {placement.node_id}")


# --------------------------------------------------------------------------- availability


@dataclass
class Tracked:
    """A new instance this apply created, watched until it serves."""

    node_id: str
    container_id: str
    name: str
    replica: int
    created_at: float = field(default_factory=time.monotonic)
    running_since: float | None = None
    available: bool = False
    restart_base: int = 0  # restarts it already had when we began watching it
    crashed_at: float | None = None  # when a restart was first seen without its exit code
    private_ports: tuple[int, ...] = ()  # routed instances: where it listens (plan/routes.py)


Clock = Callable[[], float]


def check_available(
    driver: NodeDriver,
    tracked: Tracked,
    options: ApplyOptions,
    redact: Redactor,
    *,
    clock: Clock = time.monotonic,
) -> bool:
    """One look at a pending instance: True once it serves, False while it may still; raises
    InstanceFailed with the reason once it cannot."""
    if tracked.available:
        return True
    report = driver.health(tracked.container_id)
    now = clock()
    restarted = report.restart_count > tracked.restart_base
    if report.state in ("exited", "dead", "restarting") or restarted:
        if report.exit_code is None and report.state == "running":
            # Restarted already: the engine has reset its exit code. A crash loop exits again
            # soon; wait briefly for that exit so the reason can say which code it was.
            if tracked.crashed_at is None:
                tracked.crashed_at = now
            if now - tracked.crashed_at < CRASH_CONFIRM_S:
                return False
        raise InstanceFailed(redact(explain_exit(driver, tracked, report, options)))
    if report.health == "healthy":
        tracked.available = True
        return True
    if report.state == "running" and report.health == "none":
        if tracked.running_since is None:
            tracked.running_since = now
        if now - tracked.running_since >= options.settle_s:
            tracked.available = True
            return True
    if now - tracked.created_at > options.progress_deadline_s:
        raise InstanceFailed(redact(explain_deadline(driver, tracked, report, options)))
    return False


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _logs(driver: NodeDriver, tracked: Tracked, options: ApplyOptions) -> str:
    try:
        return driver.tail_logs(tracked.container_id, options.log_lines)
    except NodeError:
        return ""


def explain_exit(
    driver: NodeDriver, tracked: Tracked, report: HealthReport, options: ApplyOptions
) -> str:
    """``exited with code 3: <last log line>`` (or OOM, or the engine's start error)."""
    where = f"{tracked.name} on {tracked.node_id}"
    if report.oom_killed:
        cause = "killed: out of memory (raise resources.memory)"
    elif report.error:
        cause = f"could not start: {report.error}"
    else:
        cause = (
            f"exited with code {report.exit_code}"
            if report.exit_code is not None
            else "exited and was restarted"
        )
    restarts = report.restart_count - tracked.restart_base
    if restarts > 0:
        where = f"{where}, crash loop: restarted {restarts} time{'s' if restarts > 1 else ''}"
    last = _last_line(_logs(driver, tracked, options))
    return f"{cause}: {last} ({where})" if last else f"{cause} ({where})"


def explain_deadline(
    driver: NodeDriver, tracked: Tracked, report: HealthReport, options: ApplyOptions
) -> str:
    """``health check failed: <last probe output>`` once the progress deadline has passed."""
    where = f"{tracked.name} on {tracked.node_id}"
    deadline = f"{options.progress_deadline_s:g}s"
    if report.health in ("unhealthy", "starting"):
        probe = _last_line(report.last_probe_output)
        if not probe:
            probe = _last_line(_logs(driver, tracked, options)) or "no probe output"
        failing = report.health == "unhealthy" or report.failing_streak > 0
        state = "health check failed" if failing else "health check not passing"
        return f"{state}: {probe} ({where}, not healthy after {deadline})"
    return f"not available within {deadline}: container is {report.state} ({where})"


# --------------------------------------------------------------------------- removal


def stop_and_remove(driver: NodeDriver, container_id: str, grace_s: float | None) -> None:
    driver.stop_instance(container_id, grace_s)
    driver.remove_instance(container_id)


def describe_instance(instance: ObservedInstance) -> str:
    return f"{instance.name} on {instance.node_id}"
