"""Docker Swarms on loopback for tests and benches: 1 or 3 engines, each its own dockerd.

The verified recipe of docs (shared reference "docker-here", section Swarm): every engine starts
with ``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1`` (else Swarm tries a registry for every task),
``--bridge=none --iptables=false`` (no private-range bridge); engine i advertises and listens
on its own loopback address (127.0.0.N), so gossip ports never clash; the ingress overlay
that ``swarm init`` creates is removed at once (nothing is published; services use the host
network or none). The busybox test image is imported into each engine. Data dirs are separate
from the main harness. ``pull_attempts()`` reads each engine's log for a pull attempt since the
last check: a test fails on any.

    with SwarmHarness("/tmp/sw1", size=1, first_address=11) as swarm: ...
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import docker

from syncd.spec.models import SwarmClusterSpec
from testkit.harness.base_image import BASE_IMAGE, base_image_tar
from testkit.harness.processes import (
    engine_environment,
    mounts_under,
    ping_unix,
    read_pid,
    stop_pid,
    tail,
    which,
)

#: what every engine that runs Swarm must have in its environment
OFFLINE_ENV = {"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}
#: words an engine logs when it tries a registry (lowercase)
PULL_MARKERS = ("pulling image", "pull access denied", "error pulling", "trying to pull")
CLUSTER_LABEL = "syncd.cluster"
ZONE_LABEL = "syncd.zone"
READY_TIMEOUT_S = 30.0


class SwarmHarnessError(RuntimeError):
    pass


@dataclass
class SwarmEngine:
    """One engine of the Swarm: its files and the loopback address it advertises."""

    name: str
    root: Path
    address: str

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def pid_file(self) -> Path:
        return self.root / "docker.pid"

    def cli(self, *args: str, timeout: float = 120) -> str:
        docker_bin = shutil.which("docker") or "/usr/bin/docker"
        done = subprocess.run(
            [docker_bin, "-H", self.url, *args], capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise SwarmHarnessError(
                f"docker {' '.join(args)} on {self.name}: {done.stderr.strip()}"
            )
        return done.stdout.strip()

    @contextmanager
    def client(self) -> Iterator[docker.DockerClient]:
        client = docker.DockerClient(base_url=self.url, timeout=60)
        try:
            yield client
        finally:
            client.close()


class SwarmHarness:
    """``size`` engines forming one Swarm (engine 0 the manager), nodes labelled with the
    cluster and zones ``z1``, ``z2``, ...; ``up()`` then ``down()`` (or use it as a context)."""

    def __init__(
        self,
        root: Path | str,
        *,
        size: int = 1,
        first_address: int = 11,
        cluster: str = "swarm-test",
        data_path_port: int = 4800,
    ) -> None:
        self.root = Path(root)
        self.cluster = cluster
        self.data_path_port = data_path_port
        self.engines = [
            SwarmEngine(f"s{i}", self.root / f"s{i}", f"127.0.0.{first_address + i}")
            for i in range(size)
        ]
        self._log_offsets: dict[str, int] = {}
        self._node_ids: list[str] = []

    @property
    def manager(self) -> SwarmEngine:
        return self.engines[0]

    def spec(self, swarm_id: str = "swarm") -> SwarmClusterSpec:
        """The node file's model for this Swarm (the manager over unix)."""
        return SwarmClusterSpec(id=swarm_id, cluster=self.cluster, managers=(self.manager.url,))

    def node_document(self, swarm_id: str = "swarm") -> dict[str, object]:
        """The same as a ``nodes/*.yaml`` document."""
        return {
            "kind": "swarm",
            "id": swarm_id,
            "cluster": self.cluster,
            "managers": [self.manager.url],
        }

    # ------------------------------------------------------------------ lifecycle

    def up(self) -> SwarmHarness:
        if os.geteuid() != 0 or not which("dockerd"):
            raise SwarmHarnessError(
                "a Swarm harness starts dockerd, which needs root and docker.io"
            )
        for engine in self.engines:
            self._start(engine)
        for engine in self.engines:
            self._wait_and_import(engine)
        manager = self.manager
        manager.cli(
            "swarm", "init", "--advertise-addr", manager.address,
            "--listen-addr", f"{manager.address}:2377",
            "--data-path-port", str(self.data_path_port),
        )  # fmt: skip
        with manager.client() as client:
            for network in client.networks.list(names=["ingress"]):
                network.remove()  # an overlay in a private range that nothing here uses
        token = manager.cli("swarm", "join-token", "-q", "worker")
        for engine in self.engines[1:]:
            engine.cli(
                "swarm", "join", "--token", token, "--advertise-addr", engine.address,
                "--listen-addr", f"{engine.address}:2377", f"{manager.address}:2377",
            )  # fmt: skip
        self._label_nodes()
        self.pull_attempts()  # start the log offsets here
        return self

    def _start(self, engine: SwarmEngine) -> None:
        engine.root.mkdir(parents=True, exist_ok=True)
        argv = [
            which("dockerd") or "dockerd",
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--userland-proxy=false", "--shutdown-timeout=2",
            f"--data-root={engine.root / 'data'}", f"--exec-root={engine.root / 'exec'}",
            f"--pidfile={engine.pid_file}", "-H", engine.url,
        ]  # fmt: skip
        with open(engine.log, "ab") as out:
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                env=engine_environment(**OFFLINE_ENV),
            )

    def _wait_and_import(self, engine: SwarmEngine) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ping_unix(engine.socket):
            if time.monotonic() > deadline:
                raise SwarmHarnessError(
                    f"dockerd {engine.name} did not answer:\n{tail(engine.log)}"
                )
            time.sleep(0.2)
        with engine.client() as client:
            try:
                client.images.get(BASE_IMAGE)
            except docker.errors.ImageNotFound:
                repository, tag = BASE_IMAGE.rsplit(":", 1)
                client.api.import_image_from_data(base_image_tar(), repository=repository, tag=tag)

    def _label_nodes(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        with self.manager.client() as client:
            while len(client.nodes.list(filters={"role": "worker"})) < len(self.engines) - 1:
                if time.monotonic() > deadline:
                    raise SwarmHarnessError("workers did not join")
                time.sleep(0.2)
            for node in client.nodes.list():
                index = self.node_ids().index(node.id)
                spec = dict(node.attrs["Spec"])
                spec["Labels"] = {CLUSTER_LABEL: self.cluster, ZONE_LABEL: f"z{index + 1}"}
                node.update(spec)

    def node_ids(self) -> list[str]:
        """The Swarm node id of each engine, in engine order (each engine knows its own; the
        manager's node list shows workers at the address they connect from)."""
        if not self._node_ids:
            for engine in self.engines:
                with engine.client() as client:
                    self._node_ids.append(client.info()["Swarm"]["NodeID"])
        return self._node_ids

    def set_availability(self, index: int, availability: str) -> None:
        """``active``, ``pause`` or ``drain`` for engine ``index``'s node."""
        with self.manager.client() as client:
            node = client.nodes.get(self.node_ids()[index])
            spec = dict(node.attrs["Spec"])
            spec["Availability"] = availability
            node.update(spec)

    def remove_services(self) -> None:
        """Every service (tests start from an empty Swarm), and wait until their tasks are gone."""
        with self.manager.client() as client:
            for service in client.services.list():
                service.remove()
        deadline = time.monotonic() + 60
        while any(self._task_containers(engine) for engine in self.engines):
            if time.monotonic() > deadline:
                raise SwarmHarnessError("task containers did not go away")
            time.sleep(0.2)

    @staticmethod
    def _task_containers(engine: SwarmEngine) -> list[object]:
        with engine.client() as client:
            found: list[object] = client.api.containers(
                all=True, filters={"label": "com.docker.swarm.task"}
            )
        return found

    def pull_attempts(self) -> list[str]:
        """Log lines since the last call, of every engine, that show a registry pull attempt."""
        found = []
        for engine in self.engines:
            if not engine.log.exists():
                continue
            with open(engine.log, "rb") as log:
                log.seek(self._log_offsets.get(engine.name, 0))
                text = log.read()
                self._log_offsets[engine.name] = log.tell()
            for line in text.decode("utf-8", "replace").splitlines():
                if any(marker in line.lower() for marker in PULL_MARKERS):
                    found.append(f"{engine.name}: {line}")
        return found

    def down(self) -> None:
        """Leave the Swarm, remove docker_gwbridge, stop each engine by its pid, drop the dirs."""
        for engine in reversed(self.engines):
            if not ping_unix(engine.socket):
                continue
            try:
                engine.cli("swarm", "leave", "--force", timeout=60)
                with engine.client() as client:
                    for network in client.networks.list(names=["docker_gwbridge"]):
                        network.remove()
            except (SwarmHarnessError, docker.errors.DockerException, subprocess.TimeoutExpired):
                pass  # stopping the engine below ends it all the same
        for engine in self.engines:
            pid = read_pid(engine.pid_file)
            if pid is not None:
                stop_pid(pid)
        for mount in mounts_under(self.root):  # dockerd leaves its data root bind-mounted
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SwarmHarness:
        return self.up()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()
