"""Prometheus metrics of the daemon, served at ``/metrics``.

prometheus-client is the reference implementation of the text exposition format: histograms,
label escaping and the content type are exactly what Prometheus scrapes, with nothing to keep in
step by hand. Metrics live in their own ``CollectorRegistry`` rather than the process-global
one, so tests (and a reloaded daemon) get a fresh, isolated set and no library's metrics leak
into ours.

Alerts worth setting (docs/status.md): ``time() - syncd_last_successful_pass_timestamp_seconds``
too large, ``syncd_source_stale == 1`` for long, ``syncd_deployments{status="Failed"} > 0``,
``syncd_node_reachable == 0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from functools import partial

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from syncd.status.model import DEPLOYMENT_STATES, NodeStatus, SyncStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The *_created series (one per label set) double the output and no alert of ours needs them.
disable_created_metrics()

# Passes take from milliseconds (nothing changed) to minutes (a health-gated rollout).
_PASS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class SyncdMetrics:
    """Every metric the daemon exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Every metric goes into this registry, never the process-global one.
        counter = partial(Counter, registry=self.registry)
        gauge = partial(Gauge, registry=self.registry)
        self.pass_duration = Histogram(
            "syncd_pass_duration_seconds",
            "Duration of a pass (fetch, validate, plan, apply or reconcile).",
            ["kind"],
            buckets=_PASS_BUCKETS,
            registry=self.registry,
        )
        self.passes = counter("syncd_passes", "Passes run, by result (ok or error).", ["result"])
        self.last_success = gauge(
            "syncd_last_successful_pass_timestamp_seconds",
            "Unix time when a pass last finished without error.",
        )
        self.deployments = gauge(
            "syncd_deployments",
            "Deployments by status (Pending, Deploying, OK, Error, Failed).",
            ["status"],
        )
        self.rollouts = counter(
            "syncd_rollouts",
            "Rollouts started, by deployment and outcome.",
            ["deployment", "outcome"],
        )
        self.reverts = counter(
            "syncd_reverts",
            "Rollouts reverted to the previous version, by deployment.",
            ["deployment"],
        )
        self.heals = counter(
            "syncd_drift_healed",
            "Instances brought back after drift (died, stopped or removed by hand).",
            ["deployment"],
        )
        self.node_reachable = gauge(
            "syncd_node_reachable",
            "1 when the node's engine answered the last observation, else 0.",
            ["node"],
        )
        self.source_stale = gauge(
            "syncd_source_stale",
            "1 while fetching the Git repository fails (what runs may lag behind the branch).",
        )
        for state in DEPLOYMENT_STATES:
            self.deployments.labels(status=state).set(0)
        self._nodes_lock = threading.Lock()
        self._known_nodes: set[str] = set()

    def observe_pass(self, duration_s: float, ok: bool, kind: str = "sync") -> None:
        """Record one pass; ``kind`` is "sync" (after a fetch) or "reconcile" (drift only)."""
        self.pass_duration.labels(kind=kind).observe(duration_s)
        self.passes.labels(result="ok" if ok else "error").inc()
        if ok:
            self.last_success.set(time.time())

    def count_rollout(self, deployment_id: str, outcome: str = "started") -> None:
        self.rollouts.labels(deployment=deployment_id, outcome=outcome).inc()

    def count_revert(self, deployment_id: str) -> None:
        self.reverts.labels(deployment=deployment_id).inc()

    def count_heal(self, deployment_id: str, instances: int = 1) -> None:
        self.heals.labels(deployment=deployment_id).inc(instances)

    def set_nodes(self, nodes: Iterable[NodeStatus]) -> None:
        """Reachability of every node; nodes no longer configured disappear from the output."""
        with self._nodes_lock:
            seen = set()
            for node in nodes:
                self.node_reachable.labels(node=node.id).set(1 if node.reachable else 0)
                seen.add(node.id)
            for gone in self._known_nodes - seen:
                self.node_reachable.remove(gone)
            self._known_nodes = seen

    def update_from_status(self, status: SyncStatus) -> None:
        """Deployments by status, node reachability and source staleness from one status."""
        counts = dict.fromkeys(DEPLOYMENT_STATES, 0)
        for deployment in status.deployments:
            counts[deployment.status] += 1
        for state, count in counts.items():
            self.deployments.labels(status=state).set(count)
        self.set_nodes(status.nodes)
        self.source_stale.set(1 if status.source_stale else 0)

    def render(self) -> bytes:
        """The text exposition format (serve with ``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


_default: SyncdMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> SyncdMetrics:
    """The daemon's metrics (one set per process, created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SyncdMetrics()
        return _default


def render_metrics(metrics: SyncdMetrics | None = None) -> bytes:
    """What ``GET /metrics`` answers: the text exposition of ``metrics`` (default: the daemon's)."""
    return (metrics or default_metrics()).render()
