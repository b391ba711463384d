"""Load a whole repository (or one API body) into checked models, reporting every problem at once.

Which files are read, and how, is ``syncd.spec.discovery`` (the layout is described there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import SpecError, SpecProblem, UsageError
from syncd.spec import validation
from syncd.spec.discovery import KINDS, SWARM_KIND, discover, file_documents
from syncd.spec.loading import MAX_FILE_BYTES, Document, JsonPath
from syncd.spec.models import (
    AutoScaling,
    CanaryStep,
    Capacity,
    Definition,
    Deployment,
    GpuSpec,
    HealthCheck,
    ImageSource,
    NodeSpec,
    PortMapping,
    ProxySettings,
    RepositorySource,
    RepoSpec,
    Resources,
    SourceLocation,
    SshFiles,
    Strategy,
    SwarmClusterSpec,
    TargetRegion,
    TlsFiles,
    VolumeMount,
)
from syncd.spec.quantities import QuantityError, parse_cpu, parse_duration, parse_memory
from syncd.spec.schemas import check, describe_value
from syncd.spec.shards import check_assignment, load_shards
from syncd.spec.validation import Loaded, Rejected

if TYPE_CHECKING:  # only a type: load_repository calls the cache it is given
    from syncd.spec.cache import ParseCache

DEFAULT_CPU_THRESHOLD = 80


class _Problems(list[SpecProblem]):
    """Collects problems while a document is converted (one bad quantity does not stop the rest)."""

    def quantity(
        self, document: Document, path: JsonPath, parse: Callable[[Any], int | float], value: Any
    ) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except QuantityError as exc:
            self.append(document.problem(path, exc.message))
            return None


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _get(data: dict[str, Any], *keys: str, default: Any = None) -> Any:
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def _location(document: Document) -> SourceLocation:
    return SourceLocation(document.file, document.start_line, 1)


# --------------------------------------------------------------------------- converters


def _deployment(document: Document, problems: _Problems) -> Deployment:
    data = document.data
    strategy_data = data.get("strategy") or {}
    drain_timeout = problems.quantity(
        document, ("strategy", "drainTimeout"), parse_duration, strategy_data.get("drainTimeout")
    )
    keep_old = problems.quantity(
        document, ("strategy", "keepOldFor"), parse_duration, strategy_data.get("keepOldFor")
    )
    strategy = Strategy(
        type=strategy_data.get("type", "RollingUpdate"),
        max_surge=strategy_data.get("maxSurge", "25%"),
        max_unavailable=strategy_data.get("maxUnavailable", "25%"),
        drain_timeout_s=10.0 if drain_timeout is None else drain_timeout,
        keep_old_s=_or(keep_old, 30.0),
        steps=tuple(
            CanaryStep(
                weight=int(step["weight"]),
                pause_s=_or(
                    problems.quantity(
                        document,
                        ("strategy", "steps", index, "pause"),
                        parse_duration,
                        step.get("pause"),
                    ),
                    0.0,
                ),
            )
            for index, step in enumerate(strategy_data.get("steps") or ())
        ),
        max_5xx_percent=float(strategy_data.get("max5xxPercent", 5.0)),
    )
    res = data.get("resources") or {}
    resources = Resources(
        cpu_millis=problems.quantity(document, ("resources", "cpu"), parse_cpu, res.get("cpu")),
        memory_bytes=problems.quantity(
            document, ("resources", "memory"), parse_memory, res.get("memory")
        ),
        vram_bytes=problems.quantity(
            document, ("resources", "vram"), parse_memory, res.get("vram")
        ),
    )
    scaling_data = data.get("autoScaling")
    scaling = (
        AutoScaling(
            min_replicas=int(scaling_data["minReplicas"]),
            max_replicas=int(scaling_data["maxReplicas"]),
            cpu_threshold=int(scaling_data.get("cpuThreshold", DEFAULT_CPU_THRESHOLD)),
        )
        if scaling_data
        else None
    )
    return Deployment(
        id=data["id"],
        definition_id=data["definitionId"],
        name=data.get("name", ""),
        description=data.get("description", ""),
        replicas=int(data.get("replicas", 1)),
        strategy=strategy,
        resources=resources,
        auto_scaling=scaling,
        target_regions=tuple(
            TargetRegion(cluster=region["cluster"], zone=region.get("zone"))
            for region in data.get("targetRegions") or ()
        ),
        envars=tuple((data.get("envars") or {}).items()),
        source=_location(document),
    )


def _health_check(document: Document, problems: _Problems) -> HealthCheck | None:
    data = document.data.get("healthCheck")
    if not data:
        return None
    base = ("healthCheck",)

    def seconds(name: str, default: float) -> float:
        value = problems.quantity(document, (*base, name), parse_duration, data.get(name))
        return default if value is None else float(value)

    timings = HealthCheck(
        kind="command",
        interval_s=seconds("interval", 10.0),
        timeout_s=seconds("timeout", 5.0),
        start_period_s=seconds("startPeriod", 0.0),
        retries=int(data.get("retries", 3)),
    )
    if "http" in data:
        http = data["http"]
        return replace(timings, kind="http", path=http.get("path", "/"), port=int(http["port"]))
    if "tcp" in data:
        return replace(timings, kind="tcp", port=int(data["tcp"]["port"]))
    return replace(timings, command=tuple(data["command"]))


def _definition(document: Document, problems: _Problems) -> Definition:
    data = document.data
    image = data.get("image")
    repo = data.get("repository")
    api_specs = []
    for spec in data.get("apiSpecs") or ():
        pairs = [(key, str(value)) for key, value in spec.items() if key != "metadata"]
        pairs += [(f"metadata.{key}", value) for key, value in (spec.get("metadata") or {}).items()]
        api_specs.append(tuple(pairs))
    command = data.get("command")
    return Definition(
        id=data["id"],
        image=ImageSource(name=image["name"], internal_ports=tuple(image["internalPorts"]))
        if image
        else None,
        repository=RepositorySource(
            url=repo["url"],
            version=repo.get("version"),
            build_context=repo.get("buildContext", "."),
            container_file=repo.get("containerFile", "Dockerfile"),
            internal_ports=tuple(repo["internalPorts"]),
        )
        if repo
        else None,
        envars=tuple((item["key"], item["value"]) for item in data.get("envars") or ()),
        ports=tuple(
            PortMapping(
                internal=port["internal"],
                host=port["host"],
                host_ip=port.get("hostIp", "127.0.0.1"),
                protocol=port.get("protocol", "tcp"),
                routed=bool(port.get("routed", False)),
            )
            for port in data.get("ports") or ()
        ),
        api_specs=tuple(api_specs),
        clients=tuple((c.get("language", ""), c.get("url", "")) for c in data.get("clients") or ()),
        command=tuple(command) if command is not None else None,
        health_check=_health_check(document, problems),
        network=data.get("network"),
        volumes=tuple(
            VolumeMount(
                source=v["source"], target=v["target"], read_only=bool(v.get("readOnly", False))
            )
            for v in data.get("volumes") or ()
        ),
        labels=tuple((data.get("labels") or {}).items()),
        source=_location(document),
    )


def _node(document: Document, problems: _Problems) -> NodeSpec | SwarmClusterSpec:
    data = document.data
    if data.get("kind") == SWARM_KIND:
        return _swarm(document)
    capacity_data = data.get("capacity")
    capacity = (
        Capacity(
            cpu_millis=problems.quantity(
                document, ("capacity", "cpu"), parse_cpu, capacity_data.get("cpu")
            ),
            memory_bytes=problems.quantity(
                document, ("capacity", "memory"), parse_memory, capacity_data.get("memory")
            ),
            vram_bytes=problems.quantity(
                document, ("capacity", "vram"), parse_memory, capacity_data.get("vram")
            ),
        )
        if capacity_data is not None
        else None
    )
    gpus = []
    for index, gpu in enumerate(data.get("gpus") or ()):
        vram = problems.quantity(document, ("gpus", index, "vram"), parse_memory, gpu["vram"])
        gpus.append(GpuSpec(id=str(gpu["id"]), vram_bytes=vram or 0, name=gpu.get("name", "")))
    tls = data.get("tls")
    ssh = data.get("ssh")
    return NodeSpec(
        id=data["id"],
        url=data["url"],
        cluster=data.get("cluster", "default"),
        zone=data.get("zone"),
        capacity=capacity,
        gpus=tuple(gpus),
        labels=tuple((data.get("labels") or {}).items()),
        tls=TlsFiles(
            ca_cert=tls["caCert"], client_cert=tls["clientCert"], client_key=tls["clientKey"]
        )
        if tls
        else None,
        ssh=SshFiles(identity_file=ssh.get("identityFile"), known_hosts=ssh.get("knownHosts"))
        if ssh is not None
        else None,
        proxy=_proxy_settings(data.get("proxy") or {}),
        source=_location(document),
    )


def _swarm(document: Document) -> SwarmClusterSpec:
    data = document.data
    tls, ssh = data.get("tls"), data.get("ssh")
    return SwarmClusterSpec(
        id=data["id"],
        cluster=data.get("cluster", "default"),
        managers=tuple(data["managers"]),
        cluster_label=data.get("clusterLabel", SwarmClusterSpec.cluster_label),
        zone_label=data.get("zoneLabel", SwarmClusterSpec.zone_label),
        tls=TlsFiles(
            ca_cert=tls["caCert"], client_cert=tls["clientCert"], client_key=tls["clientKey"]
        )
        if tls
        else None,
        ssh=SshFiles(identity_file=ssh.get("identityFile"), known_hosts=ssh.get("knownHosts"))
        if ssh is not None
        else None,
        source=_location(document),
    )


def _proxy_settings(data: dict[str, Any]) -> ProxySettings:
    """The node's ``proxy:`` block; the schema has checked its shape, ``check_node`` its meaning."""
    defaults = ProxySettings()
    ports = defaults.instance_ports
    if "instancePorts" in data:
        low, _, high = str(data["instancePorts"]).partition("-")
        ports = (int(low), int(high or low))
    return ProxySettings(
        image=data.get("image", defaults.image),
        address=data.get("address", defaults.address),
        instance_ports=ports,
    )


