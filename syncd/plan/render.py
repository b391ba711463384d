"""Plans as people and programs read them: text for terminals, JSON, markdown for PR comments.

No renderer can show a secret value: secret values are never in a plan (env values keep their
``{{secret:NAME}}`` references, shown as ``(secret NAME)``), and renderers read only the plan.
The JSON shape is published as ``schemas/plan.schema.json`` and documented in docs/plan.md.
"""

from __future__ import annotations

import json as _json
from collections import Counter
from collections.abc import Iterable

from syncd.plan.model import ActionKind, DeploymentPlan, Placement, Plan
from syncd.spec.templating import mask_secrets
from syncd.state import ObservedInstance

JSON_FORMAT_VERSION = 1
MARKDOWN_PART_MARKER = "<!-- syncd-plan-part -->"

# Each deployment counts once, under its most significant action.
CATEGORIES = ("create", "update", "replace", "scale", "prune", "unchanged")
_CATEGORY_OF = {
    ActionKind.CREATE: "create",
    ActionKind.PRUNE: "prune",
    ActionKind.ROLLING_UPDATE: "update",
    ActionKind.RECREATE: "update",
    ActionKind.REPLACE: "replace",
    ActionKind.SCALE_UP: "scale",
    ActionKind.SCALE_DOWN: "scale",
    ActionKind.NOOP: "unchanged",
}
_SIGN = {"create": "+", "prune": "-", "unchanged": " "}
_COLORS = {"+": "32", "~": "33", "-": "31", "!": "35"}


def category(deployment: DeploymentPlan) -> str:
    """create, update, replace, scale, prune or unchanged."""
    found = {_CATEGORY_OF[action] for action in deployment.actions}
    return next(name for name in CATEGORIES if name in found)


