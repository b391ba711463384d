"""One Swarm cluster behind its managers: observe it in a few calls, and create, update, roll
back and remove services through the low-level API.

The first manager that answers serves every call until it stops answering; then the next is
tried (any manager accepts writes: Raft forwards them to the leader). Every update sends the
whole current spec with syncd's fields put in (docker-py's ``update_service`` without
``fetch_current_spec`` drops fields, and the model's ``Service.update()`` restarts every task
even for a label change), quoting the version it read; when Swarm refuses because the version
moved on (another writer: "update out of sequence"), the service is read again and the update
retried.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import docker

from syncd.errors import (
    NodeError,
    NodeUnreachable,
    SwarmError,
    SwarmNotActive,
    SwarmServiceForeign,
)
from syncd.nodes.connection import EngineConnection
from syncd.nodes.containers import utc_now
from syncd.nodes.engine_errors import engine_message
from syncd.nodes.swarm.reading import read_node, read_service, read_task
from syncd.spec.models import SwarmClusterSpec
from syncd.state import LABEL_MANAGED, SwarmObservation, SwarmService, SwarmTask

log = logging.getLogger("syncd.nodes.swarm")

#: how often an update is retried after the service's version moved under it
SEQUENCE_RETRIES = 5

SpecEdit = Callable[[dict[str, Any]], dict[str, Any]]


class SwarmCluster:
    """The backend of one ``kind: swarm`` node file."""

    def __init__(
        self, spec: SwarmClusterSpec, *, connect_timeout: float = 3.0, call_timeout: float = 15.0
    ) -> None:
        self.spec = spec
        self.swarm_id = spec.id
        self._managers = [
            EngineConnection(
                f"{spec.id}/manager-{index}",
                endpoint,
                connect_timeout=connect_timeout,
                call_timeout=call_timeout,
            )
            for index, endpoint in enumerate(spec.endpoints)
        ]
        self._current = 0
        self._picked = False  # the current manager answered as an active manager
        self._lock = threading.Lock()

    @property
    def api_calls(self) -> int:
        return sum(manager.api_calls for manager in self._managers)

    # ------------------------------------------------------------------ reading

    def observe(self) -> SwarmObservation:
        """Services with syncd's label and every node (two list calls); never raises:
        a Swarm whose managers all fail is a fact, like an unreachable node."""
        try:
            with self._api("listing services and nodes") as (api, manager):
                nodes = tuple(read_node(n) for n in api.nodes())
                services = tuple(
                    read_service(s)
                    for s in api.services(filters={"label": f"{LABEL_MANAGED}=true"}, status=True)
                )
        except NodeError as error:
            # the plan says "swarm ID is unreachable: <this>"
            why = error.reason if isinstance(error, NodeUnreachable) else error.message
            return SwarmObservation(
                swarm_id=self.swarm_id,
                cluster=self.spec.cluster,
                reachable=False,
                error=why,
                observed_at=utc_now(),
            )
        return SwarmObservation(
            swarm_id=self.swarm_id,
            cluster=self.spec.cluster,
            reachable=True,
            manager=manager,
            nodes=nodes,
            services=tuple(sorted(services, key=lambda s: s.name)),
            observed_at=utc_now(),
        )

    def service(self, service_id: str, *, with_tasks: bool = False) -> SwarmService | None:
        """One service as it stands (None when it is gone), with its tasks when asked."""
        with self._api("inspecting a service") as (api, _):
            try:
                data = api.inspect_service(service_id)
            except docker.errors.NotFound:
                return None
            tasks = self._tasks(api, service_id) if with_tasks else ()
        return read_service(data, tasks)

    def tasks(self, service_id: str) -> tuple[SwarmTask, ...]:
        with self._api("listing tasks") as (api, _):
            return self._tasks(api, service_id)

    @staticmethod
    def _tasks(api: docker.APIClient, service_id: str) -> tuple[SwarmTask, ...]:
        return tuple(read_task(t) for t in api.tasks(filters={"service": service_id}))

    # ------------------------------------------------------------------ writing

    def create_service(self, spec: dict[str, Any]) -> str:
        """Create a service from a full spec; returns its id. SwarmServiceForeign when a
        service of that name exists and is not ours (it is never touched)."""
        with self._api(f"creating service {spec['Name']}") as (api, _):
            try:
                answer = api._result(
                    api._post_json(api._url("/services/create"), data=spec), json=True
                )
            except docker.errors.APIError as error:
                if error.status_code == 409:
                    raise SwarmServiceForeign(
                        self.swarm_id,
                        f"a service named {spec['Name']} already exists and is not syncd's",
                        hint="remove or rename that service, or rename the deployment",
                    ) from None
                raise
        return str(answer["ID"])

    def update_service(self, service_id: str, edit: SpecEdit) -> None:
        """Read the service, apply ``edit`` to its whole current spec, send it at the version
        read; re-read and retry when the version moved on meanwhile."""
        last = ""
        for _ in range(SEQUENCE_RETRIES):
            current = self._inspect_owned(service_id)
            version = current["Version"]["Index"]
            new_spec = edit(dict(current["Spec"]))
            with self._api("updating a service") as (api, _):
                try:
                    self._post_update(api, service_id, version, new_spec)
                    return
                except docker.errors.APIError as error:
                    if self._version_of(api, service_id) == version:
                        raise  # a refusal of the spec itself, not a race
                    log.info("service %s changed under the update; retrying", service_id)
                    last = engine_message(error)
        raise SwarmError(
            self.swarm_id,
            f"updating service {service_id}: its version kept moving ({SEQUENCE_RETRIES} tries, "
            f"another writer?): {last}",
        )

    def rollback(self, service_id: str) -> None:
        """Back to the previous spec (``?rollback=previous``), as ``docker service rollback``."""
        current = self._inspect_owned(service_id)
        with self._api("rolling a service back") as (api, _):
            self._post_update(
                api,
                service_id,
                current["Version"]["Index"],
                current["Spec"],
                rollback="previous",
            )

    def remove_service(self, service_id: str) -> None:
        """Remove a managed service; one that is already gone is not an error."""
        try:
            self._inspect_owned(service_id)
        except _Gone:
            return
        with self._api("removing a service") as (api, _):
            try:
                api.remove_service(service_id)
            except docker.errors.NotFound:
                return

    # ------------------------------------------------------------------ plumbing

    def _inspect_owned(self, service_id: str) -> dict[str, Any]:
        with self._api("inspecting a service") as (api, _):
            try:
                data: dict[str, Any] = api.inspect_service(service_id)
            except docker.errors.NotFound:
                raise _Gone(self.swarm_id, f"service {service_id} is gone") from None
        if (data.get("Spec", {}).get("Labels") or {}).get(LABEL_MANAGED) != "true":
            raise SwarmServiceForeign(self.swarm_id, f"service {service_id} is not syncd's")
        return data

    @staticmethod
    def _version_of(api: docker.APIClient, service_id: str) -> int | None:
        try:
            return int(api.inspect_service(service_id)["Version"]["Index"])
        except docker.errors.NotFound:
            return None

    @staticmethod
    def _post_update(
        api: docker.APIClient,
        service_id: str,
        version: int,
        spec: dict[str, Any],
        rollback: str | None = None,
    ) -> None:
        params: dict[str, Any] = {"version": version}
        if rollback:
            params["rollback"] = rollback
        url = api._url("/services/{0}/update", service_id)
        api._raise_for_status(api._post_json(url, data=spec, params=params))

    @contextmanager
    def _api(self, action: str) -> Iterator[tuple[docker.APIClient, str]]:
        """The client of the manager in use, and its url. A manager that stops answering fails
        this call (retryable) and makes the next call look for another."""
        manager = self._pick()
        try:
            with manager.calling(action) as api:
                yield api, manager.endpoint.url
        except NodeUnreachable:
            with self._lock:
                self._picked = False
            raise

    def _pick(self) -> EngineConnection:
        """The manager in use, or the first (from it on) that answers as an active manager."""
        with self._lock:
            if self._picked:
                return self._managers[self._current]
            order = [*range(self._current, len(self._managers)), *range(self._current)]
        reasons: list[str] = []
        for index in order:
            manager = self._managers[index]
            try:
                with manager.calling("reading the swarm state") as api:
                    self._check_manager(api, manager.endpoint.url)
            except NodeUnreachable as error:
                reasons.append(error.reason)
                continue
            with self._lock:
                self._current, self._picked = index, True
            return manager
        raise NodeUnreachable(self.swarm_id, "no manager answers: " + "; ".join(reasons))

    def _check_manager(self, api: docker.APIClient, url: str) -> None:
        swarm = api.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise SwarmNotActive(
                self.swarm_id,
                f"{url} is not a Swarm manager (swarm state: "
                f"{swarm.get('LocalNodeState') or 'inactive'})",
                hint="list manager engines in managers, or run docker swarm init there",
            )

    def close(self) -> None:
        for manager in self._managers:
            manager.close()


class _Gone(SwarmError):
    """The service no longer exists (removed by hand or by another pass)."""
