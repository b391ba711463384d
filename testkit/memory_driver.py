"""An in-memory NodeDriver and pool: containers as plain records, faults on demand, and a record
of every state change, so the apply engine's arithmetic can be tested exhaustively in
milliseconds (the real-engine tests in tests/apply stay for everything an engine decides).

    cluster = MemoryCluster(["node-a", "node-b", "node-c"])
    pool = cluster.pool()                        # .driver(id), .observe(), .close(), .api_calls
    report = apply_plan(plan(desired, pool.observe()), pool, ...)
    cluster.history                              # a Snapshot after every change

How a container behaves, as the real test service (testkit.services) does, follows its ``MODE``
envar: ``ok`` becomes healthy at its first health look, ``sick`` never does (the apply engine's
progress deadline fails it), ``crash`` has exited with code 3 by its first look. A look is a
``health`` call, or an observation (``list_instances``): time passes between passes. Faults a test
injects override that for one container or one node (``Fault``); they count from when they are
injected. The clock is the real one (the apply engine reads ``time.monotonic``), but nothing
here waits: with zero poll intervals a rollout of ten replicas takes a few milliseconds.

A slow stop (``stop_delay_s``) is a container that takes that long to exit after it was told to
stop, as a real one does within its grace period: from the request on it is ``stopping`` (still
running and listed, with its claims, but no longer serving), and it has exited once the delay
has passed. Every stop request is kept in ``stops`` with the grace it was given.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from syncd.errors import (
    ContainerNotFound,
    ImagePullFailed,
    NameConflict,
    NodeError,
    NodeUnreachable,
)
from syncd.nodes.base import ContainerRequest, CpuReading
from syncd.spec.desired import BuildSpec
from syncd.state import (
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
    HealthReport,
    NodeFacts,
    ObservedInstance,
    ObservedState,
)
from testkit.memory_proxy import MemoryProxy
from testkit.memory_records import (
    CRASH_EXIT_CODE,
    LATE_CRASH_LOOKS,
    Container,
    Fault,
    FaultKind,
    InstanceView,
    Snapshot,
)

__all__ = ["Fault", "FaultKind", "MemoryCluster", "MemoryNode", "MemoryPool", "Snapshot"]


class MemoryCluster:
    """The fake engines of several nodes, one lock and one history for all of them."""

    def __init__(
        self,
        node_ids: Iterable[str],
        *,
        cpu_millis: int = 64_000,
        memory_bytes: int = 256 << 30,
        stop_delay_s: float = 0.0,
    ) -> None:
        self.node_ids = tuple(node_ids)
        self.stop_delay_s = stop_delay_s
        self.stops: list[tuple[str, float]] = []  # (container name, grace) of every stop request
        self.cpu_millis = cpu_millis
        self.memory_bytes = memory_bytes
        self.containers: dict[str, Container] = {}
        self.history: list[Snapshot] = []
        self.missing_images: set[str] = set()  # ensure_image raises BuildError for these
        self.unreachable: set[str] = set()
        self.api_calls = 0
        self.operations = 0  # node operations (create, stop, start, remove) so far
        self.creates = 0
        self.faulted: list[str] = []  # names of the containers a fault was given to
        self.proxies: dict[str, MemoryProxy] = {}  # per node, made on first MemoryPool.proxy()
        self._faults: list[tuple[Fault, int]] = []  # with the counter value when injected
        self._last_id = 0
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ test controls

    def inject(self, *faults: Fault) -> None:
        """Arm faults; each counts its ``at`` from now."""
        with self._lock:
            for fault in faults:
                base = self.operations if fault.kind == "unreachable" else self.creates
                self._faults.append((fault, base))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reconnect(self, node_id: str) -> None:
        """The node answers again (its containers ran on meanwhile)."""
        with self._lock:
            self.unreachable.discard(node_id)
            self._faults = [
                (f, base)
                for f, base in self._faults
                if f.kind != "unreachable" or f.node_id != node_id
            ]

    def pool(self) -> MemoryPool:
        return MemoryPool(self)

    def copy(self) -> MemoryCluster:
        """An independent cluster in the same state (containers, history, counters, faults):
        set a state up once, then try many things from it."""
        with self._lock:
            twin = copy.copy(self)
            twin.containers = copy.deepcopy(self.containers)
            twin.history = list(self.history)
            twin.missing_images = set(self.missing_images)
            twin.unreachable = set(self.unreachable)
            twin.faulted = list(self.faulted)
            twin.stops = list(self.stops)
            twin._faults = list(self._faults)
            twin.proxies = {node_id: proxy.copy() for node_id, proxy in self.proxies.items()}
            twin._lock = threading.RLock()
        return twin

    def of_deployment(self, deployment_id: str) -> list[Container]:
        with self._lock:
            return [
                c
                for c in self.containers.values()
                if c.labels.get(LABEL_DEPLOYMENT) == deployment_id
            ]

    # ------------------------------------------------------------------ engine internals

    def call(self, node_id: str) -> None:
        """Every driver call: counted, and refused while the node is unreachable."""
        self.api_calls += 1
        if node_id in self.unreachable:
            raise NodeUnreachable(node_id, "connection refused (injected)")

    def operation(self, node_id: str) -> None:
        """A node operation: the point where an ``unreachable`` fault strikes."""
        for fault, base in self._faults:
            if fault.kind == "unreachable" and self.operations - base == fault.at:
                self.unreachable.add(fault.node_id or node_id)
        self.operations += 1
        self.call(node_id)

    def create_fault(self) -> FaultKind | None:
        index = self.creates
        self.creates += 1
        for fault, base in self._faults:
            if fault.kind != "unreachable" and index - base == fault.at:
                return fault.kind
        return None

    def record(self, change: str, *, operation: bool = True, create: bool = False) -> None:
        views = tuple(
            InstanceView(
                node_id=c.node_id,
                container_id=c.id,
                deployment_id=c.labels.get(LABEL_DEPLOYMENT, ""),
                replica=int(c.labels.get(LABEL_REPLICA, "-1")),
                spec_hash=c.labels.get(LABEL_SPEC_HASH, ""),
                stopped=c.stopped,
                serving=c.serving and not c.stopped,  # a stopping one serves no more
            )
            for c in self.containers.values()
        )
        self.history.append(
            Snapshot(
                change,
                views,
                operation=self.operations - 1 if operation else None,
                create=self.creates - 1 if create else None,
            )
        )

    def new_id(self) -> str:
        self._last_id += 1
        return f"{self._last_id:012x}"


class MemoryNode:
    """One node of a MemoryCluster, with the NodeDriver protocol (syncd/nodes/base.py)."""

    def __init__(self, cluster: MemoryCluster, node_id: str) -> None:
        self.cluster = cluster
        self.node_id = node_id

    def _container(self, container_id: str, action: str) -> Container | None:
        container = self.cluster.containers.get(container_id)
        if container is None or container.node_id != self.node_id:
            return None
        if container.labels.get(LABEL_MANAGED) != "true":
            raise NodeError(
                f"node {self.node_id}: {container.name} is not managed: refusing to {action} it"
            )
        return container

    def _existing(self, container_id: str, action: str, *, gone: str) -> Container:
        """The container, or ContainerNotFound (``gone`` says what could not be done)."""
        container = self._container(container_id, action)
        if container is None:
            raise ContainerNotFound(self.node_id, container_id, gone)
        return container

    def facts(self) -> NodeFacts:
        with self.cluster._lock:
            self.cluster.api_calls += 1
            if self.node_id in self.cluster.unreachable:
                return NodeFacts(
                    self.node_id, reachable=False, error=f"node {self.node_id} is unreachable"
                )
        return NodeFacts(
            node_id=self.node_id,
            reachable=True,
            engine_version="memory",
            cpu_millis=self.cluster.cpu_millis,
            memory_bytes=self.cluster.memory_bytes,
            observed_at=datetime.now(UTC),
        )

    def list_instances(self) -> list[ObservedInstance]:
        """The node's managed containers. Time passes between two passes: each running one
        takes one more health look first, as its engine's health check would have meanwhile."""
        with self.cluster._lock:
            self.cluster.call(self.node_id)
            mine = [
                c
                for c in self.cluster.containers.values()
                if c.node_id == self.node_id and c.labels.get(LABEL_MANAGED) == "true"
            ]
            for container in mine:
                if container.state == "running":
                    self._look(container)
            return [c.observed() for c in mine]

    def create_instance(self, request: ContainerRequest) -> str:
        cluster = self.cluster
        with cluster._lock:
            cluster.operation(self.node_id)
            taken = [
                c
                for c in cluster.containers.values()
                if c.node_id == self.node_id and c.name == request.name
            ]
            if taken:
                raise NameConflict(
                    self.node_id,
                    request.name,
                    f'the container name "/{request.name}" is already in use by '
                    f'container "{taken[0].id}"',
                )
            env = dict(request.env)
            fault = cluster.create_fault()
            if fault is not None:
                cluster.faulted.append(request.name)
            if fault == "refuse_create":
                raise NodeError(
                    f"node {self.node_id}: cannot create {request.name}: no space left on device (injected)"
                )
            mode = env.get("MODE", "ok")
            behaviour = fault or (mode if mode in ("crash", "sick") else "ok")
            container = Container(
                id=cluster.new_id(),
                name=request.name,
                node_id=self.node_id,
                image=request.image,
                labels={**dict(request.labels), LABEL_MANAGED: "true"},
                env=env,
                behaviour=behaviour,  # type: ignore[arg-type]
                has_health_check=request.health_check is not None,
                stop_grace_s=request.stop_grace_s,
            )
            if not container.has_health_check:
                container.health = "none"
            cluster.containers[container.id] = container
            cluster.record(f"create {self.node_id} {request.name}", create=True)
            return container.id

    def signal_stop(self, container_id: str) -> None:
        with self.cluster._lock:
            self.cluster.operation(self.node_id)
            container = self._container(container_id, "stop")
            if container is not None and not container.stopped and container.state == "running":
                container.stopped = True  # stopping: still running, serving no more
                self.cluster.record(f"signal {self.node_id} {container.name}")

    def stop_instance(
        self, container_id: str, grace_s: float | None = 10.0, *, signalled: bool = False
    ) -> None:
        cluster = self.cluster
        with cluster._lock:
            cluster.operation(self.node_id)
            container = self._container(container_id, "stop")
            if container is None or (container.stopped and container.state != "running"):
                return
            if grace_s is None:  # its own, as the engine keeps it
                grace_s = container.stop_grace_s if container.stop_grace_s is not None else 10.0
            cluster.stops.append((container.name, grace_s))
            container.stopped = True
            slow = cluster.stop_delay_s > 0 and container.state == "running"
            if not slow:
                container.state, container.exit_code = "exited", 0
                cluster.record(f"stop {self.node_id} {container.name}")
                return
        time.sleep(cluster.stop_delay_s)  # the process takes this long to exit; the lock is free
        with cluster._lock:
            if cluster.containers.get(container_id) is container and container.stopped:
                container.state, container.exit_code = "exited", 0
                cluster.record(f"stop {self.node_id} {container.name}", operation=False)

    def start_instance(self, container_id: str) -> None:
        with self.cluster._lock:
            self.cluster.operation(self.node_id)
            container = self._existing(container_id, "start", gone="start it again")
            container.state, container.stopped, container.exit_code = "running", False, None
            container.health = "starting" if container.has_health_check else "none"
            container.looks = 0
            container.started_at = datetime.now(UTC)
            self.cluster.record(f"start {self.node_id} {container.name}")

    def remove_instance(self, container_id: str) -> None:
        with self.cluster._lock:
            self.cluster.operation(self.node_id)
            container = self._container(container_id, "remove")
            if container is None:
                return
            del self.cluster.containers[container_id]
            self.cluster.record(f"remove {self.node_id} {container.name}")

    def health(self, container_id: str) -> HealthReport:
        with self.cluster._lock:
            self.cluster.call(self.node_id)
            container = self._existing(container_id, "inspect", gone="inspect it")
            if container.state == "running":
                self._look(container)
            return HealthReport(
                container_id=container.id,
                state=container.state,
                health=container.health if container.state == "running" else "none",
                exit_code=container.exit_code,
                last_probe_output="warming up forever" if container.behaviour == "sick" else "",
            )

    def _look(self, container: Container) -> None:
        """One health look moves a running container along its behaviour."""
        container.looks += 1
        before = (container.state, container.health)
        crash_now = container.behaviour == "crash" or (
            container.behaviour == "crash_later" and container.looks > LATE_CRASH_LOOKS
        )
        if crash_now:
            container.state, container.exit_code = "exited", CRASH_EXIT_CODE
        elif container.behaviour == "ok" and container.has_health_check:
            container.health = "healthy"
        if (container.state, container.health) != before:
            self.cluster.record(
                f"{container.state}/{container.health} {self.node_id} {container.name}",
                operation=False,
            )

    def tail_logs(self, container_id: str, lines: int = 20) -> str:
        with self.cluster._lock:
            self.cluster.call(self.node_id)
            container = self._existing(container_id, "read logs of", gone="read its logs")
            if container.behaviour in ("crash", "crash_later"):
                return f"boom: bad config for version {container.env.get('VERSION', '?')}\n"
            return "warming up forever\n" if container.behaviour == "sick" else ""

    def ensure_image(self, image: str, build: BuildSpec | None, repo_root: Path | None) -> None:
        with self.cluster._lock:
            self.cluster.call(self.node_id)
            if image in self.cluster.missing_images:
                raise ImagePullFailed(image, self.node_id, "manifest unknown (injected)")

    def observe(self) -> tuple[NodeFacts, list[ObservedInstance]]:
        """Facts, then the instances when the node answers (as DockerNode.observe does)."""
        facts = self.facts()
        return facts, (self.list_instances() if facts.reachable else [])

    def read_cpu(self, container_id: str, *, two_samples: bool = False) -> CpuReading | None:
        """No CPU counters in memory: the autoscaler sees no reading, as for a gone container."""
        return None

    def close(self) -> None:
        """Nothing to release: the cluster outlives its drivers."""


