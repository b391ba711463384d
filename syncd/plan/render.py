"""Plans as people and programs read them: text for terminals, JSON, markdown for PR comments.

No renderer can show a secret value: secret values are never in a plan (env values keep their
``{{secret:NAME}}`` references, shown as ``(secret NAME)``), and renderers read only the plan.
The JSON shape is published as ``schemas/plan.schema.json`` and documented in docs/plan.md.
"""

from __future__ import annotations

import json as _json

from syncd.plan.markdown import markdown
from syncd.plan.model import DeploymentPlan, Plan
from syncd.plan.wording import (
    CATEGORIES,
    category,
    change,
    counts,
    instance,
    misfit,
    placement,
    summary_line,
    title,
)
from syncd.spec.templating import mask_secrets
from syncd.state import ObservedInstance

__all__ = [
    "CATEGORIES",
    "as_dict",
    "category",
    "counts",
    "json",
    "markdown",
    "summary_line",
    "text",
]

JSON_FORMAT_VERSION = 1
_SIGN = {"create": "+", "prune": "-", "unchanged": " "}
_COLORS = {"+": "32", "~": "33", "-": "31", "!": "35"}


# --------------------------------------------------------------------------- text


def text(plan: Plan, color: bool = False) -> str:
    """Terraform-like: ``+`` create, ``~`` update/scale/repair, ``-`` prune and removals, field
    diffs as ``old -> new``, why unplaceable replicas fit nowhere (grouped), then counts."""

    def paint(sign: str, line: str) -> str:
        code = _COLORS.get(sign)
        return f"\x1b[{code}m{line}\x1b[0m" if color and code else line

    lines = [title(plan)]
    for deployment in plan.deployments:
        if not deployment.has_changes and not deployment.changes:
            continue
        kind = category(deployment)
        sign = _SIGN.get(kind, "~")
        lines.append(paint(sign, f"{sign} {deployment.deployment_id}: {deployment.summary}"))
        for item in deployment.changes:
            mark = "+" if item.old is None else "-" if item.new is None else "~"
            lines.append(paint(mark, f"    {mark} {change(item.path, item.old, item.new)}"))
        for where in deployment.start:
            lines.append(paint("+", f"    + {placement(where)}"))
        for found in deployment.replace:
            lines.append(paint("-", f"    - {instance(found)} (replaced)"))
        for found in deployment.remove:
            lines.append(paint("-", f"    - {instance(found)}"))
        for failure in deployment.unplaceable:
            lines.append(paint("!", f"    ! {failure.describe()}"))
    lines += [paint("~", f"~ {line}") for line in plan.proxy_changes]
    for warning in plan.warnings:
        lines.append(paint("!", f"! {warning}"))
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- json


def as_dict(plan: Plan) -> dict[str, object]:
    """The stable JSON shape (schemas/plan.schema.json)."""
    return {
        "formatVersion": JSON_FORMAT_VERSION,
        "revision": plan.revision,
        "baseRevision": plan.base_revision,
        "offline": plan.offline,
        "hasChanges": plan.has_changes,
        "counts": counts(plan),
        "summary": summary_line(plan),
        "warnings": list(plan.warnings),
        "deployments": [_deployment_dict(d) for d in plan.deployments],
    }


def json(plan: Plan) -> str:
    """The plan as JSON, keys in a fixed order, one document."""
    return _json.dumps(as_dict(plan), indent=2) + "\n"


def _deployment_dict(deployment: DeploymentPlan) -> dict[str, object]:
    desired = deployment.desired
    strategy = desired.strategy if desired is not None else None
    return {
        "id": deployment.deployment_id,
        "category": category(deployment),
        "actions": [action.value for action in deployment.actions],
        "summary": deployment.summary,
        "definitionId": desired.deployment.definition_id if desired is not None else None,
        "replicas": desired.replicas if desired is not None else None,
        "strategy": {
            "type": strategy.type,
            "maxSurge": strategy.max_surge,
            "maxUnavailable": strategy.max_unavailable,
        }
        if strategy is not None
        else None,
        "image": desired.spec.image if desired is not None else None,
        "currentHashes": list(deployment.current_hashes),
        "targetHash": deployment.target_hash,
        "changes": [
            {
                "path": change.path,
                "old": mask_secrets(change.old) if change.old is not None else None,
                "new": mask_secrets(change.new) if change.new is not None else None,
            }
            for change in deployment.changes
        ],
        "keep": [_instance_dict(i) for i in deployment.keep],
        "start": [
            {"replica": p.replica, "node": p.node_id, "gpus": list(p.gpu_ids)}
            for p in deployment.start
        ],
        "replace": [_instance_dict(i) for i in deployment.replace],
        "remove": [_instance_dict(i) for i in deployment.remove],
        "replicasBefore": deployment.replicas_before,
        "failed": deployment.failed,
        "missing": deployment.missing,
        "duplicates": deployment.duplicates,
        "onUnreachableNodes": [_instance_dict(i) for i in deployment.on_unreachable_nodes],
        # one entry per replica, as formatVersion 1 has it; replicas that failed for the same
        # reasons share their reasons and message
        "unplaceable": [
            {
                "replica": replica,
                "reasons": [
                    {"node": node, "reason": misfit(why), "kind": why.kind.value}
                    for node, why in failure.reasons
                ],
                "message": failure.describe(),
            }
            for failure in deployment.unplaceable
            for replica in failure.replicas
        ],
    }


def _instance_dict(instance: ObservedInstance) -> dict[str, object]:
    return {
        "node": instance.node_id,
        "containerId": instance.container_id,
        "name": instance.name,
        "replica": instance.replica,
        "specHash": instance.spec_hash,
        "state": instance.state,
        "health": instance.health,
    }
