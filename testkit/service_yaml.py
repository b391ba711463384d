"""The test service as YAML text, for repositories committed to Git (daemon, fault tests, benches).

This variant becomes healthy at once and has no ``MODE``: what these tests vary is the commit,
not how the service behaves.
"""

from __future__ import annotations

from testkit.harness.base_image import BASE_IMAGE

# Healthy at once (its health check reads a file it writes at start); stops in a second (a
# shell as PID 1 ignores SIGTERM unless it traps it).
SERVICE_DEFINITION = f"""\
id: def_svc
image:
  name: "{BASE_IMAGE}"
  internalPorts: []
command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while :; do sleep 1 & wait; done"]
network: "none"
healthCheck:
  command: ["cat", "/tmp/ready"]
  interval: 1s
  timeout: 3s
  retries: 3
"""


def service_deployment(
    deployment_id: str,
    replicas: int,
    version: str,
    *,
    max_surge: int = 1,
    max_unavailable: int = 0,
    zone: str | None = None,
) -> str:
    """A RollingUpdate deployment of ``def_svc`` at ``version``, optionally pinned to a zone of
    the harness's cluster ``test``."""
    lines = [
        f"id: {deployment_id}",
        "definitionId: def_svc",
        f"replicas: {replicas}",
        "strategy:",
        "  type: RollingUpdate",
        f"  maxSurge: {max_surge}",
        f"  maxUnavailable: {max_unavailable}",
        "envars:",
        f'  VERSION: "{version}"',
    ]
    if zone is not None:
        lines += ["targetRegions:", "  - cluster: test", f"    zone: {zone}"]
    return "\n".join(lines) + "\n"