def counts(plan: Plan) -> dict[str, int]:
    """Deployments per category, plus ``unplaceable`` replicas."""
    tally = Counter(category(d) for d in plan.deployments)
    result = {name: tally.get(name, 0) for name in CATEGORIES}
    result["unplaceable"] = sum(len(d.unplaceable) for d in plan.deployments)
    return result


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, ...`` or ``No changes: ...``."""
    tally = counts(plan)
    total = len(plan.deployments)
    if not plan.has_changes and not any(d.changes for d in plan.deployments):
        return f"No changes: {total} deployment{'' if total == 1 else 's'} in sync."
    line = (
        f"Plan: {tally['create']} to create, {tally['update']} to update, "
        f"{tally['replace']} to repair, {tally['scale']} to scale, {tally['prune']} to prune, "
        f"{tally['unchanged']} unchanged"
    )
    if tally["unplaceable"]:
        line += f"; {tally['unplaceable']} replica(s) cannot be placed"
    return line + "."


# --------------------------------------------------------------------------- text


def text(plan: Plan, color: bool = False) -> str:
    """Terraform-like: ``+`` create, ``~`` update/scale/repair, ``-`` prune and removals, field
    diffs as ``old -> new``, the reason each unplaceable replica fits nowhere, then counts."""

    def paint(sign: str, line: str) -> str:
        code = _COLORS.get(sign)
        return f"\x1b[{code}m{line}\x1b[0m" if color and code else line

    lines = [_title(plan)]
    for deployment in plan.deployments:
        if not deployment.has_changes and not deployment.changes:
            continue
        kind = category(deployment)
        sign = _SIGN.get(kind, "~")
        lines.append(paint(sign, f"{sign} {deployment.deployment_id}: {deployment.summary}"))
        for change in deployment.changes:
            mark = "+" if change.old is None else "-" if change.new is None else "~"
            lines.append(paint(mark, f"    {mark} {_change(change.path, change.old, change.new)}"))
        for placement in deployment.start:
            lines.append(paint("+", f"    + {_placement(placement)}"))
        for instance in deployment.replace:
            lines.append(paint("-", f"    - {_instance(instance)} (replaced)"))
        for instance in deployment.remove:
            lines.append(paint("-", f"    - {_instance(instance)}"))
        for failure in deployment.unplaceable:
            lines.append(paint("!", f"    ! {failure.describe()}"))
    for warning in plan.warnings:
        lines.append(paint("!", f"! {warning}"))
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def _title(plan: Plan) -> str:
    head = _short(plan.revision) or "the working tree"
    if plan.offline:
        base = _short(plan.base_revision) or "an empty repository"
        return f"syncd plan: {base} -> {head} (offline, no nodes contacted)"
    return f"syncd plan: {head} against the live nodes"


def _short(revision: str | None) -> str | None:
    return revision[:12] if revision else None


def _change(path: str, old: str | None, new: str | None) -> str:
    # Values pass through mask_secrets once more: a second lock on a door that is already shut.
    if old is None:
        return f"{path}: {mask_secrets(new or '')}"
    if new is None:
        return f"{path}: {mask_secrets(old)} (removed)"
    return f"{path}: {mask_secrets(old)} -> {mask_secrets(new)}"


def _placement(placement: Placement) -> str:
    gpus = f" on GPU {','.join(placement.gpu_ids)}" if placement.gpu_ids else ""
    return f"replica {placement.replica} on {placement.node_id}{gpus}"


def _instance(instance: ObservedInstance) -> str:
    return (
        f"replica {instance.replica} {instance.name} ({instance.container_id[:12]}) on "
        f"{instance.node_id}, {instance.state}/{instance.health}"
    )


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
        "unplaceable": [
            {
                "replica": failure.replica,
                "reasons": [{"node": node, "reason": why} for node, why in failure.reasons],
                "message": failure.describe(),
            }
            for failure in deployment.unplaceable
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


# --------------------------------------------------------------------------- markdown


def markdown(plan: Plan, max_chars: int = 65000) -> list[str]:
    """PR-comment markdown: a summary table and one ``<details>`` block per changed deployment,
    split into parts each shorter than ``max_chars`` (GitHub refuses comments over 65,536).

    A details block is never split across parts unless it alone is too big; then it is cut at
    line boundaries and each piece is a complete block of its own ("continued").
    """
    changed = [d for d in plan.deployments if d.has_changes or d.changes]
    header = f"### {_title(plan)}\n\n**{summary_line(plan)}**\n"
    # One block per warning: a thousand unreachable nodes must not make one part too big.
    blocks: list[str] = [
        f"\n> :warning: {_md_inline(w)[: max_chars - 200]}\n" for w in plan.warnings
    ]
    if changed:
        rows = [_table_row(d) for d in changed]
        blocks.extend(_table_blocks(rows, max_chars))
    for deployment in changed:
        blocks.extend(_details_blocks(deployment, max_chars))
    # Room for the "part i of n" line added once the number of parts is known.
    budget = max_chars - 64
    return _number(_pack([header, *blocks], budget))


_TABLE_HEAD = "| Deployment | Action | Replicas | Summary |\n|---|---|---|---|\n"


def _table_row(deployment: DeploymentPlan) -> str:
    replicas = str(deployment.desired.replicas) if deployment.desired is not None else "-"
    actions = ", ".join(action.value for action in deployment.actions)
    return (
        f"| `{_md_cell(deployment.deployment_id)}` | {actions} | {replicas} | "
        f"{_md_cell(deployment.summary)} |\n"
    )


def _table_blocks(rows: list[str], max_chars: int) -> Iterable[str]:
    """The table, cut into tables that each fit, every piece with its own header row."""
    budget = max_chars - 64 - len(_TABLE_HEAD) - 2
    current: list[str] = []
    size = 0
    for row in rows:
        if current and size + len(row) > budget:
            yield "\n" + _TABLE_HEAD + "".join(current)
            current, size = [], 0
        current.append(row)
        size += len(row)
    if current:
        yield "\n" + _TABLE_HEAD + "".join(current)


def _details_blocks(deployment: DeploymentPlan, max_chars: int) -> list[str]:
    body = text_lines_for(deployment)
    summary = f"<code>{_md_html(deployment.deployment_id)}</code>: {_md_html(deployment.summary)}"
    fence = "```"
    while any(fence in line for line in body):
        fence += "`"

    def block(lines: list[str], label: str) -> str:
        inner = "\n".join(lines)
        return (
            f"\n<details><summary>{label}</summary>\n\n{fence}diff\n{inner}\n{fence}\n</details>\n"
        )

    whole = block(body, summary)
    budget = max_chars - 64
    if len(whole) <= budget:
        return [whole]
    overhead = len(block([], summary + " (continued)")) + 1
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in body:
        line = line if len(line) < budget - overhead else line[: budget - overhead - 3] + "..."
        if current and size + len(line) + 1 > budget - overhead:
            pieces.append(block(current, summary if not pieces else summary + " (continued)"))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append(block(current, summary if not pieces else summary + " (continued)"))
    return pieces


def text_lines_for(deployment: DeploymentPlan) -> list[str]:
    """The detail lines of one deployment in diff syntax (``+``, ``-``, ``!`` first column)."""
    lines = []
    for change in deployment.changes:
        if change.old is None:
            lines.append(f"+ {change.path}: {mask_secrets(change.new or '')}")
        elif change.new is None:
            lines.append(f"- {change.path}: {mask_secrets(change.old)}")
        else:
            lines.append(f"! {_change(change.path, change.old, change.new)}")
    lines.extend(f"+ start {_placement(p)}" for p in deployment.start)
    lines.extend(f"- replace {_instance(i)}" for i in deployment.replace)
    lines.extend(f"- remove {_instance(i)}" for i in deployment.remove)
    for failure in deployment.unplaceable:
        lines.append(f"! no node fits replica {failure.replica}:")
        lines.extend(f"!   {node}: {why}" for node, why in failure.reasons)
    return lines or [f"  {deployment.summary}"]


def _pack(blocks: list[str], budget: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for block in blocks:
        if current and len(current) + len(block) > budget:
            parts.append(current)
            current = ""
        current += block
    if current:
        parts.append(current)
    return parts


def _number(parts: list[str]) -> list[str]:
    if len(parts) <= 1:
        return parts
    total = len(parts)
    numbered = [parts[0] + f"\n_syncd plan, part 1 of {total}_\n"]
    numbered.extend(
        f"_syncd plan, part {index} of {total}_\n" + part
        for index, part in enumerate(parts[1:], start=2)
    )
    return numbered


def _md_cell(value: str) -> str:
    return _md_html(value).replace("|", "\\|").replace("\n", " ")


def _md_inline(value: str) -> str:
    return _md_html(value).replace("\n", " ")


def _md_html(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
