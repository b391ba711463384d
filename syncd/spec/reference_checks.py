"""Checks across files: unique ids per kind, every definitionId and target region resolves, Swarm
clusters kept apart from Docker host clusters. They run on every loaded document of a revision and,
like the per-document checks, return SpecProblems instead of raising."""

from __future__ import annotations

from collections.abc import Sequence

from syncd.errors import SpecProblem
from syncd.spec.models import Definition, Deployment, NodeSpec, SwarmClusterSpec
from syncd.spec.schemas import did_you_mean
from syncd.spec.traffic_checks import routed_port_collisions
from syncd.spec.validation import Loaded, Model, Rejected


def _swarm_problems(
    swarms: Sequence[Loaded[SwarmClusterSpec]],
    host_clusters: set[str],
    deployments: Sequence[Loaded[Deployment]],
) -> list[SpecProblem]:
    """A Swarm is a whole cluster: no Docker host may claim its cluster, no two Swarms share
    one, and a deployment goes to Swarm clusters or to hosts, not both (one strategy engine)."""
    problems = []
    owner: dict[str, str] = {}
    for item in swarms:
        cluster = item.model.cluster
        if cluster in host_clusters:
            problems.append(
                item.document.problem(
                    ("cluster",),
                    f"cluster {cluster!r} already has Docker host nodes: a Swarm is a cluster "
                    "of its own, give it another name",
                )
            )
        elif cluster in owner:
            problems.append(
                item.document.problem(
                    ("cluster",), f"cluster {cluster!r} is also the Swarm {owner[cluster]!r}"
                )
            )
        owner.setdefault(cluster, item.model.id)
    for deployment in deployments if owner else ():  # no Swarm: nothing to keep apart
        clusters = {region.cluster for region in deployment.model.target_regions}
        if len(clusters & set(owner)) > 1:
            problems.append(
                deployment.document.problem(
                    ("targetRegions",),
                    f"targets several Swarm clusters ({', '.join(sorted(clusters))}): a "
                    "deployment runs on one Swarm; split it into one deployment per Swarm",
                )
            )
        if clusters & set(owner) and clusters - set(owner):
            problems.append(
                deployment.document.problem(
                    ("targetRegions",),
                    f"targets Swarm cluster(s) {', '.join(sorted(clusters & set(owner)))} and "
                    f"Docker host cluster(s) {', '.join(sorted(clusters - set(owner)))}: split "
                    "it into one deployment per kind",
                )
            )
    return problems


def _unique_ids(items: Sequence[Loaded[Model]], what: str) -> list[SpecProblem]:
    problems = []
    first: dict[str, Loaded[Model]] = {}
    for item in items:
        identifier = item.model.id
        if identifier in first:
            earlier = first[identifier].document
            line, _ = earlier.position(("id",))
            problems.append(
                item.document.problem(
                    ("id",),
                    f"duplicate {what} id {identifier!r}: also declared at {earlier.file}:{line}",
                )
            )
        else:
            first[identifier] = item
    return problems


def _unique_node_ids(
    nodes: Sequence[Loaded[NodeSpec]], swarms: Sequence[Loaded[SwarmClusterSpec]]
) -> list[SpecProblem]:
    """Nodes and Swarms share one id space (``--node`` and onlyNodes name either)."""
    problems = _unique_ids(nodes, "node") + _unique_ids(swarms, "node")
    node_ids = {item.model.id: item for item in nodes}
    for swarm in swarms:
        if swarm.model.id in node_ids:
            line, _ = node_ids[swarm.model.id].document.position(("id",))
            problems.append(
                swarm.document.problem(
                    ("id",),
                    f"duplicate node id {swarm.model.id!r}: also declared at "
                    f"{node_ids[swarm.model.id].document.file}:{line}",
                )
            )
    return problems


