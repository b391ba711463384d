"""The Docker driver: one node's engine behind the ``NodeDriver`` protocol (``nodes/base.py``).

The client comes from ``EngineConnection`` (one per node, kept across passes; the transport of
the node's endpoint under ``transports/``), every docker-py/requests/paramiko exception is
translated by type in ``engine_errors``, and Docker's dicts are read in ``containers``. A
container without ``io.syncd.managed=true`` is never listed, stopped, started or removed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from http import HTTPStatus
from pathlib import Path

import docker

from syncd.errors import (
    ContainerNotFound,
    NameConflict,
    NodeError,
    NodeUnreachable,
)
from syncd.nodes import transports
from syncd.nodes.base import ContainerRequest, CpuReading
from syncd.nodes.connection import EngineConnection
from syncd.nodes.container_config import create_arguments
from syncd.nodes.containers import (
    EngineInfo,
    InspectedContainer,
    ListedContainer,
    parse_cpu_sample,
    utc_now,
)
from syncd.nodes.docker_events import EventWatch
from syncd.nodes.docker_known import KnownContainers
from syncd.nodes.engine_errors import engine_message, is_status
from syncd.nodes.images import ensure_image
from syncd.spec.desired import BuildSpec
from syncd.spec.endpoints import InvalidEndpoint
from syncd.spec.models import NodeSpec
from syncd.state import LABEL_MANAGED, GpuFacts, HealthReport, NodeFacts, ObservedInstance

MANAGED_FILTER = {"label": f"{LABEL_MANAGED}=true"}
# After the stop signal, how often to look whether the container has exited (doubling).
_EXIT_POLL_FIRST_S = 0.05
_EXIT_POLL_MAX_S = 0.5


class DockerNode:
    """NodeDriver for one node's Docker engine (see ``syncd.nodes.base.NodeDriver``)."""

    def __init__(
        self,
        node: NodeSpec,
        *,
        connect_timeout: float = 3.0,
        call_timeout: float = 15.0,
        build_timeout: float = 600.0,
        facts_ttl: float = 60.0,
    ) -> None:
        try:
            endpoint = node.endpoint
        except InvalidEndpoint as invalid:  # only a spec that skipped validation gets here
            raise NodeError(
                f"node {node.id}: {invalid}",
                hint="use unix:///path/docker.sock, tcp://host:port or ssh://user@host:port",
            ) from None
        self.node = node
        self.node_id = node.id
        self.endpoint = endpoint
        self.build_timeout = build_timeout
        self.facts_ttl = facts_ttl
        self.connection = EngineConnection(
            node.id,
            endpoint,
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
            on_transport_failure=self._forget_facts,
        )
        stats_bound = transports.limits_of(endpoint).concurrent_stats_reads
        self._stats_slots = threading.BoundedSemaphore(stats_bound) if stats_bound else None
        self._lock = threading.Lock()
        self._facts: NodeFacts | None = None
        self.known = KnownContainers()  # managed containers seen, with stop signal and grace
        self._facts_at = 0.0

    def __repr__(self) -> str:
        return f"DockerNode({self.node_id!r}, {self.endpoint.url!r})"

    # ------------------------------------------------------------------ connection

    @property
    def api_calls(self) -> int:
        """HTTP requests answered by this node's engine so far (for benchmarks and metrics)."""
        return self.connection.api_calls

    def api_client(self) -> docker.APIClient:
        """The node's low-level docker-py client (connected on first use), for tests and benches
        that look behind the protocol. Raises NodeUnreachable/NodeError like any call."""
        with self.connection.calling("connecting") as api:
            return api

    @contextmanager
    def using_api(self, action: str) -> Iterator[docker.APIClient]:
        """The low-level client for one call outside the NodeDriver protocol, with the driver's
        error translation and, over ssh, its bound on concurrent calls::

            with driver.using_api("reading the engine version") as api:
                api.version()
        """
        with self.connection.calling(action) as api:
            yield api

    def watch_events(
        self, labels: Mapping[str, str], wake: Callable[[], None]
    ) -> EventWatch | None:
        """Call ``wake`` whenever a container with ``labels`` changes health or exits,
        until the watch is closed (``docker_events``). None over ssh, where a stream would hold
        one of the few session slots for the whole rollout: the polls alone serve there."""
        if self.endpoint.scheme == "ssh":
            return None
        return EventWatch(self.connection, labels, wake)

    def _forget_facts(self) -> None:
        with self._lock:
            self._facts = None

    def close(self) -> None:
        """Close the node's client (a later call reconnects)."""
        self._forget_facts()
        self.connection.close()

    # ------------------------------------------------------------------ observing

    def facts(self) -> NodeFacts:
        """Engine version, CPUs, memory, GPU runtime; cached for ``facts_ttl``. Never raises."""
        with self._lock:
            cached, cached_at = self._facts, self._facts_at
        if cached is not None and time.monotonic() - cached_at < self.facts_ttl:
            return cached
        try:
            with self.connection.calling("reading engine info") as api:
                info = EngineInfo(api.info())
        except NodeError as error:
            return self._unreachable_facts(error)
        facts = NodeFacts(
            node_id=self.node_id,
            reachable=True,
            engine_version=info.server_version,
            cpu_millis=info.cpu_millis,
            memory_bytes=info.memory_bytes,
            # The engine does not enumerate GPUs; the node's YAML declares them.
            gpus=tuple(GpuFacts(g.id, g.name, g.vram_bytes) for g in self.node.gpus)
            if info.has_gpu_runtime
            else (),
            has_gpu_runtime=info.has_gpu_runtime,
            observed_at=utc_now(),
        )
        with self._lock:
            self._facts, self._facts_at = facts, time.monotonic()
        return facts

    def _unreachable_facts(self, error: NodeError) -> NodeFacts:
        return NodeFacts(
            node_id=self.node_id, reachable=False, error=str(error), observed_at=utc_now()
        )

    def list_instances(self) -> list[ObservedInstance]:
        """Every managed deployment instance (not the node's proxy), from one label-filtered list
        call."""
        with self.connection.calling("listing containers") as api:
            entries = [
                ListedContainer(raw) for raw in api.containers(all=True, filters=MANAGED_FILTER)
            ]
        now = utc_now()
        return [entry.observed(self.node_id, now) for entry in entries if entry.is_instance]

    def observe(self) -> tuple[NodeFacts, list[ObservedInstance]]:
        """Facts (cached) and managed instances; an unreachable node is a fact, not an error."""
        facts = self.facts()
        if not facts.reachable:
            return facts, []
        try:
            instances = self.list_instances()
        except NodeError as error:
            return self._unreachable_facts(error), []
        return facts, instances

    def health(self, container_id: str) -> HealthReport:
        """State, health, last probe output, exit code, restarts, OOM: one inspect call."""
        with self.connection.calling(f"inspecting container {container_id[:12]}") as api:
            try:
                details = InspectedContainer(api.inspect_container(container_id), container_id)
            except docker.errors.NotFound:
                raise ContainerNotFound(self.node_id, container_id, "inspect it") from None
        if details.is_managed:
            self.known.remember(container_id, details.stop_signal, details.stop_timeout_s)
        return details.health_report()

    def tail_logs(self, container_id: str, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr, decoded (bad bytes replaced)."""
        with self.connection.calling(f"reading logs of {container_id[:12]}") as api:
            try:
                raw = api.logs(container_id, stdout=True, stderr=True, tail=lines)
            except docker.errors.NotFound:
                raise ContainerNotFound(self.node_id, container_id, "read its logs") from None
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)

    def read_cpu(self, container_id: str, *, two_samples: bool = False) -> CpuReading | None:
        """One stats call (low-level API: no inspect first); None when the container is gone.

        A one-shot read waits for the engine's next collector tick (up to 1 s); ``two_samples``
        waits for two (1 to 2 s) and fills ``previous`` (see ``nodes/stats.py``). Over ssh at
        most ``concurrent_stats_reads`` run at once (``transports.LIMITS``)."""
        slots: AbstractContextManager[object] = (
            self._stats_slots if self._stats_slots is not None else nullcontext()
        )
        with slots, self.connection.calling("reading stats") as api:
            try:
                stats = api.stats(
                    container_id, decode=False, stream=False, one_shot=not two_samples
                )
            except docker.errors.NotFound:
                return None
        if not stats:
            return None
        return CpuReading(
            current=parse_cpu_sample(stats.get("cpu_stats")),
            previous=parse_cpu_sample(stats.get("precpu_stats")) if two_samples else None,
        )

    # ------------------------------------------------------------------ operations

    def create_instance(self, request: ContainerRequest) -> str:
        """Create and start a managed container; on a failed start it is removed again.
        NameConflict when the engine already has a container of that name."""
        if request.gpu_ids:
            _require_gpu_runtime(self.facts(), request)
        with self.connection.calling(f"creating container {request.name}") as api:
            try:
                created = api.create_container(**create_arguments(api, request, self.node_id))
            except docker.errors.APIError as error:
                if is_status(error, HTTPStatus.CONFLICT):
                    raise NameConflict(self.node_id, request.name, engine_message(error)) from None
                raise
            container_id = str(created["Id"])
        with self.connection.calling(f"starting container {request.name}") as api:
            try:
                api.start(container_id)
            except docker.errors.APIError as error:
                _remove_quietly(self.connection, container_id)
                raise NodeError(
                    f"node {self.node_id}: container {request.name} failed to start: "
                    f"{engine_message(error)}"
                ) from None
            # NodeUnreachable here leaves the created container: it is labelled, so the next
            # (level-triggered) pass sees it and starts or replaces it.
        return container_id

    def stop_instance(
        self, container_id: str, grace_s: float | None = 10.0, *, signalled: bool = False
    ) -> None:
        """Stop a managed container (its stop signal, SIGTERM unless its definition set
        ``stopSignal``; SIGKILL after ``grace_s``); gone is fine. ``signalled``: ``signal_stop``
        sent the signal already, so it is not sent twice (a second SIGTERM or SIGINT often
        means "quit now" to a program that shuts down gracefully on the first)."""
        with self.connection.calling(f"stopping container {container_id[:12]}") as api:
            try:
                _require_managed(api, self.node_id, container_id, "stop", known=self.known)
                if grace_s is None:  # its own: a container of a deployment gone from Git
                    # known since the check above (its inspect is remembered), so no second one
                    grace_s = self.known.stop_timeout_s(container_id)
                if grace_s is None:  # forgotten meanwhile (the memory is bounded): look again
                    grace_s = InspectedContainer(api.inspect_container(container_id)).stop_timeout_s
                if not signalled:
                    api.stop(container_id, timeout=max(0, math.ceil(grace_s)))
                    return
                deadline = time.monotonic() + max(0.0, grace_s)
                pause = _EXIT_POLL_FIRST_S
                while InspectedContainer(api.inspect_container(container_id)).state == "running":
                    if time.monotonic() >= deadline:
                        api.kill(container_id)  # SIGKILL: the grace is over
                        return
                    time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                    pause = min(pause * 2, _EXIT_POLL_MAX_S)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as error:
                if not is_status(error, HTTPStatus.CONFLICT):  # 409: it exited meanwhile
                    raise

    def signal_stop(self, container_id: str) -> None:
        """Send a managed container its stop signal (its StopSignal) and return at once."""
        with self.connection.calling(f"signalling container {container_id[:12]}") as api:
            try:
                signal = self.known.stop_signal(container_id)
                if signal is None:  # not inspected yet: is it ours, does it run, which signal
                    details = InspectedContainer(api.inspect_container(container_id), container_id)
                    _require_managed(api, self.node_id, container_id, "stop", details, self.known)
                    if details.state != "running":
                        return
                    signal = details.stop_signal
                api.kill(container_id, signal=signal)  # 409 when it exited meanwhile
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as error:
                if not is_status(error, HTTPStatus.CONFLICT):  # 409: it exited meanwhile
                    raise

    def start_instance(self, container_id: str) -> None:
        """Start a stopped managed container again (a parked old instance, on revert)."""
        with self.connection.calling(f"starting container {container_id[:12]}") as api:
            try:
                _require_managed(api, self.node_id, container_id, "start", known=self.known)
                api.start(container_id)
            except docker.errors.NotFound:
                raise ContainerNotFound(self.node_id, container_id, "start it again") from None
            except docker.errors.APIError as error:
                raise NodeError(
                    f"node {self.node_id}: container {container_id[:12]} failed to start: "
                    f"{engine_message(error)}"
                ) from None

    def remove_instance(self, container_id: str) -> None:
        """Remove a managed container, running or not; one that is already gone (or being
        removed by another call) is fine."""
        with self.connection.calling(f"removing container {container_id[:12]}") as api:
            try:
                _require_managed(api, self.node_id, container_id, "remove", known=self.known)
                api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                # With force=True the engine answers 409 only while another removal of the same
                # container is in progress: it is going away, which is what we asked for.
                if not is_status(error, HTTPStatus.CONFLICT):
                    raise
            finally:
                self.known.forget(container_id)

    def ensure_image(self, image: str, build: BuildSpec | None, repo_root: Path | None) -> None:
        """Make ``image`` present: already there, built from ``build`` in ``repo_root``, or pulled."""
        ensure_image(self.connection, image, build, repo_root, build_timeout_s=self.build_timeout)


def _remove_quietly(connection: EngineConnection, container_id: str) -> None:
    try:
        with connection.calling("removing a container that failed to start") as api:
            api.remove_container(container_id, force=True, v=True)
    except NodeError:
        pass  # best effort: it is labelled managed, so a later pass finds and removes it


def _require_managed(
    api: docker.APIClient,
    node_id: str,
    container_id: str,
    action: str,
    details: InspectedContainer | None = None,
    known: KnownContainers | None = None,
) -> None:
    """Inspect (unless ``details`` is the inspect already made, or ``known`` has seen it);
    refuse to go on when the container is not ours. NotFound passes through."""
    if known is not None and details is None and known.stop_signal(container_id) is not None:
        return
    if details is None:
        details = InspectedContainer(api.inspect_container(container_id), container_id)
    if details.is_managed and known is not None:
        known.remember(container_id, details.stop_signal, details.stop_timeout_s)
    if not details.is_managed:
        raise NodeError(
            f"node {node_id}: container {details.name} is not managed by syncd "
            f"(no {LABEL_MANAGED}=true label): refusing to {action} it",
            hint="syncd only touches containers it created",
        )


def _require_gpu_runtime(facts: NodeFacts, request: ContainerRequest) -> None:
    """A GPU request needs a reachable node with the NVIDIA runtime; say which is missing."""
    if not facts.reachable:
        reason = (facts.error or "no answer").removeprefix(f"node {facts.node_id} is unreachable: ")
        raise NodeUnreachable(facts.node_id, reason)
    if not facts.has_gpu_runtime:
        raise NodeError(
            f"node {facts.node_id} has no NVIDIA runtime: cannot give GPU "
            f"{', '.join(request.gpu_ids)} to {request.name}",
            hint="install the NVIDIA container toolkit on the node, or remove its gpus "
            "from the node's YAML so nothing needing vram is placed there",
        )
