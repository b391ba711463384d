"""Checks beyond the JSON Schema: per-document meaning and references across files.

Every check returns SpecProblems located in the document they concern; nothing here raises, so one
run reports every problem of the repository. Per-document checks run on schema-valid documents
only (their models exist); cross-file checks run on all of them.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from syncd.errors import SpecProblem
from syncd.spec import templating
from syncd.spec.endpoints import InvalidEndpoint, parse_endpoint
from syncd.spec.loading import Document, JsonPath
from syncd.spec.models import Definition, Deployment, NodeSpec, SwarmClusterSpec
from syncd.spec.schemas import did_you_mean
from syncd.spec.traffic_checks import routed_port_problems, strategy_problems

Model = TypeVar("Model", Deployment, Definition, NodeSpec, SwarmClusterSpec)

# Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; 63 keeps a name usable as a hostname.
ID_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
ID_MAX_LENGTH = 63
# A remote Git URL: scheme://... or scp-like user@host:path.
_REMOTE_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
_PERCENT = re.compile(r"^([0-9]+)%$")


@dataclass(frozen=True)
class Loaded(Generic[Model]):
    """A model together with the document it was read from (for positions)."""

    model: Model
    document: Document


@dataclass(frozen=True)
class Rejected:
    """A document that declares an id but failed its own checks (schema, quantities).

    A reference to that id is then not "not found": it points at the document's own error.
    """

    kind: str  # "Deployment", "Definition" or "Node"
    id: str
    problem: SpecProblem  # the document's first problem


# --------------------------------------------------------------------------- helpers


def id_problems(document: Document, value: str, what: str) -> list[SpecProblem]:
    """An id must be usable in a Docker container name (the schema says so too)."""
    if ID_PATTERN.fullmatch(value) and len(value) <= ID_MAX_LENGTH:
        return []
    return [
        document.problem(
            ("id",),
            f"{what} id {value!r} cannot name a Docker container: start with a letter or digit, "
            f"use only letters, digits, '_', '.', '-', at most {ID_MAX_LENGTH} characters",
        )
    ]


def template_problems(document: Document, path: JsonPath, value: str) -> list[SpecProblem]:
    """Malformed ``{{env:NAME}}`` / ``{{secret:NAME}}`` references in one value."""
    return [document.problem(path, problem.message) for problem in templating.problems(value)]


def is_zero(value: int | str) -> bool:
    """0, "0%" and "00%" all mean none."""
    if isinstance(value, int):
        return value == 0
    match = _PERCENT.match(value)
    return match is not None and int(match.group(1)) == 0


def is_remote_url(url: str) -> bool:
    """True for a Git URL (https://, ssh://, git@host:path); False for a path in the repo."""
    return bool(_REMOTE_URL.match(url))


def _inside(relative: str) -> str | None:
    """Normalised form of a relative POSIX path, or None when it is absolute or escapes upward."""
    if relative.startswith("/") or relative.startswith("\\") or re.match(r"^[A-Za-z]:", relative):
        return None
    normal = posixpath.normpath(relative)
    if normal == ".." or normal.startswith("../"):
        return None
    return normal


# --------------------------------------------------------------------------- deployments


def check_deployment(deployment: Deployment, document: Document) -> list[SpecProblem]:
    """Meaning of one deployment: replica bounds, strategy, templates."""
    problems = id_problems(document, deployment.id, "deployment")
    problems.extend(strategy_problems(deployment, document))
    data = document.data
    scaling = deployment.auto_scaling
    if scaling is not None:
        if scaling.min_replicas > scaling.max_replicas:
            problems.append(
                document.problem(
                    ("autoScaling", "minReplicas"),
                    f"minReplicas {scaling.min_replicas} is above maxReplicas {scaling.max_replicas}",
                )
            )
        else:
            effective = max(deployment.replicas, 1)  # the reference treats 0 as 1
            written = "replicas" in data
            if not scaling.min_replicas <= effective <= scaling.max_replicas:
                if not written:
                    shown = "replicas (1 when omitted)"
                elif deployment.replicas == 0:
                    shown = "replicas 0 (run as 1)"
                else:
                    shown = f"replicas {deployment.replicas}"
                problems.append(
                    document.problem(
                        ("replicas",) if written else ("autoScaling",),
                        f"{shown} is outside autoScaling's range "
                        f"[{scaling.min_replicas}, {scaling.max_replicas}]",
                    )
                )
    strategy = deployment.strategy
    if (
        strategy.type == "RollingUpdate"
        and is_zero(strategy.max_surge)
        and is_zero(strategy.max_unavailable)
    ):
        problems.append(
            document.problem(
                ("strategy", "maxSurge"),
                "maxSurge and maxUnavailable are both 0: a rolling update could never replace an "
                "instance; allow at least one surge (maxSurge: 1) or one unavailable instance",
            )
        )
    for key, value in deployment.envars:
        problems.extend(template_problems(document, ("envars", key), value))
    return problems


# --------------------------------------------------------------------------- definitions


def _repository_problems(
    definition: Definition, document: Document, root: Path | None
) -> list[SpecProblem]:
    """A local build stays inside the repository (and exists, when ``root`` is given); a remote
    one uses a Git URL scheme. buildContext is relative to url, containerFile to buildContext."""
    source = definition.repository
    if source is None:
        return []
    base = ("repository",)
    url = source.url
    remote = is_remote_url(url)
    if url.lower().startswith("file:"):
        return [
            document.problem(
                (*base, "url"),
                f"{url!r}: a file: URL may point outside the repository; "
                "write a path relative to the repository root (./services/api)",
            )
        ]
    if remote:
        scheme = urlsplit(url).scheme.lower() if "://" in url else "ssh"
        if scheme not in {"https", "http", "ssh", "git", "git+ssh"}:
            return [
                document.problem(
                    (*base, "url"),
                    f"unsupported URL scheme {scheme!r}: use https://, ssh://, git@host:path "
                    "or a path inside this repository",
                )
            ]
    directory = "." if remote else _inside(url)
    if directory is None:
        return [
            document.problem(
                (*base, "url"),
                f"{url!r} leaves the repository: a local url is a path relative to the "
                "repository root that stays inside it (./services/api)",
            )
        ]
    where = "checkout" if remote else "repository"
    context = _inside(posixpath.join(directory, source.build_context))
    if context is None:
        return [
            document.problem(
                (*base, "buildContext"),
                f"buildContext {source.build_context!r} leaves the {where}: "
                "write a path relative to url that stays inside it",
            )
        ]
    if _inside(source.container_file) is None:
        return [
            document.problem(
                (*base, "containerFile"),
                f"containerFile {source.container_file!r} leaves the build context: "
                "write a path relative to buildContext that stays inside it",
            )
        ]
    if remote or root is None:
        return []
    # A local build: the context and the Dockerfile must exist, and no symlink may lead out.
    container_file = posixpath.normpath(posixpath.join(context, source.container_file))
    context_field = "buildContext" if "buildContext" in document.data["repository"] else "url"
    real_root = Path(os.path.realpath(root))
    for field_name, relative, is_context in (
        (context_field, context, True),
        ("containerFile", container_file, False),
    ):
        target = root / relative
        real = Path(os.path.realpath(target))
        if real != real_root and real_root not in real.parents:
            message = f"{relative!r} is a symlink that leaves the repository (to {real})"
        elif is_context and not target.is_dir():
            message = f"build context {relative!r} is not a directory in the repository"
        elif not is_context and not target.is_file():
            message = f"container file {relative!r} does not exist in the repository"
        else:
            continue
        return [document.problem((*base, field_name), message)]
    return []


def check_definition(
    definition: Definition, document: Document, root: Path | None = None
) -> list[SpecProblem]:
    """Meaning of one definition: ports, envars, build paths (checked on disk when ``root``)."""
    problems = id_problems(document, definition.id, "definition")
    seen_keys: dict[str, int] = {}
    for index, (key, value) in enumerate(definition.envars):
        if key in seen_keys:
            problems.append(
                document.problem(
                    ("envars", index, "key"),
                    f"envar {key!r} is set twice (also envars[{seen_keys[key]}])",
                )
            )
        seen_keys.setdefault(key, index)
        problems.extend(template_problems(document, ("envars", index, "value"), value))
    host_ports: dict[tuple[int, str], int] = {}
    for index, port in enumerate(definition.ports):
        claim = (port.host, port.protocol)
        if claim in host_ports:
            problems.append(
                document.problem(
                    ("ports", index, "host"),
                    f"host port {port.host}/{port.protocol} is already published by "
                    f"ports[{host_ports[claim]}]: each host port can be bound once",
                )
            )
        host_ports.setdefault(claim, index)
        problems.extend(routed_port_problems(document, definition, index, port))
    targets: dict[str, int] = {}
    for index, volume in enumerate(definition.volumes):
        if volume.target in targets:
            problems.append(
                document.problem(
                    ("volumes", index, "target"),
                    f"{volume.target!r} is already mounted by volumes[{targets[volume.target]}]",
                )
            )
        targets.setdefault(volume.target, index)
    problems.extend(_label_problems(definition, document))
    problems.extend(_repository_problems(definition, document, root))
    return problems


def _label_problems(definition: Definition, document: Document) -> list[SpecProblem]:
    """Labels are not templated: a ``{{secret:NAME}}`` there would reach the node as written
    (and a label is readable by anyone who can list containers on the engine), so a reference
    in a label value is refused rather than resolved."""
    problems: list[SpecProblem] = []
    for key, value in definition.labels:
        for kind, name in templating.references(value):
            if kind == "secret":
                reason = (
                    f"label {key!r} refers to secret {name!r}: labels are visible to anyone "
                    "with access to the engine and are never resolved; pass the secret as an "
                    f"envar instead (envars: {{KEY: '{{{{secret:{name}}}}}'}})"
                )
            else:
                reason = (
                    f"label {key!r} refers to {{{{env:{name}}}}}: labels are never resolved, "
                    "the node would get the text as written; write the value itself"
                )
            problems.append(document.problem(("labels", key), reason))
    return problems


# --------------------------------------------------------------------------- nodes


def check_node(node: NodeSpec, document: Document) -> tuple[list[SpecProblem], list[SpecProblem]]:
    """Meaning of one node: its URL and credentials (parsed here into ``node.endpoint``, the one
    parse every later stage reads), GPUs. Returns (problems, notes)."""
    problems = id_problems(document, node.id, "node")
    notes: list[SpecProblem] = []
    try:
        endpoint = node.endpoint
    except InvalidEndpoint as invalid:
        for problem in invalid.problems:
            problems.append(document.problem((problem.field,), problem.message))
    else:
        if endpoint.scheme == "tcp" and endpoint.tls is None:
            notes.append(
                document.problem(
                    ("url",),
                    "tcp without tls: anyone who can reach this port controls the engine; "
                    "add tls {caCert, clientCert, clientKey} unless the network is trusted",
                )
            )
    seen: dict[str, int] = {}
    for index, gpu in enumerate(node.gpus):
        if gpu.id in seen:
            problems.append(
                document.problem(
                    ("gpus", index, "id"),
                    f"GPU {gpu.id!r} is listed twice (also gpus[{seen[gpu.id]}])",
                )
            )
        seen.setdefault(gpu.id, index)
    problems.extend(_proxy_problems(node, document))
    return problems, notes


def check_swarm(swarm: SwarmClusterSpec, document: Document) -> list[SpecProblem]:
    """Meaning of one Swarm cluster: its id and every manager url (parsed here, as a node's)."""
    problems = id_problems(document, swarm.id, "node")
    for index, url in enumerate(swarm.managers):
        try:
            parse_endpoint(url, tls=swarm.tls, ssh=swarm.ssh)
        except InvalidEndpoint as invalid:
            for problem in invalid.problems:
                path = ("managers", index) if problem.field == "url" else (problem.field,)
                problems.append(document.problem(path, problem.message))
    return problems


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
    for deployment in deployments:
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


def _proxy_problems(node: NodeSpec, document: Document) -> list[SpecProblem]:
    """The meaning of ``proxy:`` the schema's patterns cannot say: octets and ports in range."""
    problems = []
    settings = node.proxy
    if any(int(octet) > 255 for octet in settings.address.split(".")):
        problems.append(
            document.problem(
                ("proxy", "address"),
                f"{settings.address!r} is not an IPv4 address: each of its four numbers is 0-255",
            )
        )
    low, high = settings.instance_ports
    if not 1 <= low <= high <= 65535:
        problems.append(
            document.problem(
                ("proxy", "instancePorts"),
                f"{low}-{high} is not a port range: write LOW-HIGH with 1 <= LOW <= HIGH <= 65535, "
                'e.g. "20000-20999"',
            )
        )
    return problems


# --------------------------------------------------------------------------- across files


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
    all_nodes = [item.model for item in nodes] + list(extra_nodes)
    zones: dict[str, set[str]] = {}
    for node in all_nodes:
        zones.setdefault(node.cluster, set())
        if node.zone:
            zones[node.cluster].add(node.zone)
    problems.extend(_swarm_problems(swarms, set(zones), deployments))
    swarm_clusters = {item.model.cluster for item in swarms}
    zones.update((cluster, set()) for cluster in swarm_clusters if cluster not in zones)
    invalid_definitions = {r.id: r.problem for r in rejected if r.kind == "Definition"}
    for item in deployments:
        deployment, document = item.model, item.document
        if deployment.definition_id in definition_ids:
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
