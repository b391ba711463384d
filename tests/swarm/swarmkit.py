"""What the Swarm engine tests share: a repository whose node file is the Swarm, one pass of
the sync layer over it, and a sampler of the tasks' containers of each version."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from syncd.apply.report import ApplyOptions
from syncd.state import LABEL_DEPLOYMENT, LABEL_SPEC_HASH
from syncd.sync.revisions import Revision
from syncd.sync.settings import SyncSettings
from syncd.sync.syncing import Sync, SyncResult
from testkit.services import deployment, service_definition
from testkit.swarm import SwarmHarness

FAST = ApplyOptions(progress_deadline_s=40.0, poll_interval_s=0.2)


@dataclass
class SwarmRepo:
    """A repository on disk for one Swarm: ``write`` replaces every document."""

    root: Path
    swarm: SwarmHarness

    def write(self, *deployments: dict[str, Any], definition: dict[str, Any] | None = None) -> None:
        for folder in ("deployments", "definitions", "nodes"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            for old in (self.root / folder).glob("*.yaml"):
                old.unlink()
        (self.root / "nodes" / "swarm.yaml").write_text(yaml.safe_dump(self.swarm.node_document()))
        definition = definition or service_definition()
        (self.root / "definitions" / "def.yaml").write_text(yaml.safe_dump(definition))
        for doc in deployments:
            (self.root / "deployments" / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc))

    def deployment(
        self, deployment_id: str, replicas: int, *, zone: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A test-service deployment placed on this Swarm (``extra``: version, mode, strategy)."""
        doc = deployment(deployment_id, replicas, **extra)
        region: dict[str, str] = {"cluster": self.swarm.cluster}
        if zone is not None:
            region["zone"] = zone
        doc["targetRegions"] = [region]
        return doc

    def sync(
        self,
        *,
        options: ApplyOptions = FAST,
        dry_run: bool = False,
        settings: SyncSettings | None = None,
        allow_mass_prune: bool = False,
    ) -> SyncResult:
        """One pass (plan, then apply unless ``dry_run``) with its own pool."""
        settings = settings or SyncSettings(allow_mass_prune=allow_mass_prune)
        with Sync(settings, options=options) as sync:
            return sync.run(Revision(self.root), dry_run=dry_run)


def outcome(result: SyncResult, deployment_id: str) -> tuple[str, str]:
    assert result.report is not None
    found = result.report.result(deployment_id)
    assert found is not None
    return found.outcome, found.reason


def running_by_version(swarm: SwarmHarness, deployment_id: str) -> Counter[str]:
    """Containers of the deployment's tasks that run and pass their health check, by spec
    hash, on every engine of the Swarm (one list call per engine)."""
    counts: Counter[str] = Counter()
    for engine in swarm.engines:
        with engine.client() as client:
            for summary in client.api.containers(
                filters={"label": f"{LABEL_DEPLOYMENT}={deployment_id}"}
            ):
                if "(healthy)" in summary["Status"]:
                    counts[summary["Labels"][LABEL_SPEC_HASH]] += 1
    return counts


@dataclass
class TaskSampler:
    """``running_by_version`` every 100 ms in a thread while a rollout runs."""

    swarm: SwarmHarness
    deployment_id: str
    samples: list[Counter[str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TaskSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            # a container gone between list and read: the next sample sees it
            with contextlib.suppress(docker.errors.DockerException):
                self.samples.append(running_by_version(self.swarm, self.deployment_id))
            time.sleep(0.1)

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=5)


def service_of(swarm: SwarmHarness, name: str) -> dict[str, Any] | None:
    with swarm.manager.client() as client:
        for service in client.api.services(filters={"name": name}):
            if service["Spec"]["Name"] == name:
                result: dict[str, Any] = service
                return result
    return None
