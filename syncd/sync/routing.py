"""The pass's route phase: what each node's proxy must be told, and telling it.

Level-triggered like the rest of the pass: the routes each node's proxy should serve are derived
from what runs (``syncd.apply.routes.node_routes``), compared with what the proxy reports, and a
proxy that differs (lost, hand-edited, stale after a restart) is told the derived routes before
anything is applied. Routes of deployments the plan changes are held for their rollout, whose
traffic steps move them (``syncd.apply.traffic``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from syncd.apply.routes import ProxyChange, node_routes, proxy_change, route_name
from syncd.apply.traffic import RouteTables
from syncd.errors import NodeError
from syncd.nodes.pool import NodePool
from syncd.plan.model import Plan
from syncd.plan.routes import is_routed
from syncd.spec.models import NodeSpec
from syncd.state import ObservedState
from syncd.sync.loading import LoadedRevision

log = logging.getLogger("syncd.sync")


def proxy_changes(
    loaded: LoadedRevision, observed: ObservedState, pool: NodePool, the_plan: Plan
) -> tuple[ProxyChange, ...]:
    """Every reachable node that runs a routed deployment's instance, its proxy observed, and
    what it must be told (nodes already right: none)."""
    desired = loaded.desired
    derived = node_routes(desired.deployments, desired.nodes, observed.instances)
    if not derived:
        return ()
    held = [
        route_name(d.deployment_id, port)
        for d in the_plan.deployments
        if d.has_changes and d.desired is not None and is_routed(d.desired)
        for port in d.desired.spec.ports
        if port.routed
    ]
    reachable = observed.reachable_node_ids()
    changes = []
    for node_id, routes in sorted(derived.items()):
        if node_id not in reachable:
            continue
        try:
            state = pool.proxy(node_id).observe()
        except NodeError as exc:  # the node went away since it was observed
            log.warning("cannot read the proxy on %s: %s", node_id, exc.message)
            continue
        served = state.routes if state.running else ()
        change = proxy_change(
            node_id, routes, served, running=state.running, error=state.error, held=held
        )
        if change is not None:
            changes.append(change)
    return tuple(changes)


def heal_routes(
    pool: NodePool, nodes: Sequence[NodeSpec], changes: Sequence[ProxyChange]
) -> dict[str, NodeError]:
    """Tell each proxy of ``changes`` its routes. A proxy that refuses (its image missing, its
    port held by something else) is an error of that node; nothing that runs is touched, and
    the rest of the pass goes on."""
    errors: dict[str, NodeError] = {}
    tables = RouteTables(pool, nodes)
    for change in changes:
        try:
            tables.heal(change)
        except NodeError as exc:
            log.error("proxy on %s: %s", change.node_id, exc.message)
            errors[change.node_id] = exc
    return errors