_CONVERTERS: dict[str, Callable[[Document, _Problems], Any]] = {
    "Deployment": _deployment,
    "Definition": _definition,
    "Node": _node,
}


def _convert(document: Document, kind: str) -> tuple[Any | None, list[SpecProblem]]:
    """Schema-check and convert one document; (None, problems) when it is invalid."""
    if not isinstance(document.data, dict):
        return None, [
            document.problem(
                (), f"expected a mapping (a {kind}), got {describe_value(document.data)}"
            )
        ]
    problems = _Problems(check(document, KINDS[kind]))
    if problems:
        return None, list(problems)
    model = _CONVERTERS[kind](document, problems)
    return (None if problems else model), list(problems)


# --------------------------------------------------------------------------- single documents (API)


def _parse_one(data: Any, file: str, kind: str) -> Any:
    document = Document(data=data, file=file)
    model, problems = _convert(document, kind)
    if model is not None:
        if kind == "Deployment":
            problems = validation.check_deployment(model, document)
        elif kind == "Definition":
            problems = validation.check_definition(model, document, root=None)
        elif isinstance(model, SwarmClusterSpec):
            problems = validation.check_swarm(model, document)
        else:
            problems = validation.check_node(model, document)[0]
    if problems:
        raise SpecError(problems)
    return model


