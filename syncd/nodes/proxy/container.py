"""The proxy's container on one node, through its Docker API: inspect it, read and write its
config, ask HAProxy's runtime API inside it, read its logs, look at the node's ports.

``HaproxyNode`` decides what the proxy should serve; this is how it reaches the container.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import docker

from syncd.errors import NodeError, ProxyError, ProxyImageMissing
from syncd.nodes.connection import EngineConnection
from syncd.nodes.containers import LABEL_ROLE, ROLE_PROXY_HELPER
from syncd.nodes.engine_errors import engine_message, is_status
from syncd.nodes.proxy.config import CONFIG_PATH, CONTROL_PORT
from syncd.nodes.proxy.stats import StatsReading, parse_show_stat
from syncd.spec.models import ProxySettings
from syncd.state import LABEL_MANAGED

T = TypeVar("T")

PROXY_CONTAINER = "syncd-proxy"
#: how long a new proxy or a helper container may take to start
START_TIMEOUT_S = 10.0

# Run inside the proxy container by bash (present in the upstream Debian-based image and in the
# test image), with builtins only (the test image has no cat): the stats socket's answer to one command, and which of the given host:port
# pairs something already listens on.
_ASK = (
    'exec 3<>"/dev/tcp/$0/$1" && printf "%s\\n" "$2" >&3 && '
    'while IFS= read -r line; do printf "%s\\n" "$line"; done <&3'
)
_LISTENING = 'for hp in "$@"; do (exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}") 2>/dev/null && echo "$hp"; done; true'


class ProxyContainer:
    """The engine calls on one node's proxy container (and its throwaway helper containers)."""

    def __init__(self, node_id: str, connection: EngineConnection, settings: ProxySettings) -> None:
        self.node_id = node_id
        self.connection = connection
        self.settings = settings

    def ensure_image(self) -> None:
        image = self.settings.image

        def present(api: docker.APIClient) -> bool:
            try:
                api.inspect_image(image)
                return True
            except docker.errors.ImageNotFound:
                return False

        if self.call(f"looking for image {image}", present):
            return
        repository, _, tag = (
            image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        )
        try:
            self.call(f"pulling {image}", lambda api: api.pull(repository, tag=tag))
        except NodeError as error:
            raise ProxyImageMissing(self.node_id, image, error.message) from None
        if not self.call(f"looking for image {image}", present):
            raise ProxyImageMissing(self.node_id, image)

    def listening(self, binds: list[str], container_id: str | None = None) -> list[str]:
        """Which of ``binds`` something already listens on, seen from the node (from inside the
        running proxy, or from a short-lived helper container of the proxy image)."""
        if not binds:
            return []
        command = ["-c", _LISTENING, "_", *binds]
        if container_id is not None:
            output = self.exec(container_id, ["bash", *command])
        else:
            output = self.run_helper(command)
        return [line for line in output.split() if line in binds]

    def run_helper(self, command: list[str]) -> str:
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
                api.wait(created["Id"], timeout=START_TIMEOUT_S)
                output = api.logs(created["Id"], stdout=True, stderr=False)
            finally:
                api.remove_container(created["Id"], force=True)
            return output.decode("utf-8", errors="replace") if isinstance(output, bytes) else ""

        return self.call("looking at the node's ports", run)

    def call(self, action: str, call: Callable[[docker.APIClient], T]) -> T:
        with self.connection.calling(f"{action} on the proxy") as api:
            return call(api)

    def inspect(self) -> dict[str, Any] | None:
        def inspect(api: docker.APIClient) -> dict[str, Any] | None:
            try:
                details: dict[str, Any] = api.inspect_container(PROXY_CONTAINER)
            except docker.errors.NotFound:
                return None
            return details

        return self.call("inspecting the proxy", inspect)

    def read_config(self, container_id: str) -> str | None:
        def read(api: docker.APIClient) -> str | None:
            try:
                stream, _ = api.get_archive(container_id, CONFIG_PATH)
            except docker.errors.NotFound:
                return None
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                return handle.read().decode("utf-8", errors="replace") if handle else None

        return self.call("reading the proxy's config", read)

    def write_config(self, container_id: str, text: str) -> None:
        data = text.encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(CONFIG_PATH.rsplit("/", 1)[1])
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        directory = CONFIG_PATH.rsplit("/", 1)[0]
        self.call(
            "writing the proxy's config",
            lambda api: api.put_archive(container_id, directory, buffer.getvalue()),
        )

    def stats(self, container_id: str) -> StatsReading | None:
        """One ``show stat``; None while the stats socket does not answer (starting, gone)."""
        try:
            output = self.ask(container_id, "show stat")
        except ProxyError:
            return None
        return parse_show_stat(output) if output.startswith("# pxname") else None

    def ask(self, container_id: str, command: str) -> str:
        """One command to HAProxy's runtime API on the control port, from inside the container."""
        address, port = self.settings.address, str(CONTROL_PORT)
        return self.exec(container_id, ["bash", "-c", _ASK, address, port, command])

    def exec(self, container_id: str, command: list[str]) -> str:
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

        return self.call("reading the proxy", run)

    def logs(self, container_id: str) -> str:
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

        return self.call("reading the proxy's logs", read)
