"""``HaproxyNode``: one node's proxy, HAProxy in master-worker mode in a container syncd runs.

Everything goes through the node's Docker API (``EngineConnection``), so it works the same over
unix, tcp+TLS and ssh: the container runs with host networking, its config is written with
``put_archive`` and read back with ``get_archive``, a changed config is loaded by SIGUSR2 to the
master (the kill endpoint): it starts new workers on the same listening sockets and lets the old
ones finish their connections (``hard-stop-after``). Stats come from HAProxy's stats socket on
the node's proxy address, read by ``docker exec`` inside the container: the control host cannot
reach a remote node's loopback, the engine can.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

import docker

from syncd.errors import NodeError, ProxyError, ProxyImageMissing, ProxyPortTaken
from syncd.nodes.connection import EngineConnection
from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY, ROLE_PROXY_HELPER
from syncd.nodes.engine_errors import engine_message, is_status
from syncd.nodes.proxy.config import (
    CONFIG_PATH,
    CONTROL_PORT,
    read_config,
    render_config,
    route_problems,
)
from syncd.nodes.proxy.model import ProxyState, Route
from syncd.nodes.proxy.stats import StatsReading, parse_show_stat
from syncd.spec.models import ProxySettings
from syncd.state import LABEL_MANAGED, LABEL_OWNER

T = TypeVar("T")

PROXY_CONTAINER = "syncd-proxy"
#: how long a reload may take before its new workers serve the new config
RELOAD_TIMEOUT_S = 10.0
_START_TIMEOUT_S = 10.0
_POLL_S = 0.05

# Run inside the proxy container by bash (present in the upstream Debian-based image and in the
# test image), with builtins only (the test image has no cat): the stats socket's answer to one command, and which of the given host:port
# pairs something already listens on.
_ASK = (
    'exec 3<>"/dev/tcp/$0/$1" && printf "%s\\n" "$2" >&3 && '
    'while IFS= read -r line; do printf "%s\\n" "$line"; done <&3'
)
_LISTENING = 'for hp in "$@"; do (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null && echo "$hp"; done; true'


class HaproxyNode:
    """NodeProxy for one node (see ``syncd.nodes.proxy.base.NodeProxy``)."""

    def __init__(
        self,
        node_id: str,
        connection: EngineConnection,
        settings: ProxySettings,
        *,
        owner: str | None = None,
    ) -> None:
        self.node_id = node_id
        self.connection = connection
        self.settings = settings
        self.owner = owner
        self._applying = threading.Lock()

    def __repr__(self) -> str:
        return f"HaproxyNode({self.node_id!r}, {self.settings.address!r})"

    # ------------------------------------------------------------------ observing

    def observe(self) -> ProxyState:
        """Routes from the running proxy's config and its counters; a proxy that is missing,
        stopped or hand-edited is a state, not an error (``NodeUnreachable`` still raises)."""
        details = self._inspect()
        if details is None:
            return ProxyState(False, (), {}, f"no {PROXY_CONTAINER} container on the node")
        if not details["State"].get("Running"):
            status = details["State"].get("Status", "not running")
            return ProxyState(False, (), {}, f"the {PROXY_CONTAINER} container is {status}")
        reading = read_config(self._read_config(details["Id"]) or "")
        stats = self._stats(details["Id"])
        return ProxyState(True, reading.routes, stats.stats if stats else {}, reading.error)

    def wait_drained(self, route: str, server: str, timeout_s: float) -> bool:
        """Poll the server's open connections until 0 (True) or the timeout (False). A server
        the proxy no longer lists has none."""
        deadline = time.monotonic() + timeout_s
        while True:
            details = self._inspect()
            if details is None or not details["State"].get("Running"):
                return True  # no proxy, no connection through it
            stats = self._stats(details["Id"])
            current = stats.stats.get((route, server)) if stats else None
            if current is None or current.sessions_current == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    # ------------------------------------------------------------------ applying

    def apply(self, routes: Sequence[Route]) -> None:
        """Serve exactly ``routes`` (see ``NodeProxy.apply``). One apply at a time per node:
        two rollouts on one node must not interleave their config writes and reloads."""
        problems = route_problems(routes, self.settings.address)
        if problems:
            raise ProxyError(self.node_id, "; ".join(problems))
        with self._applying:
            self._apply(routes)

    def _apply(self, routes: Sequence[Route]) -> None:
        wanted = render_config(routes, self.settings.address)
        container_id, current = self._trusted_proxy()
        if current == wanted:
            return
        reading = read_config(current)
        # Only weights changed: set them through the runtime API, no reload, so the worker that
        # holds a draining server's connections is the one whose counters wait_drained reads.
        weights_only = _shape(reading.routes) == _shape(routes)
        if not weights_only:
            served = {route.bind for route in reading.routes}
            self._refuse_taken_binds(container_id, [r.bind for r in routes if r.bind not in served])
        self._write_config(container_id, wanted)
        if weights_only:
            self._set_weights(container_id, reading.routes, routes)
        else:
            self._call("reloading the proxy", lambda api: api.kill(container_id, signal="SIGUSR2"))
        self._await_serving(container_id, routes)

    def _set_weights(
        self, container_id: str, served: Sequence[Route], routes: Sequence[Route]
    ) -> None:
        old = {(r.name, b.server): b.weight for r in served for b in r.backends}
        for route in routes:
            for backend in route.backends:
                if old.get((route.name, backend.server)) != backend.weight:
                    self._ask(
                        container_id,
                        f"set server {route.name}/{backend.server} weight {backend.weight}",
                    )

    def _trusted_proxy(self) -> tuple[str, str]:
        """The id and config of a running proxy container of the right image whose config is
        syncd's as written: kept, or made anew. A lost, exited, outdated or hand-edited one is
        replaced (what a hand-edited one serves cannot be known); a new one serves no route."""
        details = self._inspect()
        if details is not None:
            if (
                details["State"].get("Running")
                and details["Config"]["Image"] == self.settings.image
            ):
                config = self._read_config(str(details["Id"])) or ""
                if read_config(config).error is None:
                    return str(details["Id"]), config
            self._call(
                "removing the old proxy",
                lambda api: api.remove_container(details["Id"], force=True),
            )
        return self._create()

    def _create(self) -> tuple[str, str]:
        self._ensure_image()
        labels = {LABEL_MANAGED: "true", LABEL_ROLE: ROLE_PROXY}
        if self.owner:
            labels[LABEL_OWNER] = self.owner
        control = f"{self.settings.address}:{CONTROL_PORT}"

        def create(api: docker.APIClient) -> str:
            created = api.create_container(
                image=self.settings.image,
                name=PROXY_CONTAINER,
                entrypoint=["haproxy"],
                command=["-W", "-db", "-f", CONFIG_PATH],
                labels=labels,
                host_config=api.create_host_config(
                    network_mode="host", restart_policy={"Name": "unless-stopped"}
                ),
            )
            return str(created["Id"])

        try:
            container_id = self._call("creating the proxy container", create)
        except NodeError as error:
            raise ProxyError(self.node_id, error.message) from None
        empty = render_config((), self.settings.address)
        self._write_config(container_id, empty)
        self._call("starting the proxy", lambda api: api.start(container_id))
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self._stats(container_id) is None:
            details = self._inspect()
            if (
                details is None
                or not details["State"].get("Running")
                or details["State"].get("Restarting")
                or time.monotonic() > deadline
            ):
                logs = self._logs(container_id)
                self._call(
                    "removing the failed proxy",
                    lambda api: api.remove_container(container_id, force=True),
                )
                if self._listening([control]):
                    raise ProxyPortTaken(self.node_id, control, "the proxy's control port")
                raise ProxyError(self.node_id, f"the proxy did not start: {logs}")
            time.sleep(_POLL_S)
        return container_id, empty

    def _ensure_image(self) -> None:
        image = self.settings.image

        def present(api: docker.APIClient) -> bool:
            try:
                api.inspect_image(image)
                return True
            except docker.errors.ImageNotFound:
                return False

        if self._call(f"looking for image {image}", present):
            return
        repository, _, tag = (
            image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        )
        try:
            self._call(f"pulling {image}", lambda api: api.pull(repository, tag=tag))
        except NodeError as error:
            raise ProxyImageMissing(self.node_id, image, error.message) from None
        if not self._call(f"looking for image {image}", present):
            raise ProxyImageMissing(self.node_id, image)

    def _refuse_taken_binds(self, container_id: str, binds: list[str]) -> None:
        """Before a new stable port goes into the config: is anything listening there already?
        (The proxy itself does not yet; whatever does would make the reload fail.)"""
        taken = self._listening(binds, container_id)
        if taken:
            raise ProxyPortTaken(self.node_id, taken[0])

    def _listening(self, binds: list[str], container_id: str | None = None) -> list[str]:
        """Which of ``binds`` something already listens on, seen from the node (from inside the
        running proxy, or from a short-lived helper container of the proxy image)."""
        if not binds:
            return []
        command = ["-c", _LISTENING, "_", *binds]
        if container_id is not None:
            output = self._exec(container_id, ["bash", *command])
        else:
            output = self._run_helper(command)
        return [line for line in output.split() if line in binds]

    def _run_helper(self, command: list[str]) -> str:
        """Run bash ``command`` in a throwaway container of the proxy image on the host network
        and return its output: how the node is looked at when no proxy runs there."""

        def run(api: docker.APIClient) -> str:
            created = api.create_container(
                image=self.settings.image,
                entrypoint=["bash"],
                command=command,
                labels={LABEL_MANAGED: "true", LABEL_ROLE: ROLE_PROXY_HELPER},
                host_config=api.create_host_config(network_mode="host"),
            )
            try:
                api.start(created["Id"])
                api.wait(created["Id"], timeout=_START_TIMEOUT_S)
                output = api.logs(created["Id"], stdout=True, stderr=False)
            finally:
                api.remove_container(created["Id"], force=True)
            return output.decode("utf-8", errors="replace") if isinstance(output, bytes) else ""

        return self._call("looking at the node's ports", run)

    def _await_serving(self, container_id: str, routes: Sequence[Route]) -> None:
        """Until the proxy's workers serve exactly the routes' servers at their weights."""
        wanted = {(r.name, b.server): b.weight for r in routes for b in r.backends}
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while True:
            stats = self._stats(container_id)
            if stats is not None and dict(stats.weights) == wanted:
                return
            if time.monotonic() > deadline:
                raise ProxyError(
                    self.node_id,
                    f"the proxy did not load its new config within {RELOAD_TIMEOUT_S:.0f}s: "
                    f"{self._logs(container_id)}",
                )
            time.sleep(_POLL_S)

    # ------------------------------------------------------------------ engine calls

    def _call(self, action: str, call: Callable[[docker.APIClient], T]) -> T:
        with self.connection.calling(f"{action} on the proxy") as api:
            return call(api)

    def _inspect(self) -> dict[str, Any] | None:
        def inspect(api: docker.APIClient) -> dict[str, Any] | None:
            try:
                details: dict[str, Any] = api.inspect_container(PROXY_CONTAINER)
            except docker.errors.NotFound:
                return None
            return details

        return self._call("inspecting the proxy", inspect)

    def _read_config(self, container_id: str) -> str | None:
        def read(api: docker.APIClient) -> str | None:
            try:
                stream, _ = api.get_archive(container_id, CONFIG_PATH)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                return handle.read().decode("utf-8", errors="replace") if handle else None

        return self._call("reading the proxy's config", read)

    def _write_config(self, container_id: str, text: str) -> None:
        data = text.encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(CONFIG_PATH.rsplit("/", 1)[1])
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        directory = CONFIG_PATH.rsplit("/", 1)[0]
        self._call(
            "writing the proxy's config",
            lambda api: api.put_archive(container_id, directory, buffer.getvalue()),
        )

    def _stats(self, container_id: str) -> StatsReading | None:
        """One ``show stat``; None while the stats socket does not answer (starting, gone)."""
        try:
            output = self._ask(container_id, "show stat")
        except ProxyError:
            return None
        return parse_show_stat(output) if output.startswith("# pxname") else None

    def _ask(self, container_id: str, command: str) -> str:
        """One command to HAProxy's runtime API on the control port, from inside the container."""
        address, port = self.settings.address, str(CONTROL_PORT)
        return self._exec(container_id, ["bash", "-c", _ASK, address, port, command])

    def _exec(self, container_id: str, command: list[str]) -> str:
        def run(api: docker.APIClient) -> str:
            try:
                created = api.exec_create(container_id, command, stdout=True, stderr=False)
                output = api.exec_start(created["Id"])
            except docker.errors.APIError as error:
                if is_status(error, HTTPStatus.NOT_FOUND) or is_status(error, HTTPStatus.CONFLICT):
                    raise ProxyError(
                        self.node_id,
                        f"the proxy container is gone or stopped: {engine_message(error)}",
                    ) from None
                raise
            return (
                output.decode("utf-8", errors="replace")
                if isinstance(output, bytes)
                else str(output)
            )

        return self._call("reading the proxy", run)

    def _logs(self, container_id: str) -> str:
        def read(api: docker.APIClient) -> str:
            try:
                raw = api.logs(container_id, stdout=True, stderr=True, tail=5)
            except docker.errors.NotFound:
                return "(no logs: the container is gone)"
            return (
                raw.decode("utf-8", errors="replace").strip()
                if isinstance(raw, bytes)
                else str(raw)
            )

        return self._call("reading the proxy's logs", read)


def _shape(routes: Sequence[Route]) -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    """Routes without their weights: what a reload is needed to change."""
    return [
        (r.name, r.bind, r.mode, tuple((b.server, b.address) for b in r.backends)) for r in routes
    ]