def parse_deployment(data: dict[str, Any], file: str = "<api>") -> Deployment:
    """One Deployment from plain data (an API body); raises SpecError listing every problem.

    Cross-file checks (does the definition exist?) are the caller's: it knows the other documents.
    """
    result: Deployment = _parse_one(data, file, "Deployment")
    return result


def parse_definition(data: dict[str, Any], file: str = "<api>") -> Definition:
    """One Definition from plain data; raises SpecError. Build paths are not checked on disk."""
    result: Definition = _parse_one(data, file, "Definition")
    return result


def parse_node(data: dict[str, Any], file: str = "<api>") -> NodeSpec:
    """One Node from plain data (e.g. the daemon config's extra nodes); raises SpecError."""
    result = _parse_one(data, file, "Node")
    if isinstance(result, SwarmClusterSpec):
        document = Document(data=data, file=file)
        raise SpecError(
            [document.problem(("kind",), "a swarm cluster is declared in the repository's nodes/")]
        )
    node: NodeSpec = result
    return node


# --------------------------------------------------------------------------- the repository


# (kind, model) items, problems, and the documents that declare an id but were refused
ParsedFile = tuple[list[tuple[str, "Loaded[Any]"]], list[SpecProblem], list[Rejected]]


def _parse_file(
    root: Path, relative: str, folder_kind: str | None, max_file_bytes: int, data: bytes | None
) -> ParsedFile:
    """Parse and convert one file: its (kind, model) items and its problems. Depends on the
    file's bytes and path alone, so ``ParseCache`` can keep the result by blob id. ``data``: the
    bytes when the caller has read them already (at most ``max_file_bytes + 1``)."""
    documents, problems = file_documents(root, relative, folder_kind, max_file_bytes, data)
    items: list[tuple[str, Loaded[Any]]] = []
    rejected: list[Rejected] = []
    for kind, document in documents:
        if kind is None:
            continue
        model, model_problems = _convert(document, kind)
        problems.extend(model_problems)
        if model is not None:
            items.append((kind, Loaded(model, document)))
        elif model_problems and isinstance(_get(document.data, "id"), str):
            rejected.append(Rejected(kind, document.data["id"], model_problems[0]))
    return items, problems, rejected


