"""Frozen models of what teams commit: deployments, definitions and nodes.

Field names follow the YAML (camelCase there, snake_case here). Quantities are already parsed
into exact integers (millicores, bytes); durations into seconds. Every model keeps the place it
was read from so later stages can point a user at a file and a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from syncd.errors import SpecProblem
from syncd.spec.endpoints import NodeEndpoint, SshFiles, TlsFiles, parse_endpoint

if TYPE_CHECKING:  # shards.py reads these models; the repository only carries its map
    from syncd.spec.shards import ShardMap

StrategyType = Literal["RollingUpdate", "Recreate", "BlueGreen", "Canary"]
HealthKind = Literal["http", "tcp", "command"]


@dataclass(frozen=True)
class SourceLocation:
    """Where a document was read from: a path relative to the repository root, 1-based line."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------- deployments


@dataclass(frozen=True)
class CanaryStep:
    """One step of a Canary: this percent of the traffic to the new version, for this long."""

    weight: int  # 1..99
    pause_s: float = 0.0


@dataclass(frozen=True)
class Strategy:
    """How a new version replaces the old. ``max_surge``/``max_unavailable``: int or "25%"
    (RollingUpdate); ``keep_old_s`` (BlueGreen); ``steps``, ``max_5xx_percent`` (Canary)."""

    type: StrategyType = "RollingUpdate"
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    drain_timeout_s: float = 10.0  # routed deployments: time to finish open requests before stop
    keep_old_s: float = 30.0
    steps: tuple[CanaryStep, ...] = ()
    max_5xx_percent: float = 5.0


@dataclass(frozen=True)
class Resources:
    """Per-instance limits. None means unlimited (and claims nothing from a node's capacity)."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    vram_bytes: int | None = None


@dataclass(frozen=True)
class AutoScaling:
    min_replicas: int
    max_replicas: int
    cpu_threshold: int  # percent, 1..100


@dataclass(frozen=True)
class TargetRegion:
    cluster: str
    zone: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A Deployment as the reference defines it (status/details are never read from Git)."""

    id: str
    definition_id: str
    name: str = ""
    description: str = ""
    replicas: int = 1
    strategy: Strategy = field(default_factory=Strategy)
    resources: Resources = field(default_factory=Resources)
    auto_scaling: AutoScaling | None = None
    target_regions: tuple[TargetRegion, ...] = ()
    envars: tuple[tuple[str, str], ...] = ()  # ordered (key, raw value with {{...}} templates)
    source: SourceLocation | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class ImageSource:
    name: str
    internal_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class RepositorySource:
    """Build from source. ``url`` is a path inside the Git repo (relative to its root) or a URL."""

    url: str
    version: str | None = None
    build_context: str = "."
    container_file: str = "Dockerfile"
    internal_ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class PortMapping:
    internal: int
    host: int
    host_ip: str = "127.0.0.1"
    protocol: Literal["tcp", "udp"] = "tcp"
    # Served through the node's proxy: ``host`` is then the proxy's stable port, and every
    # replica listens on a private port the allocator assigns (see syncd/plan/routes.py).
    # Left out of the spec hash while False, so existing deployments keep their hash.
    routed: bool = field(default=False, metadata={"hash_omit_default": True})


