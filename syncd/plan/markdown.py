"""Plans as pull-request comments: a summary table and one ``<details>`` block per changed
deployment, split into parts that each fit in one GitHub comment. The words come from
``syncd.plan.wording``, as for the text and JSON renderers."""

from __future__ import annotations

from collections.abc import Iterable

from syncd.plan.model import DeploymentPlan, Plan
from syncd.plan.wording import change, instance, misfit, placement, summary_line, title
from syncd.spec.templating import mask_secrets


def markdown(plan: Plan, max_chars: int = 65000) -> list[str]:
    """PR-comment markdown: a summary table and one ``<details>`` block per changed deployment,
    split into parts each shorter than ``max_chars`` (GitHub refuses comments over 65,536).

    A details block is never split across parts unless it alone is too big; then it is cut at
    line boundaries and each piece is a complete block of its own ("continued").
    """
    changed = [d for d in plan.deployments if d.has_changes or d.changes]
    header = f"### {title(plan)}\n\n**{summary_line(plan)}**\n"
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
    for item in deployment.changes:
        if item.old is None:
            lines.append(f"+ {item.path}: {mask_secrets(item.new or '')}")
        elif item.new is None:
            lines.append(f"- {item.path}: {mask_secrets(item.old)}")
        else:
            lines.append(f"! {change(item.path, item.old, item.new)}")
    lines.extend(f"+ start {placement(p)}" for p in deployment.start)
    lines.extend(f"- replace {instance(i)}" for i in deployment.replace)
    lines.extend(f"- remove {instance(i)}" for i in deployment.remove)
    for failure in deployment.unplaceable:
        # the grouped line, then each node's reason: a PR comment is where to look node by node
        lines.append(f"! {failure.describe()}")
        lines.extend(f"!   {node}: {misfit(why)}" for node, why in failure.reasons)
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