def load_repository(
    root: Path,
    *,
    revision: str | None = None,
    extra_nodes: Sequence[NodeSpec] = (),
    max_file_bytes: int = MAX_FILE_BYTES,
    cache: ParseCache | None = None,
) -> RepoSpec:
    """Every deployment, definition and node of the repository at ``root``, checked.

    Raises one SpecError listing every problem of every file (schema, quantities, references
    across files). ``extra_nodes`` (from the daemon's configuration) count as declared nodes
    for targetRegions. Problems and notes name files relative to ``root``. With a ``cache``
    (kept across calls), a file whose Git blob id is unchanged is not read or parsed again, and
    an unchanged clean tree is not even walked.
    """
    if cache is not None:
        arguments = (revision, tuple(extra_nodes), max_file_bytes)
        result: RepoSpec = cache.load(
            Path(root),
            arguments,
            lambda: _load_repository(root, revision, extra_nodes, max_file_bytes, cache),
        )
        return result
    return _load_repository(root, revision, extra_nodes, max_file_bytes, None)


def _load_repository(
    root: Path,
    revision: str | None,
    extra_nodes: Sequence[NodeSpec],
    max_file_bytes: int,
    cache: ParseCache | None,
) -> RepoSpec:
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"repository path {str(root)!r} is not a directory")
    files, problems = discover(root)
    loaded: dict[str, list[Loaded[Any]]] = {kind: [] for kind in KINDS}
    notes: list[SpecProblem] = []
    parse = _parse_file if cache is None else cache.wrap(root, _parse_file)
    rejected: list[Rejected] = []
    for relative, folder_kind in files:
        items, file_problems, file_rejected = parse(
            root, relative, folder_kind, max_file_bytes, None
        )
        problems.extend(file_problems)
        rejected.extend(file_rejected)
        for kind, item in items:
            loaded[kind].append(item)
    for item in loaded["Deployment"]:
        problems.extend(validation.check_deployment(item.model, item.document))
    for item in loaded["Definition"]:
        problems.extend(validation.check_definition(item.model, item.document, root))
    swarms = [item for item in loaded["Node"] if isinstance(item.model, SwarmClusterSpec)]
    loaded["Node"] = [item for item in loaded["Node"] if isinstance(item.model, NodeSpec)]
    for item in loaded["Node"]:
        node_problems, node_notes = validation.check_node(item.model, item.document)
        problems.extend(node_problems)
        notes.extend(node_notes)
    for swarm in swarms:
        problems.extend(validation.check_swarm(swarm.model, swarm.document))
    problems.extend(
        validation.check_references(
            loaded["Deployment"],
            loaded["Definition"],
            loaded["Node"],
            extra_nodes=extra_nodes,
            rejected=rejected,
            swarms=swarms,
        )
    )
    shard_map, shard_problems = load_shards(root)
    problems.extend(shard_problems)
    if shard_map is not None:
        assignment_problems, assignment_notes = check_assignment(
            shard_map,
            [(item.model, item.document) for item in loaded["Deployment"]],
            [
                *((item.model, item.document) for item in loaded["Node"]),
                *((node, None) for node in extra_nodes),
            ],
        )
        problems.extend(assignment_problems)
        notes.extend(assignment_notes)
    if problems:
        raise SpecError(sorted(problems, key=_order))
    return RepoSpec(
        root=root,
        deployments=tuple(item.model for item in loaded["Deployment"]),
        definitions=tuple(item.model for item in loaded["Definition"]),
        nodes=tuple(item.model for item in loaded["Node"]),
        revision=revision,
        swarms=tuple(item.model for item in swarms),
        notes=tuple(sorted(notes, key=_order)),
        shards=shard_map,
    )


def _order(problem: SpecProblem) -> tuple[str, int, int, str]:
    return (problem.file, problem.line, problem.column, problem.path)
