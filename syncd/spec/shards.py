"""The shard assignment: which daemon applies which clusters, written in the repository.

``shards.yaml`` at the top of the deployments folder maps each shard name to its clusters::

    shards:
      east: {clusters: [eu-1, eu-2]}
      west: {clusters: [us-1]}

A daemon whose config says ``shard: east`` plans, applies and prunes only the nodes of eu-1 and
eu-2 and the deployments placed there (syncd/sync/selection.py). Because the assignment is in
Git and not in each daemon's head, ``syncd validate`` checks it as a whole, the way a config per
daemon never could: every cluster a node declares is in exactly one shard (none: nobody would
apply it, Argo CD's "cluster left unmanaged"; two: two daemons would fight over it), and every
deployment runs in the clusters of one shard. A move of a cluster is one reviewed commit that
every daemon reads at the same commit, never a recount of replicas or a hash of names (the
reshuffles Argo CD's and Flux's users met when they added a shard).

Without ``shards.yaml`` the repository is unsharded: one daemon applies everything, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syncd.errors import SpecError, SpecProblem
from syncd.spec.loading import MAX_FILE_BYTES, Document, load_yaml
from syncd.spec.models import Deployment, NodeSpec, SourceLocation, SwarmClusterSpec

SHARDS_FILE = "shards.yaml"


@dataclass(frozen=True)
class Shard:
    name: str
    clusters: tuple[str, ...]
    source: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ShardMap:
    """Every shard of a repository, in file order."""

    shards: tuple[Shard, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(shard.name for shard in self.shards)

    def shard(self, name: str) -> Shard | None:
        return next((shard for shard in self.shards if shard.name == name), None)

    def shard_of(self, cluster: str) -> str | None:
        """The shard applying ``cluster`` (the first, should a broken map list it twice)."""
        return next((shard.name for shard in self.shards if cluster in shard.clusters), None)


def deployment_clusters(deployment: Deployment, nodes: Iterable[NodeSpec]) -> set[str]:
    """The clusters ``deployment`` may run in: its target regions', or every node's without."""
    if deployment.target_regions:
        return {region.cluster for region in deployment.target_regions}
    return {node.cluster for node in nodes}


# --------------------------------------------------------------------------- reading the file


def load_shards(root: Path) -> tuple[ShardMap | None, list[SpecProblem]]:
    """The assignment in ``root/shards.yaml`` (None when there is no such file) and the file's
    own problems (YAML, schema, a cluster listed twice)."""
    from syncd.spec.schemas import check

    path = root / SHARDS_FILE
    if not path.is_file():
        return None, []
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    try:
        documents = load_yaml(data, SHARDS_FILE)
    except SpecError as error:
        return None, list(error.problems)
    if len(documents) != 1:
        where = documents[1] if len(documents) > 1 else None
        problem = (
            where.problem((), f"{SHARDS_FILE} holds one YAML document: remove the extra '---'")
            if where is not None
            else SpecProblem(SHARDS_FILE, 1, 1, "$", f"{SHARDS_FILE} is empty: give shards:")
        )
        return None, [problem]
    document = documents[0]
    problems = check(document, "shards")
    if problems:
        return None, problems
    return _shard_map(document)


def _shard_map(document: Document) -> tuple[ShardMap, list[SpecProblem]]:
    problems: list[SpecProblem] = []
    first_listed: dict[str, tuple[str, int]] = {}  # cluster -> (shard, line)
    shards = []
    for name, body in document.data["shards"].items():
        for index, cluster in enumerate(body["clusters"]):
            place = ("shards", name, "clusters", index)
            if cluster in first_listed:
                owner, line = first_listed[cluster]
                again = "twice" if owner == name else f"also in shard {owner!r}"
                problems.append(
                    document.problem(
                        place,
                        f"cluster {cluster!r} is listed {again} ({SHARDS_FILE}:{line}): a cluster "
                        "belongs to exactly one shard, so one daemon applies it; remove one",
                    )
                )
            else:
                first_listed[cluster] = (name, document.position(place)[0])
        line = document.key_position(("shards", name))[0]
        shards.append(
            Shard(name, tuple(dict.fromkeys(body["clusters"])), SourceLocation(SHARDS_FILE, line))
        )
    return ShardMap(tuple(shards)), problems


# --------------------------------------------------------------------------- checks


def check_assignment(
    shard_map: ShardMap,
    deployments: Sequence[tuple[Deployment, Document]],
    nodes: Sequence[tuple[NodeSpec, Document | None]],
    swarms: Sequence[tuple[SwarmClusterSpec, Document]] = (),
) -> tuple[list[SpecProblem], list[SpecProblem]]:
    """Problems and notes of the assignment against what the repository declares: a cluster of
    some node or Swarm in no shard, a deployment spanning shards (problems); a shard cluster
    without nodes (a note: its nodes may be on their way). A node without a document (the
    config's) is located by its source. A Swarm is one cluster like a group of hosts: left out
    of every shard, no daemon would hand its services to Swarm."""
    problems: list[SpecProblem] = []
    notes: list[SpecProblem] = []
    first_node: dict[str, tuple[NodeSpec | SwarmClusterSpec, Document | None]] = {}
    declared: list[tuple[NodeSpec | SwarmClusterSpec, Document | None]] = [*nodes, *swarms]
    for node, document in declared:
        first_node.setdefault(node.cluster, (node, document))
    for cluster, (node, document) in sorted(first_node.items()):
        if shard_map.shard_of(cluster) is not None:
            continue
        declared_by = "Swarm" if isinstance(node, SwarmClusterSpec) else "node"
        message = (
            f"cluster {cluster!r} (of {declared_by} {node.id!r}) is in no shard, so no daemon "
            f"would apply it: add it to one shard's clusters in {SHARDS_FILE} "
            f"(shards: {', '.join(shard_map.names)})"
        )
        if document is not None:
            problems.append(document.problem(("cluster",), message))
        else:
            where = node.source or SourceLocation("<config>")
            problems.append(SpecProblem(where.file, where.line, where.column, "$.cluster", message))
    for shard in shard_map.shards:
        for cluster in shard.clusters:
            if cluster not in first_node:
                where = shard.source or SourceLocation(SHARDS_FILE)
                notes.append(
                    SpecProblem(
                        where.file,
                        where.line,
                        1,
                        f"$.shards.{shard.name}",
                        f"shard {shard.name!r} lists cluster {cluster!r}, which no node declares",
                    )
                )
    every_node = [node for node, _ in nodes]
    for deployment, document in deployments:
        spanned = _shards_of(deployment_clusters(deployment, every_node), shard_map)
        if len(spanned) > 1:
            listed = "; ".join(
                f"{name}: {', '.join(sorted(clusters))}"
                for name, clusters in sorted(spanned.items())
            )
            place = ("targetRegions",) if deployment.target_regions else ("id",)
            fix = (
                "split it into one deployment per shard"
                if deployment.target_regions
                else "give it targetRegions in the clusters of one shard"
            )
            problems.append(
                document.problem(
                    place,
                    f"deployment {deployment.id!r} runs in the clusters of more than one shard "
                    f"({listed}); one daemon applies a deployment: {fix}",
                )
            )
    return problems, notes


def _shards_of(clusters: Iterable[str], shard_map: ShardMap) -> dict[str, set[str]]:
    spanned: dict[str, set[str]] = {}
    for cluster in clusters:
        name = shard_map.shard_of(cluster)
        if name is not None:
            spanned.setdefault(name, set()).add(cluster)
    return spanned


def shard_not_defined(shard_map: ShardMap | None, name: str) -> SpecError:
    """The error of a daemon configured for shard ``name``, which this revision (``shard_map``)
    does not define. Nothing is applied from such a revision: the daemon says why."""
    if shard_map is None:
        problem = SpecProblem(
            SHARDS_FILE,
            1,
            1,
            "$",
            f"this daemon is configured for shard {name!r}, but the repository has no "
            f"{SHARDS_FILE}: nothing is applied",
        )
        hint = f"add {SHARDS_FILE} assigning clusters to {name!r}, or drop shard: from the config"
    else:
        first = shard_map.shards[0].source or SourceLocation(SHARDS_FILE)
        problem = SpecProblem(
            first.file,
            first.line,
            1,
            "$.shards",
            f"this daemon is configured for shard {name!r}, which {SHARDS_FILE} does not "
            f"define (it has {', '.join(shard_map.names)}): nothing is applied",
        )
        hint = f"add shard {name!r} to {SHARDS_FILE}, or fix shard: in the daemon config"
    return SpecError([problem], hint=hint)
