"""Helpers for fault tests: the YAML test service, the daemon as a process, and what the engines
and the status file say of a deployment.

Both live in ``testkit`` (bench_latency and bench_footprint use them too); imported here so the
fault tests find them in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.state import LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_REPLICA
from testkit.daemon_process import DaemonProcess as Daemon
from testkit.service_yaml import SERVICE_DEFINITION as SERVICE_DEFINITION
from testkit.service_yaml import service_deployment as service_deployment
from tests.daemon.helpers import read_json, wait_for

__all__ = ["Daemon"]  # the old name of testkit's DaemonProcess, which the fault tests use


def deployment_file(deployment_id: str) -> str:
    return f"deployments/{deployment_id}.yaml"


def managed(engines, deployment_id: str, nodes: list[str] | None = None) -> list[dict]:
    """Every container of the deployment on the engines (all, or ``nodes``), as the list call's
    summaries (one call per engine, no inspect: a container may go between list and inspect)."""
    found = []
    for node in engines.nodes:
        if nodes is None or node.id in nodes:
            found += engines.docker(node.id).api.containers(
                all=True,
                filters={"label": [f"{LABEL_MANAGED}=true", f"{LABEL_DEPLOYMENT}={deployment_id}"]},
            )
    return found


def converged(engines, deployment_id: str, sha: str, replicas: int) -> bool:
    """Exactly ``replicas`` containers, all running at ``sha``, one per replica index."""
    containers = managed(engines, deployment_id)
    return (
        len(containers) == replicas
        and all(c["State"] == "running" and c["Labels"][LABEL_COMMIT] == sha for c in containers)
        and sorted(int(c["Labels"][LABEL_REPLICA]) for c in containers) == list(range(replicas))
    )


def wait_for_status(status_path: Path, deployment_id: str, check, timeout: float, what: str):
    """Wait until the deployment's status entry passes ``check``; on failure, say what it was."""
    last: list[dict | None] = [None]

    def condition():
        last[0] = status_of(status_path, deployment_id)
        return last[0] if last[0] and check(last[0]) else None

    try:
        return wait_for(condition, timeout, what)
    except pytest.fail.Exception:
        pytest.fail(f"gave up waiting for {what}; last status: {json.dumps(last[0])[:3000]}")


def status_of(status_path: Path, deployment_id: str) -> dict | None:
    status = read_json(status_path)
    if not status:
        return None
    return next((d for d in status["deployments"] if d["id"] == deployment_id), None)


TRANSPORTS = ("unix", "ssh", "tls")


def node_entries(engines, transport: str) -> list[dict]:
    """The harness's three nodes as daemon config entries, one reached over ``transport``:
    "unix" (all over their sockets), "ssh" (node-b over ssh://, key and known_hosts pinned) or
    "tls" (node-c over tcp:// with TLS client certificates)."""
    special = {"ssh": engines.ssh_node, "tls": engines.tls_node}.get(transport)
    entries = []
    for node in engines.nodes:
        spec = special if special is not None and special.id == node.id else node
        entry: dict = {"id": spec.id, "url": spec.url, "cluster": spec.cluster, "zone": spec.zone}
        if spec.ssh is not None:
            entry["ssh"] = {
                "identityFile": spec.ssh.identity_file,
                "knownHosts": spec.ssh.known_hosts,
            }
        if spec.tls is not None:
            entry["tls"] = {
                "caCert": spec.tls.ca_cert,
                "clientCert": spec.tls.client_cert,
                "clientKey": spec.tls.client_key,
            }
        entries.append(entry)
    return entries
