"""The reference's tables: ``deployment list``, ``node list``, ``instance list``.

Same layout as the reference CLI: a header row in capitals, every column but the last padded
to its longest cell plus three spaces, no trailing spaces. ``deployment list`` cuts DETAILS at
75 characters ending in "..." unless ``--full``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from syncd.status.model import DeploymentStatus, NodeStatus, format_time

COLUMN_GAP = 3
DETAILS_WIDTH = 75
ELLIPSIS = "..."


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to the longest cell + 3 spaces; the last column unpadded; no trailing
    spaces; no final newline."""
    table = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(row[column]) for row in table) + COLUMN_GAP for column in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines)


def cut_details(details: str, full: bool) -> str:
    """One line; at most 75 characters ending in "..." unless ``full``."""
    one_line = " ".join(details.split())
    if full or len(one_line) <= DETAILS_WIDTH:
        return one_line
    return one_line[: DETAILS_WIDTH - len(ELLIPSIS)] + ELLIPSIS


def _deployment_row(item: DeploymentStatus | Mapping[str, Any], full: bool) -> list[str]:
    # Mappings are the Deploy Svc API's deployments ({"id", "definitionId", "status", "details"}).
    if isinstance(item, DeploymentStatus):
        values = (item.id, item.definition_id, item.status, item.details)
    else:
        values = (
            item.get("id", ""),
            item.get("definitionId", ""),
            item.get("status", ""),
            item.get("details", ""),
        )
    row = [str(value or "") for value in values]
    row[3] = cut_details(row[3], full)
    return row


def deployment_table(
    statuses: Iterable[DeploymentStatus | Mapping[str, Any]], full: bool = False
) -> str:
    """``syncd deployment list``: ID, DEFINITION ID, STATUS, DETAILS."""
    rows = [_deployment_row(item, full) for item in statuses]
    return render_table(("ID", "DEFINITION ID", "STATUS", "DETAILS"), rows)


def _heartbeat(node: NodeStatus | None) -> str:
    if node is None or node.last_seen is None:
        return "never"
    return format_time(node.last_seen) or "never"


def node_table(nodes: Iterable[NodeStatus]) -> str:
    """``syncd node list``: NODE ID, URL, LAST HEARTBEAT, then REACHABLE and CLUSTER."""
    rows = [
        (node.id, node.url, _heartbeat(node), "yes" if node.reachable else "no", node.cluster or "")
        for node in nodes
    ]
    return render_table(("NODE ID", "URL", "LAST HEARTBEAT", "REACHABLE", "CLUSTER"), rows)


def instance_table(deployments: Iterable[DeploymentStatus], nodes: Iterable[NodeStatus]) -> str:
    """``syncd instance list``: INSTANCE ID (container name), URL (its node's), STATUS (Healthy,
    Degraded, Unreachable, Error, Unknown), OWNER (deployment), SLUG (definition), LAST
    HEARTBEAT (when its node last answered)."""
    by_id = {node.id: node for node in nodes}
    rows = []
    for deployment in deployments:
        for instance in deployment.instances:
            node = by_id.get(instance.node_id)
            status = instance.reference_status
            if node is not None and not node.reachable:
                status = "Unreachable"  # what we know of it is from before the node went away
            rows.append(
                (
                    instance.name,
                    node.url if node is not None else "",
                    status,
                    deployment.id,
                    deployment.definition_id,
                    _heartbeat(node),
                )
            )
    headers = ("INSTANCE ID", "URL", "STATUS", "OWNER", "SLUG", "LAST HEARTBEAT")
    return render_table(headers, rows)
