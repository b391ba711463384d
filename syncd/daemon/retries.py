"""Per-deployment states (Pending, Deploying, OK, Error, Failed) and the retry schedule.

The reference's state machine, with what it left open made precise:
- Error is retryable: the next attempt waits an exponential backoff with jitter (``backoffMin``
  doubling up to ``backoffMax``), so a broken node is not hammered and many deployments that
  failed together do not retry together.
- Failed is final for the deployment *as committed*, and only for a version that cannot work:
  after ``maxAttempts`` attempts of one that crashed or never became healthy, or at once for a
  permanent cause (an image that does not build). Only a commit that changes the deployment (its
  fingerprint) starts it over.
- A condition of the nodes (one that cannot be reached, no room for the replicas) is no fault of
  the version: the deployment stays in Error however long it lasts, retried at the capped
  backoff, and at once when the nodes change (one back, one added, capacity freed). A reboot of
  a host never needs a commit to recover.
The states survive a restart (``stateDir/deployments.json``, written after each pass that
changed them): a restarted daemon resumes each deployment's attempt count and backoff instead of
starting every one over at Pending. A deployment whose fingerprint changed meanwhile starts over
as usual; a missing or corrupt file costs only that resumption.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, cast

from syncd.apply.report import DeploymentResult
from syncd.daemon.config import RetrySettings
from syncd.state import ObservedState

State = Literal["Pending", "Deploying", "OK", "Error", "Failed"]
STATES: tuple[str, ...] = ("Pending", "Deploying", "OK", "Error", "Failed")
STATES_FILE = "deployments.json"  # in the state dir
# What a finished rollout did to its deployment's state.
Settlement = Literal["superseded", "rolled_out", "healed", "cancelled", "failed"]


def backoff_delay(attempt: int, settings: RetrySettings, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after ``attempt`` failures (``attempt`` ≥ 1).

    "Equal jitter": half the exponential delay is fixed, half is random, so the wait grows for
    sure while retries of different deployments spread out.
    """
    uniform = (rng or random).uniform
    exponential = settings.backoff_min_s * (2 ** max(attempt - 1, 0))
    capped = min(exponential, settings.backoff_max_s)
    return capped / 2 + uniform(0, capped / 2)


@dataclass(frozen=True)
class DeploymentState:
    """What the daemon knows of one deployment between passes."""

    deployment_id: str
    fingerprint: str  # changes exactly when a commit changes the deployment
    state: State = "Pending"
    details: str = "Waiting for its first rollout."
    attempts: int = 0  # failed attempts at this fingerprint
    retry_at: float | None = None  # wall-clock time of the next attempt (Error only)
    last_heal: str | None = None  # sentence about the last drift healed
    # Error because of the nodes (unreachable, full), not the version: never Failed for it,
    # and due again as soon as the nodes change.
    waiting_on_nodes: bool = False
    # The nodes the last failed rollout worked on: an engine that was going down answers with
    # errors that look like the version's fault, so their return earns a Failed one a new start.
    failed_on: frozenset[str] = frozenset()

    def retry_due(self, now: float | None = None) -> bool:
        return self.retry_at is None or (time.time() if now is None else now) >= self.retry_at