@dataclass(frozen=True)
class HealthCheck:
    """One probe: an HTTP GET (path, port), a TCP connect (port), or a command in the container."""

    kind: HealthKind
    path: str | None = None
    port: int | None = None
    command: tuple[str, ...] = ()
    interval_s: float = 10.0
    timeout_s: float = 5.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class VolumeMount:
    source: str  # a named volume or an absolute host path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Definition:
    """A service definition: what to run. Exactly one of ``image`` and ``repository`` is set."""

    id: str
    image: ImageSource | None = None
    repository: RepositorySource | None = None
    envars: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortMapping, ...] = ()
    api_specs: tuple[tuple[tuple[str, str], ...], ...] = ()  # informational, kept for listing
    clients: tuple[tuple[str, str], ...] = ()  # (language, url), informational
    command: tuple[str, ...] | None = None
    health_check: HealthCheck | None = None
    network: str | None = None  # Docker network mode/name; None = engine default
    volumes: tuple[VolumeMount, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    # stopGracePeriod: SIGTERM (or stop_signal) to SIGKILL; None: the apply's default, 10s
    stop_grace_s: float | None = None
    stop_signal: str | None = None  # stopSignal, e.g. "SIGINT"; None: the image's (SIGTERM)
    source: SourceLocation | None = field(default=None, compare=False)

    @property
    def internal_ports(self) -> tuple[int, ...]:
        origin = self.image or self.repository
        return origin.internal_ports if origin else ()


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Capacity:
    cpu_millis: int | None = None
    memory_bytes: int | None = None
    vram_bytes: int | None = None  # total across GPUs, when declared without a gpus list


@dataclass(frozen=True)
class GpuSpec:
    id: str  # device id as the NVIDIA runtime names it ("0", "GPU-uuid")
    vram_bytes: int
    name: str = ""


#: the upstream image a node's proxy runs unless its YAML names another
DEFAULT_PROXY_IMAGE = "haproxy:2.6"


@dataclass(frozen=True)
class ProxySettings:
    """How a node runs its proxy: the image, the loopback or host address its stable ports and
    its replicas' private ports listen on, and the range those private ports come from."""

    image: str = DEFAULT_PROXY_IMAGE
    address: str = "127.0.0.1"
    instance_ports: tuple[int, int] = (20000, 20999)  # inclusive range for replicas' ports


@dataclass(frozen=True)
class NodeSpec:
    id: str
    url: str  # unix:///path, tcp://host:port, ssh://user@host:port (as written; see endpoint)
    cluster: str = "default"
    zone: str | None = None
    capacity: Capacity | None = None  # None: discovered from the engine
    gpus: tuple[GpuSpec, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    tls: TlsFiles | None = None
    ssh: SshFiles | None = None
    proxy: ProxySettings = ProxySettings()
    source: SourceLocation | None = field(default=None, compare=False)

    @cached_property
    def endpoint(self) -> NodeEndpoint:
        """``url``, ``tls`` and ``ssh`` parsed, once per spec: the validator parses it while
        loading (so a bad url is reported at its file and line), everything downstream reads it.
        Raises ``InvalidEndpoint`` for a spec that never went through validation."""
        return parse_endpoint(self.url, tls=self.tls, ssh=self.ssh)


DEFAULT_SWARM_CLUSTER_LABEL = "syncd.cluster"
DEFAULT_SWARM_ZONE_LABEL = "syncd.zone"


@dataclass(frozen=True)
class SwarmClusterSpec:
    """A Docker Swarm that is one cluster (``kind: swarm`` in ``nodes/``): syncd talks to its
    managers (the first that answers), never to each host, and Swarm places the tasks.

    ``cluster_label``/``zone_label``: the Swarm node labels that say which nodes belong to the
    cluster and which zone each is in; services are constrained on them and spread on the zone.
    """

    id: str
    cluster: str
    managers: tuple[str, ...]  # urls as written, each parsed like a node's
    cluster_label: str = DEFAULT_SWARM_CLUSTER_LABEL
    zone_label: str = DEFAULT_SWARM_ZONE_LABEL
    tls: TlsFiles | None = None
    ssh: SshFiles | None = None
    source: SourceLocation | None = field(default=None, compare=False)

    @cached_property
    def endpoints(self) -> tuple[NodeEndpoint, ...]:
        """Every manager url parsed (the validator did it first, at the file and line)."""
        return tuple(parse_endpoint(url, tls=self.tls, ssh=self.ssh) for url in self.managers)


# --------------------------------------------------------------------------- the whole repo


@dataclass(frozen=True)
class RepoSpec:
    """Everything one revision of the repository declares, parsed and cross-checked."""

    root: Path
    deployments: tuple[Deployment, ...] = ()
    definitions: tuple[Definition, ...] = ()
    nodes: tuple[NodeSpec, ...] = ()
    revision: str | None = None  # commit sha when loaded from Git
    swarms: tuple[SwarmClusterSpec, ...] = ()  # Swarm clusters (``kind: swarm`` node files)
    # Not errors, but worth a look (e.g. a tcp:// node without TLS); `syncd validate` prints them.
    notes: tuple[SpecProblem, ...] = field(default=(), compare=False)
    shards: ShardMap | None = None  # shards.yaml (syncd/spec/shards.py); None: unsharded

    def definition(self, definition_id: str) -> Definition | None:
        return next((d for d in self.definitions if d.id == definition_id), None)
