"""One pass, composed in one place: load → observe → plan → route → apply (or stop before).

Every caller goes through :meth:`Sync.run`: ``syncd plan`` stops it with ``dry_run``,
``syncd apply`` reviews the plan (shows it, asks) before it applies, the daemon hands the plan
to its per-deployment rollout jobs through ``dispatch``, and the tests drive it as it is.
Callers differ in where they stop and in the hooks they pass, never in how the phases compose
(the shape of gitops-engine's ``pkg/engine/engine.go`` ``Sync``).

The route phase (``routing.py``) tells each node's proxy the routes derived from what runs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyOptions, ApplyReport, ProgressEvent
from syncd.apply.routes import ProxyChange, proxy_troubles, with_proxy_troubles
from syncd.errors import NodeError, PlanError, UsageError
from syncd.nodes.pool import NodePool
from syncd.plan.model import Plan
from syncd.plan.planner import plan as make_plan
from syncd.spec.cache import ParseCache
from syncd.spec.models import NodeSpec, SwarmClusterSpec
from syncd.spec.secrets import SecretProvider
from syncd.state import ObservedState
from syncd.sync.handover import newer_commits_seen
from syncd.sync.loading import LoadedRevision, load_revision
from syncd.sync.revisions import Revision
from syncd.sync.routing import heal_routes, proxy_changes
from syncd.sync.selection import NodeSelection, shard_of
from syncd.sync.settings import SyncSettings

# Hooks a caller passes to run(); each is one decision the caller owns.
ReplicaOverrides = Callable[[LoadedRevision, ObservedState, NodePool], Mapping[str, int]]
Review = Callable[["SyncResult"], bool]  # show the plan, ask; False stops before applying
Dispatch = Callable[["SyncResult"], None]  # applies the plan its own way (the daemon's jobs)
Events = Callable[[ProgressEvent], None]

log = logging.getLogger("syncd.sync")


@dataclass(frozen=True)
class SyncResult:
    """What a pass got to: always loaded and observed; planned unless the planner refused
    (``plan_error``); applied when ``report`` is set."""

    loaded: LoadedRevision
    observed: ObservedState
    pool: NodePool  # the pool that observed; the apply phase drives the same one
    plan: Plan | None
    plan_error: PlanError | None = None
    replica_overrides: Mapping[str, int] = field(default_factory=dict)
    report: ApplyReport | None = None
    # the route phase: the proxies that differ from what runs, and those that refused
    proxy_changes: tuple[ProxyChange, ...] = ()
    proxy_errors: Mapping[str, NodeError] = field(default_factory=dict)


class Sync:
    """The pass over typed phases, with the state that outlives one pass: the settings, the
    parse cache, and the pool of the selected nodes (kept while the selection stays the same).

    ``node_ids`` is ``--node``; ``pool`` is one given from outside (tests), used whatever the
    selection and never closed here. ``pool_in_use`` tells whether a pool that the selection
    no longer matches still serves a rollout (then it is not closed here).
    """

    def __init__(
        self,
        settings: SyncSettings | None = None,
        *,
        node_ids: tuple[str, ...] = (),
        environ: Mapping[str, str] | None = None,
        cache: ParseCache | None = None,
        pool: NodePool | None = None,
        pool_in_use: Callable[[NodePool], bool] | None = None,
        options: ApplyOptions | None = None,
    ) -> None:
        self.settings = settings or SyncSettings()
        self.node_ids = node_ids
        self.environ = environ
        self.cache = cache
        self._given_pool = pool
        self._pool: NodePool | None = None
        self._pool_nodes: tuple[tuple[NodeSpec, ...], tuple[SwarmClusterSpec, ...]] | None = None
        self._pool_in_use = pool_in_use or (lambda _pool: False)
        self._options = options

    # ------------------------------------------------------------------ the pass

    def run(
        self,
        revision: Revision | LoadedRevision,
        *,
        dry_run: bool = False,
        only: str | None = None,
        replica_overrides: ReplicaOverrides | None = None,
        review: Review | None = None,
        dispatch: Dispatch | None = None,
        events: Events | None = None,
        cancel: threading.Event | None = None,
        raise_plan_error: bool = True,
    ) -> SyncResult:
        """Load (unless given loaded), observe, plan, then stop (``dry_run``, or ``review``
        said no) or apply: the whole plan, or through ``dispatch``. ``only`` narrows the plan
        to one deployment. A PlanError is raised, or kept in the result when
        ``raise_plan_error`` is False (the daemon reports it and keeps going)."""
        loaded = revision if isinstance(revision, LoadedRevision) else self.load(revision)
        if only is not None and loaded.desired.deployment(only) is None:
            raise UsageError(
                f"no deployment {only!r} in {loaded.revision.root}",
                hint="see syncd plan for the ids",
            )
        observed, pool = self.observe(loaded, dry_run=dry_run)
        if pool is not self._pool and pool is not self._given_pool:
            # a look at other nodes than the kept pool's (a refused head's): its own pool,
            # closed with the look, so the pool the rollouts use is never swapped for it
            try:
                return self._planned(
                    loaded, observed, pool, only, replica_overrides, raise_plan_error
                )
            finally:
                pool.close()
        result = self._planned(loaded, observed, pool, only, replica_overrides, raise_plan_error)
        if result.plan is None or dry_run or (review is not None and not review(result)):
            return result
        result = dataclasses.replace(result, proxy_errors=self.route(result))
        if dispatch is not None:
            dispatch(result)
            return result
        report = self.apply(result, events=events, cancel=cancel)
        # a deployment whose node's proxy refused its routes is not served, however its own
        # apply went: say so in the report (the daemon puts the same into the status)
        troubles = proxy_troubles(
            loaded.desired.deployments,
            loaded.desired.nodes,
            observed.instances,
            result.proxy_errors,
        )
        return dataclasses.replace(result, report=with_proxy_troubles(report, troubles))

    def _planned(
        self,
        loaded: LoadedRevision,
        observed: ObservedState,
        pool: NodePool,
        only: str | None,
        replica_overrides: ReplicaOverrides | None,
        raise_plan_error: bool,
    ) -> SyncResult:
        """The replica overrides, the plan and the route phase's look, as a result."""
        overrides = dict(replica_overrides(loaded, observed, pool)) if replica_overrides else {}
        try:
            the_plan = self.plan(loaded, observed, only=only, replica_overrides=overrides)
        except PlanError as error:
            if raise_plan_error:
                raise
            return SyncResult(loaded, observed, pool, None, error, overrides)
        changes = self.proxy_changes(loaded, observed, pool, the_plan)
        the_plan = dataclasses.replace(
            the_plan,
            proxy_changes=tuple(line for change in changes for line in change.describe()),
        )
        return SyncResult(
            loaded, observed, pool, the_plan, replica_overrides=overrides, proxy_changes=changes
        )

    # ------------------------------------------------------------------ the phases

    def load(
        self,
        revision: Revision,
        *,
        secrets: SecretProvider | None = None,
        invalid_hint: str | None = None,
    ) -> LoadedRevision:
        """The load phase with this pass's settings, environment and parse cache."""
        loaded = load_revision(
            revision,
            self.settings,
            environ=self.environ,
            cache=self.cache,
            secrets=secrets,
            invalid_hint=invalid_hint,
        )
        return shard_of(loaded, self.settings.shard)

    def observe(
        self, loaded: LoadedRevision, *, dry_run: bool = False
    ) -> tuple[ObservedState, NodePool]:
        """What the selected nodes run; the others are marked unreachable. A ``dry_run`` over
        other nodes than the kept pool's gets a pool of its own (the caller closes it)."""
        selection = NodeSelection.of(
            loaded.desired.nodes, self.node_ids, self.settings.only_nodes, loaded.swarms
        )
        contacted = (selection.contacted, selection.contacted_swarms)
        if dry_run and self._pool is not None and self._pool_nodes != contacted:
            pool = selection.open_pool()
        else:
            pool = self._pool_for(selection)
        return selection.observe(pool), pool

    def plan(
        self,
        loaded: LoadedRevision,
        observed: ObservedState,
        *,
        only: str | None = None,
        replica_overrides: Mapping[str, int] | None = None,
    ) -> Plan:
        """The planner over the loaded revision and what was observed (pure)."""
        the_plan = make_plan(
            loaded.desired,
            observed,
            allow_mass_prune=self.settings.allow_mass_prune,
            replica_overrides=dict(replica_overrides or {}),
            owner=self.settings.owner,
            newer_commits=newer_commits_seen(self.settings, loaded, observed),
            swarms=loaded.swarms,
        )
        if only is None:
            return the_plan
        kept = tuple(d for d in the_plan.deployments if d.deployment_id == only)
        return dataclasses.replace(the_plan, deployments=kept)

    def proxy_changes(
        self, loaded: LoadedRevision, observed: ObservedState, pool: NodePool, the_plan: Plan
    ) -> tuple[ProxyChange, ...]:
        """The route phase's look (routing.py)."""
        return proxy_changes(loaded, observed, pool, the_plan)

    def route(self, result: SyncResult) -> dict[str, NodeError]:
        """The route phase's act (routing.py)."""
        return heal_routes(result.pool, result.loaded.desired.nodes, result.proxy_changes)

    def apply(
        self,
        result: SyncResult,
        *,
        deployment_id: str | None = None,
        events: Events | None = None,
        cancel: threading.Event | None = None,
    ) -> ApplyReport:
        """The apply phase: the whole plan, or (``deployment_id``: one rollout job of the
        daemon) that deployment's part of it, one step at a time, without the plan's warnings
        (the pass logged them)."""
        assert result.plan is not None, "a pass whose planner refused has nothing to apply"
        the_plan = result.plan
        options = self._options or self.settings.apply_options()
        if deployment_id is not None:
            the_plan = dataclasses.replace(
                the_plan,
                deployments=tuple(
                    d for d in the_plan.deployments if d.deployment_id == deployment_id
                ),
                warnings=(),
            )
            options = dataclasses.replace(options, concurrency=1)
        return apply_plan(
            the_plan,
            result.pool,
            repo_root=result.loaded.revision.root,
            secrets=result.loaded.secrets,
            commit=result.loaded.revision.commit,
            options=options,
            events=events,
            cancel=cancel,
            proxies=result.pool,
            nodes=result.loaded.desired.nodes,
        )

    # ------------------------------------------------------------------ the pool

    def _pool_for(self, selection: NodeSelection) -> NodePool:
        if self._given_pool is not None:
            return self._given_pool
        contacted = (selection.contacted, selection.contacted_swarms)
        if self._pool is None or self._pool_nodes != contacted:
            old = self._pool
            self._pool = selection.open_pool()
            self._pool_nodes = contacted
            if old is not None and not self._pool_in_use(old):
                old.close()
        return self._pool

    def close(self) -> None:
        """Close the pool this object opened (a given one stays open)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            self._pool_nodes = None

    def __enter__(self) -> Sync:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