class DeploymentStates:
    """The states of every deployment; one instance per daemon, touched by the pass thread only."""

    def __init__(self, settings: RetrySettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()
        self._states: dict[str, DeploymentState] = {}

    def snapshot(self) -> dict[str, object]:
        """What the next run needs, as JSON data (``restore`` reads it back)."""
        return {
            "deployments": {
                deployment_id: {
                    "fingerprint": state.fingerprint,
                    "state": state.state,
                    "details": state.details,
                    "attempts": state.attempts,
                    "retryAt": state.retry_at,
                    "lastHeal": state.last_heal,
                    "waitingOnNodes": state.waiting_on_nodes,
                    "failedOn": sorted(state.failed_on),
                }
                for deployment_id, state in sorted(self._states.items())
            }
        }

    def restore(self, data: Mapping[str, object]) -> int:
        """Take the states a previous run saved; entries that are not what ``snapshot`` writes
        are skipped. A rollout in flight then (Deploying) is Pending now: no job runs it.
        Returns how many were restored."""
        entries = data.get("deployments")
        if not isinstance(entries, dict):
            return 0
        restored = 0
        for deployment_id, entry in entries.items():
            state = _restored(deployment_id, entry)
            if state is not None:
                self._states[deployment_id] = state
                restored += 1
        return restored

    def get(self, deployment_id: str) -> DeploymentState | None:
        return self._states.get(deployment_id)

    def all(self) -> dict[str, DeploymentState]:
        return dict(self._states)

    def observe_fingerprint(self, deployment_id: str, fingerprint: str) -> DeploymentState:
        """The deployment as the current commit has it: a new fingerprint starts over."""
        current = self._states.get(deployment_id)
        if current is None or current.fingerprint != fingerprint:
            current = DeploymentState(deployment_id, fingerprint)
            self._states[deployment_id] = current
        return current

    def forget_except(self, deployment_ids: set[str]) -> None:
        """Drop the deployments that left Git (once their prune is done)."""
        for deployment_id in list(self._states):
            if deployment_id not in deployment_ids:
                del self._states[deployment_id]

    def set(
        self, deployment_id: str, state: State, details: str, **changes: object
    ) -> DeploymentState:
        current = self._states[deployment_id]
        updated = replace(current, state=state, details=details, **changes)  # type: ignore[arg-type]
        self._states[deployment_id] = updated
        return updated

    def deploying(self, deployment_id: str, details: str) -> DeploymentState:
        return self.set(deployment_id, "Deploying", details, retry_at=None, waiting_on_nodes=False)

    def ok(self, deployment_id: str, details: str) -> DeploymentState:
        return self.set(
            deployment_id, "OK", details, attempts=0, retry_at=None, waiting_on_nodes=False
        )

    def waiting_for_nodes(self, deployment_id: str, reason: str) -> DeploymentState:
        """The plan has nothing to do for the deployment but replicas no node can take now (no
        room, or the only fitting nodes unreachable): Error, no attempt counted, no rollout. Every
        pass plans again, so the deployment moves the moment a node can take them."""
        return self.set(
            deployment_id,
            "Error",
            f"{_sentence(reason)} Waiting for the nodes: placed as soon as one has room.",
            retry_at=None,
            waiting_on_nodes=True,
        )

    def proxy_failing(self, deployment_id: str, reason: str) -> DeploymentState:
        """Its instances run as planned, but a node's proxy refused its routes (``reason``:
        which node and port, and why): Error, no attempt counted; the pass that finds the proxy
        serving again makes it OK."""
        return self.set(
            deployment_id,
            "Error",
            f"{_sentence(reason)} Its instances run; traffic reaches them once the proxy serves.",
            retry_at=None,
            waiting_on_nodes=False,
        )

    def nodes_changed(self, returned: frozenset[str] = frozenset()) -> list[str]:
        """A node came back, was added or freed capacity: every deployment in Error because of
        the nodes is due at once (its backoff is over), and one Failed by a rollout on a node in
        ``returned`` (reachable again) starts over: what failed there may have been the engine
        going down. Returns their ids."""
        due: list[str] = []
        for deployment_id, state in list(self._states.items()):
            if state.state == "Error" and state.waiting_on_nodes and state.retry_at is not None:
                self._states[deployment_id] = replace(state, retry_at=None)
                due.append(deployment_id)
            elif state.state == "Failed" and state.failed_on & returned:
                self._states[deployment_id] = replace(
                    state,
                    state="Pending",
                    details="A node it failed on is back; it starts over.",
                    attempts=0,
                    retry_at=None,
                    failed_on=frozenset(),
                )
                due.append(deployment_id)
        return due

    def failed_attempt(
        self,
        deployment_id: str,
        reason: str,
        *,
        retryable: bool,
        condition: bool = False,
        nodes: frozenset[str] = frozenset(),
        now: float | None = None,
    ) -> DeploymentState:
        """Count one failed attempt: Error with a backoff, or Failed when attempts ran out or the
        cause is permanent. ``reason`` is a sentence (``health check failed: ...``).
        ``condition``: the cause was the nodes (one unreachable), not the version: Error at the
        capped backoff for as long as it lasts, never Failed."""
        current = self._states[deployment_id]
        attempts = current.attempts + 1
        reason = _sentence(reason)
        self._states[deployment_id] = replace(current, failed_on=nodes)
        if condition:
            delay = backoff_delay(attempts, self.settings, self._rng)
            return self.set(
                deployment_id,
                "Error",
                f"{reason} Attempt {attempts}; retrying in {_seconds(delay)}, or as soon as "
                "the nodes change.",
                attempts=attempts,
                retry_at=(time.time() if now is None else now) + delay,
                waiting_on_nodes=True,
            )
        if not retryable:
            return self.set(
                deployment_id,
                "Failed",
                reason,
                attempts=attempts,
                retry_at=None,
                waiting_on_nodes=False,
            )
        if attempts >= self.settings.max_attempts:
            return self.set(
                deployment_id,
                "Failed",
                f"{reason} Gave up after {attempts} attempts; a new commit that changes "
                "this deployment starts it over.",
                attempts=attempts,
                retry_at=None,
                waiting_on_nodes=False,
            )
        delay = backoff_delay(attempts, self.settings, self._rng)
        retry_at = (time.time() if now is None else now) + delay
        return self.set(
            deployment_id,
            "Error",
            f"{reason} Attempt {attempts} of {self.settings.max_attempts}; retrying in "
            f"{_seconds(delay)}.",
            attempts=attempts,
            retry_at=retry_at,
            waiting_on_nodes=False,
        )

    def settle_rollout(
        self,
        deployment_id: str,
        fingerprint: str | None,
        result: DeploymentResult,
        *,
        healed: str | None = None,
        nodes: frozenset[str] = frozenset(),
        now: float | None = None,
    ) -> tuple[Settlement, DeploymentState | None]:
        """Record what a rollout of ``deployment_id`` at ``fingerprint`` (None: a prune) came
        to. ``healed`` is the sentence for a rollout that undid drift. A rollout superseded by
        a newer commit (or a prune) changes nothing: the new version decides."""
        state = self._states.get(deployment_id)
        if fingerprint is None or state is None or state.fingerprint != fingerprint:
            return "superseded", state
        if result.outcome in ("ok", "noop"):
            if healed is not None:
                self.set(deployment_id, state.state, state.details, last_heal=healed)
            updated = self.ok(deployment_id, "Rolled out; checking the nodes.")
            return ("healed" if healed is not None else "rolled_out"), updated
        if result.outcome == "cancelled":
            updated = self.set(
                deployment_id, "Pending", "The rollout was cancelled; it starts again."
            )
            return "cancelled", updated
        # The apply engine's "error" outcome is a temporary cause outside the version (a node
        # that stopped answering, an unexpected error); "failed" is the version's own (it
        # crashed, never became healthy, did not build).
        updated = self.failed_attempt(
            deployment_id,
            result.reason or result.outcome,
            retryable=result.retryable,
            condition=result.outcome == "error" and result.retryable,
            nodes=nodes,
            now=now,
        )
        return "failed", updated


class NodeChanges:
    """What the last pass saw of the nodes (reachable ids, all ids, instances per node), to
    notice a node back, added or with capacity freed (fewer instances on it)."""

    def __init__(self) -> None:
        self._seen: tuple[frozenset[str], frozenset[str], frozenset[tuple[str, int]]] | None = None

    def notice(self, observed: ObservedState | None, states: DeploymentStates) -> list[str]:
        """Compare with the last pass; on a change, the deployments waiting on the nodes are due
        at once and one Failed on a node reachable again starts over. Returns their ids."""
        if observed is None:
            return []
        per_node: dict[str, int] = {}
        for instance in observed.instances:
            per_node[instance.node_id] = per_node.get(instance.node_id, 0) + 1
        seen = (
            observed.reachable_node_ids(),
            frozenset(observed.nodes),
            frozenset(per_node.items()),
        )
        before, self._seen = self._seen, seen
        if before is None or seen == before:
            return []
        return states.nodes_changed(returned=seen[0] - before[0])


def _restored(deployment_id: str, entry: object) -> DeploymentState | None:
    if not isinstance(entry, dict):
        return None
    fingerprint, state = entry.get("fingerprint"), entry.get("state")
    details, attempts = entry.get("details"), entry.get("attempts")
    retry_at, last_heal = entry.get("retryAt"), entry.get("lastHeal")
    if not (
        isinstance(fingerprint, str)
        and state in STATES
        and isinstance(details, str)
        and isinstance(attempts, int)
        and (retry_at is None or isinstance(retry_at, int | float))
        and (last_heal is None or isinstance(last_heal, str))
    ):
        return None
    if state == "Deploying":
        state, details = "Pending", "The daemon restarted mid-rollout; it continues."
    return DeploymentState(
        deployment_id,
        fingerprint,
        state=cast(State, state),  # checked against STATES above
        details=details,
        attempts=max(attempts, 0),
        retry_at=float(retry_at) if retry_at is not None else None,
        last_heal=last_heal,
        waiting_on_nodes=entry.get("waitingOnNodes") is True,
        failed_on=frozenset(node for node in entry.get("failedOn") or () if isinstance(node, str)),
    )


def _sentence(text: str) -> str:
    text = " ".join(text.split()) or "it failed for an unknown reason"
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _seconds(delay: float) -> str:
    if delay < 10:
        return f"{delay:.1f}s"
    if delay < 120:
        return f"{delay:.0f}s"
    return f"{delay / 60:.1f}m"