def check_references(
    deployments: Sequence[Loaded[Deployment]],
    definitions: Sequence[Loaded[Definition]],
    nodes: Sequence[Loaded[NodeSpec]],
    *,
    extra_nodes: Sequence[NodeSpec] = (),
    rejected: Sequence[Rejected] = (),
    swarms: Sequence[Loaded[SwarmClusterSpec]] = (),
) -> list[SpecProblem]:
    """Unique ids per kind; every definitionId resolves; every target cluster/zone has a node
    (a Swarm cluster's zones are its nodes' labels, known only when observed).

    ``rejected``: documents that failed their own checks; a definitionId naming one of them is
    reported as an invalid definition with the place of its error, not as a missing one.
    """
    problems = [
        *_unique_ids(deployments, "deployment"),
        *_unique_ids(definitions, "definition"),
        *_unique_node_ids(nodes, swarms),
    ]
    node_ids = {item.model.id for item in nodes}
    for extra in extra_nodes:
        if extra.id in node_ids:
            declared = next(i for i in nodes if i.model.id == extra.id)
            problems.append(
                declared.document.problem(
                    ("id",), f"node id {extra.id!r} is also declared in the daemon's configuration"
                )
            )
    definition_ids = [item.model.id for item in definitions]
    declared_definitions = set(definition_ids)  # a list was scanned once per deployment
    all_nodes = [item.model for item in nodes] + list(extra_nodes)
    zones: dict[str, set[str]] = {}
    for node in all_nodes:
        zones.setdefault(node.cluster, set())
        if node.zone:
            zones[node.cluster].add(node.zone)
    problems.extend(_swarm_problems(swarms, set(zones), deployments))
    problems.extend(routed_port_collisions(deployments, definitions, all_nodes))
    swarm_clusters = {item.model.cluster for item in swarms}
    zones.update((cluster, set()) for cluster in swarm_clusters if cluster not in zones)
    invalid_definitions = {r.id: r.problem for r in rejected if r.kind == "Definition"}
    for item in deployments:
        deployment, document = item.model, item.document
        if deployment.definition_id in declared_definitions:
            pass
        elif deployment.definition_id in invalid_definitions:
            error = invalid_definitions[deployment.definition_id]
            problems.append(
                document.problem(
                    ("definitionId",),
                    f"definition {deployment.definition_id!r} exists in {error.file} but is "
                    f"invalid: fix {error.file}:{error.line}: {error.message}",
                )
            )
        else:
            hint = did_you_mean(deployment.definition_id, definition_ids)
            known = (
                ""
                if hint
                else (
                    f"; known: {', '.join(sorted(definition_ids))}"
                    if definition_ids
                    else "; add one under definitions/"
                )
            )
            problems.append(
                document.problem(
                    ("definitionId",),
                    f"definition {deployment.definition_id!r} not found{hint}{known}",
                )
            )
        for index, region in enumerate(deployment.target_regions):
            if region.cluster not in zones:
                hint = did_you_mean(region.cluster, zones)
                known = (
                    ""
                    if hint
                    else (
                        f"; clusters with nodes: {', '.join(sorted(zones))}"
                        if zones
                        else "; no nodes are declared (add one under nodes/)"
                    )
                )
                problems.append(
                    document.problem(
                        ("targetRegions", index, "cluster"),
                        f"no node is in cluster {region.cluster!r}{hint}{known}",
                    )
                )
            elif (
                region.zone is not None
                and region.cluster not in swarm_clusters
                and region.zone not in zones[region.cluster]
            ):
                cluster_zones = sorted(zones[region.cluster])
                hint = did_you_mean(region.zone, cluster_zones)
                known = (
                    ""
                    if hint
                    else (
                        f"; its zones: {', '.join(cluster_zones)}"
                        if cluster_zones
                        else "; its nodes declare no zone"
                    )
                )
                problems.append(
                    document.problem(
                        ("targetRegions", index, "zone"),
                        f"no node of cluster {region.cluster!r} is in zone {region.zone!r}{hint}{known}",
                    )
                )
    return problems
