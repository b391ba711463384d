"""The one node driver: docker-py over unix://, tcp:// (+TLS) or ssh://, chosen by the node's URL.

One client per node, created on first use and kept across passes; any transport failure drops it
so the next call reconnects. Every docker/requests/paramiko exception is translated at this
boundary: ``NodeUnreachable`` (retryable: refused, timed out, host gone) or ``NodeError`` (the
engine refused, with its own message). A container without ``io.syncd.managed=true`` is never
listed, stopped or removed.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import paramiko
import requests
import urllib3
from docker.types import DeviceRequest
from docker.utils.proxy import ProxyConfig

from syncd.errors import BuildError, NodeError, NodeUnreachable, SyncdError
from syncd.nodes.images import build_image, image_present, pull_image
from syncd.nodes.ssh import ssh_api_client
from syncd.spec.desired import BuildSpec
from syncd.spec.models import HealthCheck, NodeSpec
from syncd.state import (
    LABEL_COMMIT,
    LABEL_CPU,
    LABEL_DEPLOYMENT,
    LABEL_GPUS,
    LABEL_HOST_PORTS,
    LABEL_MANAGED,
    LABEL_MEMORY,
    LABEL_OWNER,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
    LABEL_VRAM,
    ContainerRequest,
    ContainerState,
    GpuFacts,
    Health,
    HealthReport,
    NodeFacts,
    ObservedInstance,
)

#: API version used until the engine tells us its own (Docker 20.10 speaks 1.41)
FALLBACK_API_VERSION = "1.41"
#: concurrent calls per ssh node: each is a channel, and sshd allows 10 per connection by default
SSH_CONCURRENT_CALLS = 8
MANAGED_FILTER = {"label": f"{LABEL_MANAGED}=true"}
_STATES: frozenset[str] = frozenset(
    ("created", "running", "paused", "restarting", "removing", "exited", "dead")
)
_EXIT_CODE = re.compile(r"^Exited \((-?\d+)\)")
_UP_FOR = re.compile(r"^Up (.+?)(?: \((?:Paused|healthy|unhealthy|health: starting)\))?$")
# Docker's HumanDuration units (go-units), each with the smallest duration it can stand for.
_DURATION_UNITS = {
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
}
# Transport-level failures: the engine did not answer. Anything else from docker-py is a refusal.
_UNREACHABLE = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    urllib3.exceptions.HTTPError,
    paramiko.SSHException,
    OSError,
    EOFError,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


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
        self.node = node
        self.node_id = node.id
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.build_timeout = build_timeout
        self.facts_ttl = facts_ttl
        self._api: docker.APIClient | None = None
        self._lock = threading.Lock()
        self._facts: NodeFacts | None = None
        self._facts_at = 0.0
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._slots = (
            threading.BoundedSemaphore(SSH_CONCURRENT_CALLS)
            if node.url.startswith("ssh://")
            else None
        )
        self._depth = threading.local()

    def __repr__(self) -> str:
        return f"DockerNode({self.node_id!r}, {self.node.url!r})"

    # ------------------------------------------------------------------ connection

    @property
    def api_calls(self) -> int:
        """HTTP requests answered by this node's engine so far (for benchmarks and metrics)."""
        return self._calls

    def _count_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._calls_lock:
            self._calls += 1

    def api_client(self) -> docker.APIClient:
        """The node's low-level docker-py client (connected on first use), for reads outside
        the NodeDriver protocol such as stats. Raises NodeUnreachable/NodeError like any call."""
        with self._calling("connecting"):
            return self._client()

    @contextmanager
    def using_api(self, action: str) -> Iterator[docker.APIClient]:
        """The low-level client for one call outside the NodeDriver protocol (stats...), with the
        driver's error translation and, over ssh, its bound on concurrent calls::

            with driver.using_api("reading stats") as api:
                api.stats(container_id, stream=False, one_shot=True)
        """
        with self._calling(action):
            yield self._client()

    def _client(self) -> docker.APIClient:
        with self._lock:
            stale = None
            if self._api is not None and not _transport_alive(self._api):
                stale, self._api = self._api, None
            if self._api is None:
                self._api = self._connect()
            api = self._api
        if stale is not None:
            with contextlib.suppress(Exception):
                stale.close()
        return api

    def _connect(self) -> docker.APIClient:
        url = self.node.url
        if url.startswith("unix://"):
            socket_path = url[len("unix://") :]
            if not os.path.exists(socket_path):
                raise NodeUnreachable(self.node_id, f"no engine socket at {socket_path}")
            api = docker.APIClient(
                base_url=url, version=FALLBACK_API_VERSION, timeout=self.call_timeout
            )
        elif url.startswith("tcp://"):
            api = docker.APIClient(
                base_url=url,
                version=FALLBACK_API_VERSION,
                timeout=self.call_timeout,
                tls=self._tls_config(),
            )
        elif url.startswith("ssh://"):
            api = ssh_api_client(
                self.node,
                version=FALLBACK_API_VERSION,
                connect_timeout=self.connect_timeout,
                call_timeout=self.call_timeout,
            )
        else:
            raise NodeError(
                f"node {self.node_id}: unsupported url {url!r}",
                hint="use unix:///path/docker.sock, tcp://host:port or ssh://user@host:port",
            )
        # requests prefers REQUESTS_CA_BUNDLE over our CA and would route through env proxies;
        # docker-py would inject ~/.docker/config.json proxies into containers. None of that.
        api.trust_env = False
        api._proxy_configs = ProxyConfig()
        api.hooks["response"].append(self._count_response)
        try:
            response = api._get(
                api._url("/version", versioned_api=False), timeout=self.connect_timeout
            )
            server = api._result(response, json=True)
        except BaseException:
            api.close()
            raise
        server_api = str(server.get("ApiVersion") or FALLBACK_API_VERSION)
        default_api = docker.constants.DEFAULT_DOCKER_API_VERSION
        api._version = (
            server_api if docker.utils.version_lt(server_api, default_api) else default_api
        )
        return api

    def _tls_config(self) -> docker.tls.TLSConfig | bool:
        tls = self.node.tls
        if tls is None:
            return False
        for what, path in (
            ("CA certificate", tls.ca_cert),
            ("client certificate", tls.client_cert),
            ("client key", tls.client_key),
        ):
            if not os.path.isfile(os.path.expanduser(path)):
                raise NodeError(
                    f"node {self.node_id}: TLS {what} {path} does not exist",
                    hint="fix the tls file paths in the node's YAML (paths on the control host)",
                )
        return docker.tls.TLSConfig(
            client_cert=(os.path.expanduser(tls.client_cert), os.path.expanduser(tls.client_key)),
            ca_cert=os.path.expanduser(tls.ca_cert),
            verify=True,
        )

    def _drop_client(self) -> None:
        with self._lock:
            api, self._api = self._api, None
            self._facts = None
        if api is not None:
            # a broken transport may fail to close; it is being thrown away anyway
            with contextlib.suppress(Exception):
                api.close()

    def _forget_facts(self) -> None:
        with self._lock:
            self._facts = None

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Translate everything docker-py, requests or paramiko raise into our error tree.

        A failure never closes the shared client under other threads' feet: unix and tcp
        connections are re-opened per request by urllib3, and a dead ssh transport is replaced
        by ``_client()`` on the next call. Over ssh, calls wait for one of a bounded number of
        session slots (sshd refuses channels beyond its MaxSessions).
        """
        outermost = self._slots is not None and not getattr(self._depth, "value", 0)
        if outermost:
            assert self._slots is not None
            self._slots.acquire()
        self._depth.value = getattr(self._depth, "value", 0) + 1
        try:
            yield
        except NodeUnreachable:
            self._forget_facts()
            raise
        except SyncdError:
            raise
        except docker.errors.APIError as error:
            raise NodeError(
                f"node {self.node_id}: {action} failed: {_engine_message(error)}"
            ) from None
        except requests.exceptions.SSLError as error:
            # not a node that is down: certificates that do not match, fixed in the YAML
            self._forget_facts()
            raise NodeError(
                f"node {self.node_id}: TLS handshake with {self.node.url} failed: "
                f"{_ssl_reason(error)}",
                hint="check the node's tls caCert, clientCert and clientKey against the "
                "engine's certificates",
            ) from None
        except (*_UNREACHABLE, docker.errors.DockerException) as error:
            self._forget_facts()
            raise NodeUnreachable(self.node_id, f"{action}: {_short(error)}") from None
        finally:
            self._depth.value -= 1
            if outermost:
                assert self._slots is not None
                self._slots.release()

    def close(self) -> None:
        """Close the node's client (a later call reconnects)."""
        self._drop_client()

    # ------------------------------------------------------------------ observing

    def facts(self) -> NodeFacts:
        """Engine version, CPUs, memory, GPU runtime; cached for ``facts_ttl``. Never raises."""
        with self._lock:
            cached, cached_at = self._facts, self._facts_at
        if cached is not None and time.monotonic() - cached_at < self.facts_ttl:
            return cached
        try:
            with self._calling("reading engine info"):
                info = self._client().info()
        except NodeError as error:
            return NodeFacts(
                node_id=self.node_id, reachable=False, error=str(error), observed_at=utc_now()
            )
        has_gpu_runtime = "nvidia" in (info.get("Runtimes") or {})
        facts = NodeFacts(
            node_id=self.node_id,
            reachable=True,
            engine_version=info.get("ServerVersion"),
            cpu_millis=int(info["NCPU"]) * 1000 if info.get("NCPU") else None,
            memory_bytes=int(info["MemTotal"]) if info.get("MemTotal") else None,
            # The engine does not enumerate GPUs; the node's YAML declares them.
            gpus=tuple(GpuFacts(g.id, g.name, g.vram_bytes) for g in self.node.gpus)
            if has_gpu_runtime
            else (),
            has_gpu_runtime=has_gpu_runtime,
            observed_at=utc_now(),
        )
        with self._lock:
            self._facts, self._facts_at = facts, time.monotonic()
        return facts

    def list_instances(self) -> list[ObservedInstance]:
        """Every managed container, from one label-filtered list call."""
        with self._calling("listing containers"):
            raw = self._client().containers(all=True, filters=MANAGED_FILTER)
        return [
            self._observed(entry)
            for entry in raw
            if (entry.get("Labels") or {}).get(LABEL_MANAGED) == "true"
        ]

    def observe(self) -> tuple[NodeFacts, list[ObservedInstance]]:
        """Facts (cached) and managed instances; an unreachable node is a fact, not an error."""
        facts = self.facts()
        if not facts.reachable:
            return facts, []
        try:
            instances = self.list_instances()
        except NodeError as error:
            return (
                NodeFacts(
                    node_id=self.node_id, reachable=False, error=str(error), observed_at=utc_now()
                ),
                [],
            )
        return facts, instances

    def _observed(self, entry: dict[str, Any]) -> ObservedInstance:
        labels: dict[str, str] = entry.get("Labels") or {}
        state = str(entry.get("State") or "").lower()
        status = str(entry.get("Status") or "")
        exit_match = _EXIT_CODE.match(status)
        names = entry.get("Names") or []
        created = entry.get("Created")
        return ObservedInstance(
            node_id=self.node_id,
            container_id=str(entry["Id"]),
            name=names[0].lstrip("/") if names else str(entry["Id"])[:12],
            deployment_id=labels.get(LABEL_DEPLOYMENT, ""),
            replica=_int_label(labels, LABEL_REPLICA, default=-1),
            spec_hash=labels.get(LABEL_SPEC_HASH, ""),
            commit=labels.get(LABEL_COMMIT, ""),
            state=_state(state),
            health=_health_from_status(status) if state == "running" else "none",
            created_at=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None,
            started_at=_started_from_status(status, utc_now()) if state == "running" else None,
            exit_code=int(exit_match.group(1)) if exit_match else None,
            cpu_millis=_int_label(labels, LABEL_CPU),
            memory_bytes=_int_label(labels, LABEL_MEMORY),
            vram_bytes=_int_label(labels, LABEL_VRAM),
            gpu_ids=_list_label(labels, LABEL_GPUS),
            host_ports=_list_label(labels, LABEL_HOST_PORTS),
            owner=labels.get(LABEL_OWNER) or None,
        )

    # ------------------------------------------------------------------ operations

    def create_instance(self, request: ContainerRequest) -> str:
        """Create and start a managed container; on a failed start it is removed again."""
        labels = dict(request.labels)
        labels[LABEL_MANAGED] = "true"  # whatever we create, we must be able to find again
        facts = self.facts() if request.gpu_ids else None
        if facts is not None and not facts.reachable:
            reason = (facts.error or "no answer").removeprefix(
                f"node {self.node_id} is unreachable: "
            )
            raise NodeUnreachable(self.node_id, reason)
        if facts is not None and not facts.has_gpu_runtime:
            raise NodeError(
                f"node {self.node_id} has no NVIDIA runtime: cannot give GPU "
                f"{', '.join(request.gpu_ids)} to {request.name}",
                hint="install the NVIDIA container toolkit on the node, or remove its gpus "
                "from the node's YAML so nothing needing vram is placed there",
            )
        network = request.network
        publish = network not in ("host", "none") and not (network or "").startswith("container:")
        port_bindings = (
            {f"{p.internal}/{p.protocol}": (p.host_ip, p.host) for p in request.ports}
            if publish
            else {}
        )
        with self._calling(f"creating container {request.name}"):
            api = self._client()
            host_config = api.create_host_config(
                nano_cpus=request.cpu_millis * 1_000_000 if request.cpu_millis else None,
                mem_limit=request.memory_bytes or None,
                device_requests=[
                    DeviceRequest(
                        driver="nvidia", device_ids=list(request.gpu_ids), capabilities=[["gpu"]]
                    )
                ]
                if request.gpu_ids
                else None,
                network_mode=network,
                port_bindings=port_bindings or None,
                binds={
                    v.source: {"bind": v.target, "mode": "ro" if v.read_only else "rw"}
                    for v in request.volumes
                }
                or None,
                restart_policy=_restart_policy(request.restart_policy, self.node_id),
            )
            created = api.create_container(
                request.image,
                command=list(request.command) if request.command is not None else None,
                name=request.name,
                environment=[f"{key}={value}" for key, value in request.env] or None,
                labels=labels,
                ports=[(p.internal, p.protocol) for p in request.ports] if port_bindings else None,
                host_config=host_config,
                healthcheck=docker_healthcheck(request.health_check),
                use_config_proxy=False,
            )
            container_id = str(created["Id"])
        with self._calling(f"starting container {request.name}"):
            try:
                self._client().start(container_id)
            except docker.errors.APIError as error:
                self._remove_quietly(container_id)
                raise NodeError(
                    f"node {self.node_id}: container {request.name} failed to start: "
                    f"{_engine_message(error)}"
                ) from None
            # NodeUnreachable here leaves the created container: it is labelled, so the next
            # (level-triggered) pass sees it and starts or replaces it.
        return container_id

    def _remove_quietly(self, container_id: str) -> None:
        try:
            with self._calling("removing a container that failed to start"):
                self._client().remove_container(container_id, force=True, v=True)
        except NodeError:
            pass  # best effort: it is labelled managed, so a later pass finds and removes it

    def _require_managed(self, container_id: str, action: str) -> dict[str, Any]:
        """Inspect; refuse to go on when the container is not ours. NotFound passes through."""
        details = self._client().inspect_container(container_id)
        labels = (details.get("Config") or {}).get("Labels") or {}
        if labels.get(LABEL_MANAGED) != "true":
            name = str(details.get("Name") or container_id).lstrip("/")
            raise NodeError(
                f"node {self.node_id}: container {name} is not managed by syncd "
                f"(no {LABEL_MANAGED}=true label): refusing to {action} it",
                hint="syncd only touches containers it created",
            )
        return details

    def stop_instance(self, container_id: str, grace_s: float = 10.0) -> None:
        """Stop a managed container (SIGTERM, then SIGKILL after ``grace_s``); gone is fine."""
        with self._calling(f"stopping container {container_id[:12]}"):
            try:
                self._require_managed(container_id, "stop")
                self._client().stop(container_id, timeout=max(0, math.ceil(grace_s)))
            except docker.errors.NotFound:
                return

    def start_instance(self, container_id: str) -> None:
        """Start a stopped managed container again (a parked old instance, on revert)."""
        with self._calling(f"starting container {container_id[:12]}"):
            try:
                self._require_managed(container_id, "start")
                self._client().start(container_id)
            except docker.errors.NotFound:
                raise NodeError(
                    f"node {self.node_id}: container {container_id[:12]} is gone: "
                    "it cannot be started again"
                ) from None
            except docker.errors.APIError as error:
                raise NodeError(
                    f"node {self.node_id}: container {container_id[:12]} failed to start: "
                    f"{_engine_message(error)}"
                ) from None

    def remove_instance(self, container_id: str) -> None:
        """Remove a managed container, running or not; one that is already gone is fine."""
        with self._calling(f"removing container {container_id[:12]}"):
            try:
                self._require_managed(container_id, "remove")
                self._client().remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as error:
                if error.status_code == 409 and "already in progress" in _engine_message(error):
                    return
                raise

    def health(self, container_id: str) -> HealthReport:
        """State, health, last probe output, exit code, restarts, OOM: one inspect call."""
        with self._calling(f"inspecting container {container_id[:12]}"):
            try:
                details = self._client().inspect_container(container_id)
            except docker.errors.NotFound:
                raise NodeError(
                    f"node {self.node_id}: container {container_id[:12]} does not exist"
                ) from None
        state: dict[str, Any] = details.get("State") or {}
        health: dict[str, Any] = state.get("Health") or {}
        log = health.get("Log") or []
        status = _state(str(state.get("Status") or ""))
        return HealthReport(
            container_id=str(details.get("Id") or container_id),
            state=status,
            health=_health(str(health.get("Status") or "none")),
            exit_code=int(state.get("ExitCode", 0))
            if status in ("exited", "dead", "restarting")
            else None,
            restart_count=int(details.get("RestartCount") or 0),
            failing_streak=int(health.get("FailingStreak") or 0),
            last_probe_output=str(log[-1].get("Output") or "").strip() if log else "",
            oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""),
        )

    def tail_logs(self, container_id: str, lines: int = 20) -> str:
        """The last ``lines`` lines of stdout and stderr, decoded (bad bytes replaced)."""
        with self._calling(f"reading logs of {container_id[:12]}"):
            try:
                raw = self._client().logs(container_id, stdout=True, stderr=True, tail=lines)
            except docker.errors.NotFound:
                raise NodeError(
                    f"node {self.node_id}: container {container_id[:12]} does not exist"
                ) from None
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)

    def ensure_image(self, image: str, build: BuildSpec | None, repo_root: Path | None) -> None:
        """Make ``image`` present: already there, built from ``build`` in ``repo_root``, or pulled."""
        with self._calling(f"checking image {image}"):
            if image_present(self._client(), image):
                return
        if build is not None:
            if repo_root is None:
                raise BuildError(
                    f"image {image} must be built from {build.context!r} but no repository "
                    "checkout was given"
                )
            with self._calling(f"building {build.image_tag}"):
                api = self._client()
                build_image(api, self.node_id, build, repo_root, timeout_s=self.build_timeout)
                if image != build.image_tag:
                    repository, tag = docker.utils.parse_repository_tag(image)
                    api.tag(build.image_tag, repository, tag or "latest")
            return
        with self._calling(f"pulling {image}"):
            pull_image(self._client(), self.node_id, image)


