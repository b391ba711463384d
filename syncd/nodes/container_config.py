"""A ContainerRequest in Docker's terms: host config, health check, restart policy, ports."""

from __future__ import annotations

import math
from typing import Any

import docker
from docker.types import DeviceRequest

from syncd.errors import NodeError
from syncd.nodes.base import ContainerRequest
from syncd.spec.models import HealthCheck
from syncd.state import LABEL_MANAGED


def create_arguments(
    api: docker.APIClient, request: ContainerRequest, node_id: str
) -> dict[str, Any]:
    """Keyword arguments of ``APIClient.create_container`` for ``request``; the managed label is
    always set, whatever the request's labels say (whatever we create we must find again)."""
    labels = dict(request.labels)
    labels[LABEL_MANAGED] = "true"
    network = request.network
    publish = network not in ("host", "none") and not (network or "").startswith("container:")
    port_bindings = (
        {f"{p.internal}/{p.protocol}": (p.host_ip, p.host) for p in request.ports}
        if publish
        else {}
    )
    host_config = api.create_host_config(
        nano_cpus=request.cpu_millis * 1_000_000 if request.cpu_millis else None,
        mem_limit=request.memory_bytes or None,
        device_requests=[
            DeviceRequest(driver="nvidia", device_ids=list(request.gpu_ids), capabilities=[["gpu"]])
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
        restart_policy=restart_policy(request.restart_policy, node_id),
    )
    return {
        "image": request.image,
        "command": list(request.command) if request.command is not None else None,
        "name": request.name,
        "environment": [f"{key}={value}" for key, value in request.env] or None,
        "labels": labels,
        "ports": [(p.internal, p.protocol) for p in request.ports] if port_bindings else None,
        "host_config": host_config,
        "healthcheck": docker_healthcheck(request.health_check),
        # the container keeps its own stop behaviour: a `docker stop` by hand or the engine's
        # shutdown then treats it as syncd does
        "stop_signal": request.stop_signal,
        "stop_timeout": stop_timeout(request.stop_grace_s),
        "use_config_proxy": False,  # a proxy from ~/.docker/config.json would change the env
    }


def stop_timeout(grace_s: float | None) -> int | None:
    """Docker's StopTimeout (whole seconds, rounded up so a grace is never cut short)."""
    return None if grace_s is None else max(0, math.ceil(grace_s))


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


def restart_policy(policy: str, node_id: str) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped`` or ``on-failure[:N]`` as Docker's dict."""
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
