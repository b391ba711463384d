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

import threading
import time
from collections.abc import Sequence

import docker

from syncd.errors import NodeError, ProxyError, ProxyPortTaken, ProxyRouteConflict
from syncd.nodes.connection import EngineConnection
from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY
from syncd.nodes.proxy.config import (
    CONFIG_PATH,
    CONTROL_PORT,
    bind_conflicts,
    read_config,
    render_config,
    route_problems,
)
from syncd.nodes.proxy.container import PROXY_CONTAINER, START_TIMEOUT_S, ProxyContainer
from syncd.nodes.proxy.model import ProxyState, Route
from syncd.spec.models import ProxySettings
from syncd.state import LABEL_MANAGED, LABEL_OWNER

#: how long a reload may take before its new workers serve the new config. A safety net, not a
#: pace: a reload takes well under a second, but each look at the workers is an exec in the
#: proxy's container, which a loaded engine can take seconds to run (10 s ran out on a CI machine
#: at load 30 while the proxy had loaded fine, failing a rollout it had served)
RELOAD_TIMEOUT_S = 30.0
_POLL_S = 0.05


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
        self.container = ProxyContainer(node_id, connection, settings)
        self._applying = threading.Lock()

    def __repr__(self) -> str:
        return f"HaproxyNode({self.node_id!r}, {self.settings.address!r})"

    # ------------------------------------------------------------------ observing

    def observe(self) -> ProxyState:
        """Routes from the running proxy's config and its counters; a proxy that is missing,
        stopped or hand-edited is a state, not an error (``NodeUnreachable`` still raises)."""
        details = self.container.inspect()
        if details is None:
            return ProxyState(False, (), {}, f"no {PROXY_CONTAINER} container on the node")
        if not details["State"].get("Running"):
            status = details["State"].get("Status", "not running")
            return ProxyState(False, (), {}, f"the {PROXY_CONTAINER} container is {status}")
        reading = read_config(self.container.read_config(details["Id"]) or "")
        stats = self.container.stats(details["Id"])
        error = reading.error
        image = details["Config"]["Image"]
        if image != self.settings.image:  # the node's proxy.image changed: the next apply swaps
            error = f"it runs image {image}, the node's proxy.image is {self.settings.image}"
        return ProxyState(True, reading.routes, stats.stats if stats else {}, error)

    def wait_drained(self, route: str, server: str, timeout_s: float) -> bool:
        """Poll the server's open connections until 0 (True) or the timeout (False). A server
        the proxy no longer lists has none."""
        deadline = time.monotonic() + timeout_s
        while True:
            details = self.container.inspect()
            if details is None or not details["State"].get("Running"):
                return True  # no proxy, no connection through it
            stats = self.container.stats(details["Id"])
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
        conflicts = sorted(bind_conflicts(routes).items())
        if conflicts:
            bind, names = conflicts[0]
            raise ProxyRouteConflict(self.node_id, bind, names)
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
        self.container.write_config(container_id, wanted)
        if weights_only:
            self._set_weights(container_id, reading.routes, routes)
        else:
            self.container.call(
                "reloading the proxy", lambda api: api.kill(container_id, signal="SIGUSR2")
            )
        self._await_serving(container_id, routes)

    def _set_weights(
        self, container_id: str, served: Sequence[Route], routes: Sequence[Route]
    ) -> None:
        old = {(r.name, b.server): b.weight for r in served for b in r.backends}
        for route in routes:
            for backend in route.backends:
                if old.get((route.name, backend.server)) != backend.weight:
                    self.container.ask(
                        container_id,
                        f"set server {route.name}/{backend.server} weight {backend.weight}",
                    )

    def _trusted_proxy(self) -> tuple[str, str]:
        """The id and config of a running proxy container of the right image whose config is
        syncd's as written: kept, or made anew. A lost, exited, outdated or hand-edited one is
        replaced (what a hand-edited one serves cannot be known); a new one serves no route."""
        details = self.container.inspect()
        if details is not None:
            if (
                details["State"].get("Running")
                and details["Config"]["Image"] == self.settings.image
            ):
                config = self.container.read_config(str(details["Id"])) or ""
                if read_config(config).error is None:
                    return str(details["Id"]), config
            # the image first: a proxy that cannot be made anew leaves the old one serving
            self.container.ensure_image()
            self.container.call(
                "removing the old proxy",
                lambda api: api.remove_container(details["Id"], force=True),
            )
        return self._create()

    def _create(self) -> tuple[str, str]:
        self.container.ensure_image()
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
            container_id = self.container.call("creating the proxy container", create)
        except NodeError as error:
            raise ProxyError(self.node_id, error.message) from None
        empty = render_config((), self.settings.address)
        self.container.write_config(container_id, empty)
        self.container.call("starting the proxy", lambda api: api.start(container_id))
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.container.stats(container_id) is None:
            details = self.container.inspect()
            if (
                details is None
                or not details["State"].get("Running")
                or details["State"].get("Restarting")
                or time.monotonic() > deadline
            ):
                logs = self.container.logs(container_id)
                self.container.call(
                    "removing the failed proxy",
                    lambda api: api.remove_container(container_id, force=True),
                )
                if self.container.listening([control]):
                    raise ProxyPortTaken(self.node_id, control, "the proxy's control port")
                raise ProxyError(self.node_id, f"the proxy did not start: {logs}")
            time.sleep(_POLL_S)
        return container_id, empty

    def _refuse_taken_binds(self, container_id: str, binds: list[str]) -> None:
        """Before a new stable port goes into the config: is anything listening there already?
        (The proxy itself does not yet; whatever does would make the reload fail.)"""
        taken = self.container.listening(binds, container_id)
        if taken:
            raise ProxyPortTaken(self.node_id, taken[0])

    def _await_serving(self, container_id: str, routes: Sequence[Route]) -> None:
        """Until the proxy's workers serve exactly the routes' servers at their weights."""
        wanted = {(r.name, b.server): b.weight for r in routes for b in r.backends}
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while True:
            stats = self.container.stats(container_id)
            if stats is not None and dict(stats.weights) == wanted:
                return
            if time.monotonic() > deadline:
                raise ProxyError(
                    self.node_id,
                    f"the proxy did not load its new config within {RELOAD_TIMEOUT_S:.0f}s: "
                    f"{self.container.logs(container_id)}",
                )
            time.sleep(_POLL_S)


def _shape(routes: Sequence[Route]) -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    """Routes without their weights: what a reload is needed to change."""
    return [
        (r.name, r.bind, r.mode, tuple((b.server, b.address) for b in r.backends)) for r in routes
    ]