class MemoryPool:
    """What the apply engine and the planner need of ``syncd.nodes.pool.NodePool``."""

    def __init__(self, cluster: MemoryCluster, node_ids: Sequence[str] | None = None) -> None:
        self.cluster = cluster
        self._drivers = {n: MemoryNode(cluster, n) for n in (node_ids or cluster.node_ids)}

    def driver(self, node_id: str) -> MemoryNode:
        try:
            return self._drivers[node_id]
        except KeyError:
            raise NodeError(
                f"unknown node {node_id!r} (known: {', '.join(self._drivers)})"
            ) from None

    def proxy(self, node_id: str) -> MemoryProxy:
        """The node's in-memory proxy, kept by the cluster so every pool sees the same one."""
        self.driver(node_id)  # the same "unknown node" error as NodePool.proxy
        with self.cluster._lock:
            return self.cluster.proxies.setdefault(node_id, MemoryProxy(node_id))

    @property
    def api_calls(self) -> int:
        return self.cluster.api_calls

    def observe(self) -> ObservedState:
        """Every node's facts and managed instances, sorted as NodePool sorts them."""
        facts: dict[str, NodeFacts] = {}
        instances: list[ObservedInstance] = []
        for node_id, driver in self._drivers.items():
            facts[node_id] = driver.facts()
            if facts[node_id].reachable:
                instances.extend(driver.list_instances())
        instances.sort(key=lambda i: (i.deployment_id, i.replica, i.node_id, i.name))
        return ObservedState(nodes=facts, instances=tuple(instances))

    def close(self) -> None:
        for driver in self._drivers.values():
            driver.close()

    def __enter__(self) -> MemoryPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
