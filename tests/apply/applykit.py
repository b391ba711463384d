"""Helpers for apply tests: a repository written to disk, one pass, and an engine sampler."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from syncd.apply.report import ApplyOptions, ApplyReport
from syncd.plan.model import Plan
from syncd.spec.models import NodeSpec
from syncd.state import LABEL_DEPLOYMENT, LABEL_REPLICA, LABEL_SPEC_HASH
from syncd.sync import Revision, Sync, SyncSettings

BASE_IMAGE = "syncd-test/busybox:latest"
# A service without network: MODE=ok becomes ready, MODE=sick never does, MODE=crash exits 3.
# The TERM trap keeps stops fast (a shell as PID 1 would otherwise ignore SIGTERM).
SERVICE_SCRIPT = (
    'trap "exit 0" TERM; '
    'if [ "$MODE" = crash ]; then echo "boom: bad config for version $VERSION"; exit 3; fi; '
    'if [ "$MODE" != sick ]; then touch /tmp/ready; else echo "warming up forever"; fi; '
    "while :; do sleep 1 & wait; done"
)
FAST_OPTIONS = ApplyOptions(
    concurrency=4, progress_deadline_s=30.0, settle_s=1.0, stop_grace_s=2.0, poll_interval_s=0.1
)


def service_definition(definition_id: str = "def_svc", **extra: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "id": definition_id,
        "image": {"name": BASE_IMAGE, "internalPorts": [8080]},
        "command": ["sh", "-c", SERVICE_SCRIPT],
        "network": "none",
        "healthCheck": {
            "command": ["cat", "/tmp/ready"],
            "interval": "1s",
            # lenient enough that a busy machine does not fail a probe of a healthy instance
            "timeout": "3s",
            "retries": 2,
        },
        "envars": [{"key": "MODE", "value": "ok"}],
    }
    definition.update(extra)
    return definition


def deployment(
    deployment_id: str,
    replicas: int,
    *,
    version: str = "1",
    mode: str = "ok",
    definition_id: str = "def_svc",
    strategy: dict[str, Any] | None = None,
    envars: dict[str, str] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": deployment_id,
        "definitionId": definition_id,
        "replicas": replicas,
        "envars": {"VERSION": version, "MODE": mode, **(envars or {})},
    }
    if strategy is not None:
        doc["strategy"] = strategy
    return doc


def node_document(node: NodeSpec) -> dict[str, Any]:
    return {"id": node.id, "url": node.url, "cluster": node.cluster, "zone": node.zone}


@dataclass
class TestRepo:
    """A repository on disk that a test rewrites between passes."""

    root: Path
    nodes: list[NodeSpec]

    def write(
        self,
        deployments: list[dict[str, Any]],
        definitions: list[dict[str, Any]] | None = None,
    ) -> None:
        for folder in ("deployments", "definitions", "nodes"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            for old in (self.root / folder).glob("*.yaml"):
                old.unlink()
        for doc in deployments:
            self._dump("deployments", doc["id"], doc)
        for doc in definitions if definitions is not None else [service_definition()]:
            self._dump("definitions", doc["id"], doc)
        for node in self.nodes:
            self._dump("nodes", node.id, node_document(node))

    def _dump(self, folder: str, name: str, doc: dict[str, Any]) -> None:
        (self.root / folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _sync(
    pool: Any, options: ApplyOptions = FAST_OPTIONS, *, allow_mass_prune: bool = False
) -> Sync:
    """The pass the CLI and the daemon run, over the test's pool, without the process's env."""
    return Sync(
        SyncSettings(allow_mass_prune=allow_mass_prune), pool=pool, environ={}, options=options
    )


def plan_repo(
    repo: TestRepo, pool: Any, *, secrets: Any = None, allow_mass_prune: bool = False
) -> Plan:
    """The pass stopped before applying."""
    sync = _sync(pool, allow_mass_prune=allow_mass_prune)
    loaded = sync.load(Revision(repo.root), secrets=secrets)
    result = sync.run(loaded, dry_run=True)
    assert result.plan is not None
    return result.plan


def apply_repo(
    repo: TestRepo,
    pool: Any,
    *,
    options: ApplyOptions = FAST_OPTIONS,
    secrets: Any = None,
    allow_mass_prune: bool = False,
    commit: str = "test",
) -> tuple[Plan, ApplyReport]:
    """One pass: load, render, observe, plan, apply."""
    sync = _sync(pool, options, allow_mass_prune=allow_mass_prune)
    loaded = sync.load(Revision(repo.root, commit), secrets=secrets)
    result = sync.run(loaded)
    assert result.plan is not None and result.report is not None
    return result.plan, result.report


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
    return {node.id: harness.socket(node.id) for node in harness.nodes}


def wait_for(predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; returns its value (fails the test on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)
