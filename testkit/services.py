"""The test service: one busybox shell whose ``MODE`` says how it behaves, as repository documents.

``MODE=ok`` becomes ready (its health check reads a file it writes), ``MODE=sick`` never does,
``MODE=crash`` exits 3 naming its ``VERSION``. No network, so it runs on the harness engines
(``--bridge=none``) and starts in well under a second.
"""

from __future__ import annotations

from typing import Any

from syncd.spec.models import NodeSpec
from testkit.harness.base_image import BASE_IMAGE

# The TERM trap keeps stops fast (a shell as PID 1 would otherwise ignore SIGTERM).
SERVICE_SCRIPT = (
    'trap "exit 0" TERM; '
    'if [ "$MODE" = crash ]; then echo "boom: bad config for version $VERSION"; exit 3; fi; '
    'if [ "$MODE" != sick ]; then touch /tmp/ready; else echo "warming up forever"; fi; '
    "while :; do sleep 1 & wait; done"
)


def service_definition(definition_id: str = "def_svc", **extra: Any) -> dict[str, Any]:
    """A definition document of the test service; ``extra`` keys replace or add fields."""
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
    """A deployment document: a new ``version`` is a new spec hash, so a rollout."""
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
    """A node file's document for ``node`` (id, url, cluster, zone)."""
    return {"id": node.id, "url": node.url, "cluster": node.cluster, "zone": node.zone}
