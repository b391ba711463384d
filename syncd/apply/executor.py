"""Executing a Plan: deployments in parallel (bounded), each by its actions and strategy.

Per deployment: images first (built once per node per content hash, shared by every deployment
of this apply), then

* prune, scale down, failed instances: stop with the definition's grace and remove, in the
  background (``stopping.py``), so what starts next need not wait;
* create, scale up, replace: start the new instances and wait until they serve;
* rolling update (``rolling.py``) or recreate (``recreate.py``) when the spec hash changed.

A new instance that does not become available is removed (and, in a rollout, the old version
restored) and the deployment's result says why in one sentence. Cancellation is honoured between
steps; whatever state it leaves, the next plan converges from it (ownership is in labels, names
carry the spec hash, the planner removes duplicates and strays).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from syncd.apply.bluegreen import blue_green, canary
from syncd.apply.instances import Redactor, SecretLookup
from syncd.apply.recreate import recreate
from syncd.apply.report import ApplyOptions, ApplyReport, DeploymentResult, ProgressEvent
from syncd.apply.rolling import rolling_update
from syncd.apply.run import Cancelled, DeploymentRun, DriverSource, parallel
from syncd.apply.swarm import apply_swarm_deployment
from syncd.apply.traffic import ProxySource, RouteTables, Traffic
from syncd.apply.waking import Wakeups
from syncd.errors import (
    BuildError,
    ImageBuildFailed,
    InstanceFailed,
    NodeError,
    RolloutFailed,
    SyncdError,
)
from syncd.plan.model import ActionKind, DeploymentPlan, Plan
from syncd.spec.models import NodeSpec
from syncd.state import LABEL_DEPLOYMENT, LABEL_SPEC_HASH

log = logging.getLogger("syncd.apply")

ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class ImageCache:
    """Images made present during this apply, per node: built or checked once per node per
    content hash even when several deployments share a definition."""

    done: dict[tuple[str, str], BuildError | None] = field(default_factory=dict)
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def ensure(self, run: DeploymentRun, node_id: str, repo_root: Path | None) -> None:
        spec = run.desired.spec
        key = (node_id, spec.build.content_hash if spec.build else spec.image)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.done:
                try:
                    # A remote build's context is its commit's files in the cache, not ours.
                    root = Path(spec.build.root) if spec.build and spec.build.root else repo_root
                    run.driver(node_id).ensure_image(spec.image, spec.build, root)
                    self.done[key] = None
                except BuildError as exc:
                    self.done[key] = exc
            error = self.done[key]
        if error is not None:
            raise error


def apply_plan(
    plan: Plan,
    pool: DriverSource,
    *,
    repo_root: Path | None,
    secrets: SecretLookup | None,
    commit: str,
    options: ApplyOptions | None = None,
    events: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    proxies: ProxySource | None = None,
    nodes: Sequence[NodeSpec] = (),
) -> ApplyReport:
    """Carry out ``plan`` on the nodes of ``pool``; never raises for a deployment's failure:
    each one's outcome, reason and counts are in the returned report.

    ``repo_root`` is the checkout that build contexts are relative to; ``secrets`` resolves
    ``{{secret:NAME}}`` when a container is created; ``commit`` is written into every new
    container's labels; ``events`` receives live progress; setting ``cancel`` stops the apply
    between steps (results then say "cancelled"). ``proxies`` (the pool, usually) hands out the
    nodes' proxies for the traffic steps of routed deployments, ``nodes`` their addresses;
    without proxies routed deployments are applied without moving traffic.
    """
    options = options or ApplyOptions()
    tables = RouteTables(proxies, nodes) if proxies is not None else None
    images = ImageCache()
    redact = Redactor()
    stop = cancel if cancel is not None else threading.Event()

    def one(deployment_plan: DeploymentPlan) -> DeploymentResult:
        return apply_deployment(
            deployment_plan,
            pool,
            repo_root=repo_root,
            secrets=secrets,
            commit=commit,
            options=options,
            events=events,
            cancel=stop,
            images=images,
            redact=redact,
            routes=tables,
        )

    with ThreadPoolExecutor(
        max_workers=max(1, options.concurrency), thread_name_prefix="syncd-apply"
    ) as workers:
        try:
            results = list(workers.map(one, plan.deployments))
        except BaseException:
            # Ctrl-C: tell every worker to stop between steps, then let them finish that step
            stop.set()
            raise
    return ApplyReport(commit=commit, results=tuple(results))


def apply_deployment(
    deployment_plan: DeploymentPlan,
    pool: DriverSource,
    *,
    repo_root: Path | None,
    secrets: SecretLookup | None,
    commit: str,
    options: ApplyOptions,
    events: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    images: ImageCache | None = None,
    redact: Redactor | None = None,
    routes: RouteTables | None = None,
) -> DeploymentResult:
    """Apply one deployment's plan; the result says how it went (never raises for it)."""
    run = DeploymentRun(
        plan=deployment_plan,
        pool=pool,
        options=options,
        commit=commit,
        secrets=secrets,
        redact=redact or Redactor(),
        emit_event=events,
        cancel=cancel,
        wakeups=Wakeups(_target_labels(deployment_plan)),
        traffic=Traffic(
            routes,
            deployment_plan.desired,
            deployment_plan.desired.strategy.drain_timeout_s if deployment_plan.desired else 0.0,
        ),
    )
    deployment_id = deployment_plan.deployment_id

    def result(outcome: str, reason: str = "", **extra: bool) -> DeploymentResult:
        return DeploymentResult(
            deployment_id=deployment_id,
            outcome=outcome,  # type: ignore[arg-type]
            reason=run.redact(reason),
            started=run.started,
            removed=run.removed,
            **extra,
        )

    if deployment_plan.swarm is not None:  # Swarm rolls it out; apply/swarm.py watches
        return apply_swarm_deployment(
            deployment_plan,
            pool,
            secrets=secrets,
            commit=commit,
            options=options,
            events=events,
            cancel=run.cancel or threading.Event(),
            redact=run.redact,
        )
    if not deployment_plan.has_changes and not deployment_plan.unplaceable:
        return result("noop")
    try:
        _execute(run, images or ImageCache(), repo_root)
    except Cancelled:
        run.emit("cancelled", "cancelled; the next pass continues from here")
        return result("cancelled", "cancelled before it finished", retryable=True)
    except RolloutFailed as failure:
        run.emit("failed", failure.reason)
        return result(
            "failed", failure.reason, retryable=failure.retryable, reverted=failure.reverted
        )
    except BuildError as exc:
        desired = deployment_plan.desired
        reason = build_reason(exc, built=bool(desired and desired.spec.build))
        run.emit("failed", reason)
        return result("failed", reason, retryable=False)
    except NodeError as exc:
        # unreachable: a temporary error; an engine's refusal: a failure until the spec changes
        run.emit("failed", exc.message)
        outcome = "error" if exc.retryable else "failed"
        return result(outcome, exc.message, retryable=exc.retryable)
    except SyncdError as exc:
        run.emit("failed", exc.message)
        return result("failed", exc.message, retryable=exc.retryable)
    except Exception as exc:  # a bug must not take the other deployments down with it
        log.exception("applying %s failed unexpectedly", deployment_id)
        reason = f"internal error: {type(exc).__name__}: {exc}"
        run.emit("failed", reason)
        return result("error", reason, retryable=True)
    if deployment_plan.unplaceable:
        reason = "; ".join(failure.describe() for failure in deployment_plan.unplaceable)
        run.emit("failed", reason)
        return result("failed", reason, retryable=True)
    replicas = deployment_plan.desired.replicas if deployment_plan.desired else 0
    run.emit("done", "up to date", updated=replicas, healthy=replicas, total=replicas)
    return result("ok")