# ---------------------------------------------------------------------- translation helpers


def _transport_alive(api: docker.APIClient) -> bool:
    """False when an ssh client's paramiko transport has died (sshd restarted, network cut)."""
    ssh_client = getattr(getattr(api, "_custom_adapter", None), "ssh_client", None)
    if ssh_client is None:
        return True  # unix and tcp: urllib3 opens a new connection when the old one broke
    transport = ssh_client.get_transport()
    return transport is not None and transport.is_active()


def docker_healthcheck(check: HealthCheck | None) -> dict[str, Any] | None:
    """A Docker healthcheck for a HealthCheck: busybox wget / nc, or the command itself."""
    if check is None:
        return None
    if check.kind == "http":
        path = check.path or "/"
        if not path.startswith("/"):
            path = "/" + path
        # No `-T`: Debian's static busybox 1.35 wget segfaults with it. Docker's own probe
        # timeout (below) kills a probe that hangs, so the check still ends in time.
        test = ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{check.port}{path}"]
    elif check.kind == "tcp":
        # busybox nc has no -z: it connects with stdin closed instead, which ends as soon as the
        # server hangs up (a server that keeps the connection open runs into the probe timeout).
        target = f"127.0.0.1 {int(check.port or 0)}"
        test = ["CMD-SHELL", f"nc -z {target} 2>/dev/null || nc {target} </dev/null >/dev/null"]
    else:
        test = ["CMD", *check.command]
    return {
        "test": test,
        "interval": _nanoseconds(check.interval_s),
        "timeout": _nanoseconds(check.timeout_s),
        "retries": int(check.retries),
        "start_period": _nanoseconds(check.start_period_s),
    }


