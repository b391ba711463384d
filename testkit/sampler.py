"""An engine sampler: lists a deployment's containers on every engine in a thread, every 100 ms,
while a rollout runs, so a test can check the rollout bounds at every sample."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import docker

from syncd.state import LABEL_DEPLOYMENT, LABEL_REPLICA, LABEL_SPEC_HASH


@dataclass(frozen=True)
class Seen:
    """One container as a sample saw it."""

    node_id: str
    container_id: str
    name: str
    spec_hash: str
    replica: int
    running: bool
    healthy: bool


def list_deployment(clients: dict[str, docker.DockerClient], deployment_id: str) -> list[Seen]:
    """Every container of the deployment on every engine (one list call per engine)."""
    seen = []
    for node_id, client in clients.items():
        for summary in client.api.containers(
            all=True, filters={"label": f"{LABEL_DEPLOYMENT}={deployment_id}"}
        ):
            seen.append(
                Seen(
                    node_id=node_id,
                    container_id=summary["Id"],
                    name=summary["Names"][0].lstrip("/"),
                    spec_hash=summary["Labels"][LABEL_SPEC_HASH],
                    replica=int(summary["Labels"][LABEL_REPLICA]),
                    running=summary["State"] in ("running", "restarting"),
                    healthy=summary["State"] == "running" and "(healthy)" in summary["Status"],
                )
            )
    return seen


@dataclass
class Sampler:
    """Lists the engines every ``interval_s`` in a thread while a rollout runs; ``times`` holds
    each sample's ``time.monotonic()`` (the fault tests skip the samples of a killed step)."""

    sockets: dict[str, str]
    deployment_id: str
    interval_s: float = 0.1
    samples: list[list[Seen]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> Sampler:
        self._clients = {
            node_id: docker.DockerClient(base_url=f"unix://{path}", timeout=30)
            for node_id, path in self.sockets.items()
        }
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                at = time.monotonic()
                self.samples.append(list_deployment(self._clients, self.deployment_id))
                self.times.append(at)
                self._stop.wait(self.interval_s)
        except BaseException as exc:  # surfaced in __exit__
            self._error = exc

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)
        for client in self._clients.values():
            client.close()
        if self._error is not None:
            raise self._error


def sockets_of(harness: Any) -> dict[str, str]:
    """Node id -> engine socket path of every harness node, for a Sampler."""
    return {node.id: harness.socket(node.id) for node in harness.nodes}