def _target_labels(plan: DeploymentPlan) -> dict[str, str]:
    """The labels of the deployment's containers at the version being applied."""
    labels = {LABEL_DEPLOYMENT: plan.deployment_id}
    if plan.target_hash:
        labels[LABEL_SPEC_HASH] = plan.target_hash
    return labels


def build_reason(error: BuildError, *, built: bool) -> str:
    """``build failed: <the engine's words> (image ... on node)``; a build context that cannot
    be used is said after "build failed: ", a missing image that could not be pulled as the
    driver says it."""
    if isinstance(error, ImageBuildFailed):
        return error.summary
    return f"build failed: {error.message}" if built else error.message


def _execute(run: DeploymentRun, images: ImageCache, repo_root: Path | None) -> None:
    """The deployment's steps; it ends only when every stop it began in the background has
    ended (a stop's error raised like any step's, unless the steps ended by an error already)."""
    try:
        _steps(run, images, repo_root)
        run.stops.wait_all()
    finally:
        run.wakeups.close()
        run.stops.close()


def _steps(run: DeploymentRun, images: ImageCache, repo_root: Path | None) -> None:
    plan = run.plan
    actions = set(plan.actions)
    run.check_cancel()
    if plan.desired is not None and plan.start:
        nodes = sorted({placement.node_id for placement in plan.start})
        run.emit(
            "building" if plan.desired.spec.build else "image", f"image on {len(nodes)} node(s)"
        )
        parallel(nodes, lambda node_id: images.ensure(run, node_id, repo_root))
    if plan.remove:
        run.check_cancel()
        run.emit("removing", f"removing {len(plan.remove)} instance(s)")
        run.remove_observed(plan.remove)
    if ActionKind.ROLLING_UPDATE in actions and plan.desired is not None:
        if plan.desired.strategy.type == "BlueGreen":
            blue_green(run)
        elif plan.desired.strategy.type == "Canary":
            canary(run)
        else:
            rolling_update(run)
    elif ActionKind.RECREATE in actions and plan.desired is not None:
        recreate(run)
    elif plan.start:
        _start_and_wait(run)
    elif plan.replace:
        # old-version instances without a strategy action: nothing replaces them, remove them
        run.remove_observed(plan.replace)


def _start_and_wait(run: DeploymentRun) -> None:
    """Create, scale up, replace: new instances next to the ones that stay."""
    run.check_cancel()
    kept = len(run.plan.keep)
    run.emit("starting", f"starting {len(run.plan.start)} instance(s)", total=kept)
    try:
        started = run.start(run.plan.start)
        # Kept instances of the target version that do not serve yet (a killed pass started
        # them): the deployment is not up to date before they serve, so wait for them too.
        settling = [item for item in run.track_existing(run.plan.keep) if not item.available]
        run.wait_available([*started, *settling], serving_besides=kept - len(settling))
    except InstanceFailed as failure:
        # a new instance that cannot serve is not left crash-looping on the node
        run.remove_tracked(list(run.new_instances))
        raise RolloutFailed(run.deployment_id, failure) from failure
