"""Document to model converters: one schema-checked YAML document becomes a frozen model.

Quantities ("500m", "2Gi", "30s") are parsed here; a bad one is reported at its path and the rest
of the document is still converted, so one pass reports every problem. The meaning beyond the
schema is checked afterwards (``syncd.spec.validation``, ``node_checks``, ``reference_checks``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from syncd.errors import SpecProblem
from syncd.spec.discovery import KINDS, SWARM_KIND
from syncd.spec.loading import Document, JsonPath
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

DEFAULT_CPU_THRESHOLD = 80


class _Problems(list[SpecProblem]):
    """Collects problems while a document is converted (one bad quantity does not stop the rest)."""

    def quantity(
        self, document: Document, path: JsonPath, parse: Callable[[Any], int | float], value: Any
    ) -> Any:
        if value is None:
            return None
        key = (parse, value.__class__, value)  # the class too: True == 1, yet only 1 is a cpu
        try:
            return _PARSED[key]
        except (KeyError, TypeError):  # TypeError: a list or mapping, unhashable
            pass
        try:
            parsed = parse(value)
        except QuantityError as exc:
            self.append(document.problem(path, exc.message))
            return None
        if len(_PARSED) < _PARSED_AT_MOST:
            _PARSED[key] = parsed
        return parsed


# Quantities parsed so far: a repository writes the same few ("250m", "128Mi", "30s") over and
# over, and exact parsing (fractions) costs more than the rest of converting a document.
_PARSED: dict[tuple[Callable[[Any], int | float], type, Any], int | float] = {}
_PARSED_AT_MOST = 10_000


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _location(document: Document) -> SourceLocation:
    return SourceLocation(document.file, document.start_line, 1)


# Strategies and resources by what is written: a repository repeats a few ("RollingUpdate,
# maxSurge 1", "250m / 128Mi") thousands of times, and a frozen model can be shared. Building
# one (its quantities parsed, its dataclass filled) was a sixth of converting a deployment.
_STRATEGIES: dict[tuple[Any, ...], Any] = {}
_RESOURCES: dict[tuple[Any, ...], Any] = {}
_SHARED_AT_MOST = 10_000


def _shared(
    made: dict[tuple[Any, ...], Any],
    written: dict[str, Any],
    document: Document,
    problems: _Problems,
    build: Callable[[dict[str, Any], Document, _Problems], Any],
) -> Any:
    """``build(written, ...)``, or the model built before from the same values. Only a model
    built without a problem is kept: a problem is the document's own, at its own place."""
    try:
        # the class too: True == 1, yet only 1 is a number of cpus
        key = tuple((name, value.__class__, value) for name, value in written.items())
        found = made.get(key)
    except TypeError:  # a list or mapping among the values (canary steps): built every time
        return build(written, document, problems)
    if found is not None:
        return found
    before = len(problems)
    model = build(written, document, problems)
    if len(problems) == before and len(made) < _SHARED_AT_MOST:
        made[key] = model
    return model


def _strategy(strategy_data: dict[str, Any], document: Document, problems: _Problems) -> Strategy:
    drain_timeout = problems.quantity(
        document, ("strategy", "drainTimeout"), parse_duration, strategy_data.get("drainTimeout")
    )
    keep_old = problems.quantity(
        document, ("strategy", "keepOldFor"), parse_duration, strategy_data.get("keepOldFor")
    )
    return Strategy(
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


def _resources(res: dict[str, Any], document: Document, problems: _Problems) -> Resources:
    return Resources(
        cpu_millis=problems.quantity(document, ("resources", "cpu"), parse_cpu, res.get("cpu")),
        memory_bytes=problems.quantity(
            document, ("resources", "memory"), parse_memory, res.get("memory")
        ),
        vram_bytes=problems.quantity(
            document, ("resources", "vram"), parse_memory, res.get("vram")
        ),
    )


def _deployment(document: Document, problems: _Problems) -> Deployment:
    data = document.data
    strategy = _shared(_STRATEGIES, data.get("strategy") or {}, document, problems, _strategy)
    resources = _shared(_RESOURCES, data.get("resources") or {}, document, problems, _resources)
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
        stop_grace_s=problems.quantity(
            document, ("stopGracePeriod",), parse_duration, data.get("stopGracePeriod")
        ),
        stop_signal=data.get("stopSignal"),
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


def convert(document: Document, kind: str) -> tuple[Any | None, list[SpecProblem]]:
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
