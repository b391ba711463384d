"""What one pass is about. First the shard (:func:`shard_of`): a daemon configured with
``shard:`` loads only the deployments and nodes of that shard's clusters, as if the others were
not in the repository, so it never plans, applies or prunes them. Then the nodes it contacts
(:class:`NodeSelection`): those named by ``--node``, else those in the config's ``onlyNodes``,
else all; the others count as unreachable, so nothing is placed on or removed from them.
`syncd plan`, `syncd apply` and the daemon all select through these two."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from syncd.errors import UsageError
from syncd.nodes.pool import NodePool
from syncd.spec.models import NodeSpec, SwarmClusterSpec
from syncd.spec.shards import deployment_clusters, shard_not_defined
from syncd.state import NodeFacts, ObservedState, SwarmObservation
from syncd.sync.loading import LoadedRevision

NOT_NAMED = "not contacted (--node)"
NOT_IN_ONLY_NODES = "not contacted: not in onlyNodes"


@dataclass(frozen=True)
class NodeSelection:
    """The declared nodes and which of them this pass contacts."""

    nodes: tuple[NodeSpec, ...]
    node_ids: tuple[str, ...] = ()
    only_nodes: frozenset[str] | None = None
    swarms: tuple[SwarmClusterSpec, ...] = ()  # selected by id like nodes

    @classmethod
    def of(
        cls,
        nodes: Sequence[NodeSpec],
        node_ids: Sequence[str] = (),
        only_nodes: frozenset[str] | None = None,
        swarms: Sequence[SwarmClusterSpec] = (),
    ) -> NodeSelection:
        """Raises UsageError naming any ``--node`` id that no node (or Swarm) declares."""
        known = {node.id for node in nodes} | {swarm.id for swarm in swarms}
        unknown = [node_id for node_id in dict.fromkeys(node_ids) if node_id not in known]
        if unknown:
            raise UsageError(
                f"unknown node(s) {', '.join(unknown)}: declared are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        return cls(tuple(nodes), tuple(node_ids), only_nodes, tuple(swarms))

    def left_out(self, node_id: str) -> str | None:
        """Why ``node_id`` is not contacted, or None when it is."""
        if self.node_ids:  # the command line wins over the config
            return None if node_id in self.node_ids else NOT_NAMED
        if self.only_nodes is not None and node_id not in self.only_nodes:
            return NOT_IN_ONLY_NODES
        return None

    @property
    def contacted(self) -> tuple[NodeSpec, ...]:
        return tuple(node for node in self.nodes if self.left_out(node.id) is None)

    @property
    def contacted_swarms(self) -> tuple[SwarmClusterSpec, ...]:
        return tuple(swarm for swarm in self.swarms if self.left_out(swarm.id) is None)

    def open_pool(self) -> NodePool:
        """A pool of the contacted nodes and Swarms; the caller closes it."""
        return NodePool(list(self.contacted), swarms=self.contacted_swarms)

    def observe(self, pool: NodePool) -> ObservedState:
        """What ``pool`` sees, with every node left out marked unreachable and its instances
        unseen (a pool given from outside may reach more nodes than the selection)."""
        observed = pool.observe()
        swarms_left_out = {
            swarm.id: SwarmObservation(swarm.id, swarm.cluster, reachable=False, error=reason)
            for swarm in self.swarms
            if (reason := self.left_out(swarm.id)) is not None
        }
        if swarms_left_out:
            observed = replace(observed, swarms={**observed.swarms, **swarms_left_out})
        reasons = {node.id: self.left_out(node.id) for node in self.nodes}
        skipped = {
            node_id: NodeFacts(node_id, reachable=False, error=reason)
            for node_id, reason in reasons.items()
            if reason is not None
        }
        if not skipped:
            return observed
        return replace(
            observed,
            nodes={**observed.nodes, **skipped},
            instances=tuple(i for i in observed.instances if i.node_id not in skipped),
        )


def shard_of(loaded: LoadedRevision, shard: str | None) -> LoadedRevision:
    """``loaded`` narrowed to the deployments and nodes of ``shard``'s clusters; unchanged when
    ``shard`` is None (every cluster). Validation made each deployment's clusters those of one
    shard, so a deployment is either wholly in or wholly out. ``loaded.repo`` stays the whole
    revision as validated; everything downstream reads ``loaded.desired``.

    Raises SpecError when the revision does not define ``shard``: nothing of it is applied."""
    if shard is None:
        return loaded
    shard_map = loaded.repo.shards
    chosen = shard_map.shard(shard) if shard_map is not None else None
    if chosen is None:
        raise shard_not_defined(shard_map, shard)
    clusters = set(chosen.clusters)
    desired = loaded.desired
    every_node = desired.nodes
    kept = replace(
        desired,
        nodes=tuple(node for node in every_node if node.cluster in clusters),
        deployments=tuple(
            wanted
            for wanted in desired.deployments
            if deployment_clusters(wanted.deployment, every_node) <= clusters
        ),
    )
    swarms = tuple(swarm for swarm in loaded.swarms if swarm.cluster in clusters)
    return replace(loaded, desired=kept, swarms=swarms)