def _nanoseconds(seconds: float) -> int:
    # Docker wants 0 (inherit the default) or at least 1 ms.
    return 0 if seconds <= 0 else max(1_000_000, int(seconds * 1_000_000_000))


def _restart_policy(policy: str, node_id: str) -> dict[str, Any]:
    name, _, count = (policy or "no").partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise NodeError(
            f"node {node_id}: unknown restart policy {policy!r}",
            hint="use no, always, unless-stopped or on-failure[:N]",
        )
    result: dict[str, Any] = {"Name": name}
    if name == "on-failure" and count:
        result["MaximumRetryCount"] = int(count)
    return result


def _state(value: str) -> ContainerState:
    return value if value in _STATES else "dead"  # type: ignore[return-value]


def _health(value: str) -> Health:
    return value if value in ("healthy", "unhealthy", "starting") else "none"  # type: ignore[return-value]


def _health_from_status(status: str) -> Health:
    """Health from the list call's Status text: "Up 3 seconds (healthy)", "(health: starting)"."""
    if status.endswith("(healthy)"):
        return "healthy"
    if status.endswith("(unhealthy)"):
        return "unhealthy"
    if status.endswith("(health: starting)"):
        return "starting"
    return "none"


def _started_from_status(status: str, now: datetime) -> datetime | None:
    """When a running container started, from the list call's "Up 5 seconds" text.

    Exact to the second under a minute, coarser above (Docker rounds: "About an hour"); the
    shortest duration the text can mean is used, so the estimate errs towards "started later".
    """
    match = _UP_FOR.match(status)
    if match is None:
        return None
    text = match.group(1).lower()
    if text == "less than a second":
        seconds = 0.0
    elif text == "about a minute":
        seconds = 60.0
    elif text == "about an hour":
        seconds = 1800.0  # Docker rounds hours: "about an hour" starts at 30 minutes
    else:
        count, _, unit = text.partition(" ")
        try:
            number = int(count)
        except ValueError:
            return None
        scale = _DURATION_UNITS.get(unit.rstrip("s"))
        if scale is None:
            return None
        seconds = (number - 0.5) * scale if unit.startswith("hour") else number * scale
    return now - timedelta(seconds=seconds)


def _int_label(labels: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(labels.get(key, default))
    except ValueError:
        return default


def _list_label(labels: dict[str, str], key: str) -> tuple[str, ...]:
    return tuple(item for item in (labels.get(key) or "").split(",") if item)


def _engine_message(error: docker.errors.APIError) -> str:
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", errors="replace")
    return str(explanation or error).strip()


_SSL_REASON = re.compile(r"\[[A-Z0-9]+: [A-Z0-9_]+\] ([^()'\"]+)")


def _ssl_reason(error: BaseException) -> str:
    """The OpenSSL reason inside requests' nested wrappers, e.g. "certificate verify failed"."""
    match = _SSL_REASON.search(str(error))
    return match.group(1).strip() if match else _short(error)


def _short(error: BaseException) -> str:
    """A transport error in one line: urllib3 nests the cause inside several wrappers."""
    text = str(error) or type(error).__name__
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip(" ()'\"")[:300] or type(error).__name__
