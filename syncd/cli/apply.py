"""``syncd apply``: plan against the live nodes, confirm, apply with live progress.

The same pass the daemon runs, once, in the foreground: load, render, observe, plan, show the
plan, ask (on a terminal, unless ``--yes``), apply, and exit 1 when any deployment failed, with
each reason. Killing it at any instant is safe: the next run plans from what the nodes run.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from syncd.apply.report import ApplyReport, ProgressEvent
from syncd.cli import common
from syncd.errors import SourceError, UsageError

if TYPE_CHECKING:
    from syncd.plan.model import DeploymentPlan, Plan

log = logging.getLogger("syncd.cli.apply")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``10m``, ``90s``, ``1.5h``, ``500ms`` or plain seconds, as seconds."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(
            f"invalid duration {text!r}", hint="write a positive number with s, m or h, e.g. 10m"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def _commit_of(repo_root: Path) -> str:
    """The checkout's HEAD, written into container labels; "uncommitted" outside Git."""
    if not (repo_root / ".git").exists():
        return "uncommitted"
    try:
        from syncd.source.revisions import resolve_revision

        return resolve_revision(repo_root, "HEAD")
    except SourceError:
        return "uncommitted"


@click.command("apply")
@common.repo_option("The repository checkout to apply.")
@common.config_option(
    "A daemon config file: its secrets, extra nodes, onlyNodes, concurrency and progress "
    "deadline apply unless given here."
)
@click.option(
    "--yes", "-y", is_flag=True, help="Apply without asking (needed when not on a terminal)."
)
@click.option("--only", "only", metavar="DEPLOYMENT_ID", help="Apply this deployment only.")
@common.node_option()
@common.secrets_options(
    "Directory with one file per secret (chmod 700, files chmod 600).",
    "age identity file that opens secrets/NAME.age in the repository.",
)
@common.allow_mass_prune_option(
    "Allow removing more than half of all managed instances in one pass."
)
@click.option(
    "--progress-deadline",
    default=None,
    help="How long a new instance may take to become healthy before its rollout is reverted "
    "[default: 10m].",
)
@click.option(
    "--concurrency",
    default=None,
    type=click.IntRange(1, 64),
    help="Deployments applied at once [default: 4].",
)
def command(
    repo_path: Path,
    config_file: Path | None,
    yes: bool,
    only: str | None,
    node_ids: tuple[str, ...],
    secrets_dir: Path | None,
    age_identity: Path | None,
    allow_mass_prune: bool,
    progress_deadline: str | None,
    concurrency: int | None,
) -> None:
    """Make the nodes run what the repository declares.

    \b
    Examples:
      syncd apply --repo example-repo
      syncd apply --repo . --yes --only depl_webapp_prod --secrets-dir /etc/syncd/secrets
    """
    from syncd.apply.executor import apply_plan
    from syncd.apply.report import ApplyOptions
    from syncd.plan.planner import plan as make_plan

    deadline_s = parse_duration(progress_deadline) if progress_deadline else None
    settings = common.live_settings(
        config_file,
        secrets_dir=secrets_dir,
        age_identity=age_identity,
        allow_mass_prune=allow_mass_prune,
    )
    if not logging.getLogger().handlers:
        # the progress view and the report say it all; keep Python's last-resort handler from
        # repeating warnings on stderr
        logging.getLogger("syncd").addHandler(logging.NullHandler())
    repo_root = repo_path.resolve()
    live = common.load_live(repo_root, settings)
    desired, secrets = live.desired, live.secrets
    if only is not None and desired.deployment(only) is None:
        raise UsageError(
            f"no deployment {only!r} in {repo_path}", hint="see syncd plan for the ids"
        )

    # the same nodes as `syncd plan --config` and the daemon: --node, else the config's onlyNodes
    selection = common.NodeSelection.of(desired.nodes, node_ids, settings.only_nodes)
    pool = selection.open_pool()
    try:
        observed = selection.observe(pool)
        the_plan = make_plan(
            desired,
            observed,
            allow_mass_prune=settings.allow_mass_prune,
            owner=settings.owner_for(repo_root),
        )
        if only is not None:
            the_plan = dataclasses.replace(
                the_plan,
                deployments=tuple(d for d in the_plan.deployments if d.deployment_id == only),
            )
        click.echo(_plan_text(the_plan))
        if not the_plan.has_changes and not any(d.unplaceable for d in the_plan.deployments):
            click.echo("Nothing to do: the nodes run what the repository declares.")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "refusing to apply without confirmation: stdin is not a terminal",
                    hint="review the plan above, then run again with --yes",
                )
            click.confirm("Apply this plan?", abort=True)
        options = ApplyOptions(
            concurrency=concurrency or settings.concurrency or 4,
            progress_deadline_s=deadline_s or settings.progress_deadline_s or 600.0,
        )
        cancel = threading.Event()
        changing = [d for d in the_plan.deployments if d.has_changes or d.unplaceable]
        with ProgressView(changing) as view:
            try:
                report = apply_plan(
                    the_plan,
                    pool,
                    repo_root=repo_root,
                    secrets=secrets,
                    commit=_commit_of(repo_root),
                    options=options,
                    events=view.update,
                    cancel=cancel,
                )
            except KeyboardInterrupt:
                cancel.set()
                raise
    finally:
        close = getattr(pool, "close", None)
        if close is not None:
            close()
    print_report(report)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _plan_text(the_plan: Plan) -> str:
    """The planner's text rendering (shared with ``syncd plan``), coloured on a terminal."""
    from syncd.plan import render

    return render.text(the_plan, color=sys.stdout.isatty())


class ProgressView:
    """Live progress per deployment: a rich table on a terminal, one line per change otherwise
    (CI logs, pipes)."""

    def __init__(self, deployments: Sequence[DeploymentPlan]) -> None:
        self._rows: dict[str, ProgressEvent | None] = {d.deployment_id: None for d in deployments}
        self._desired = {
            d.deployment_id: d.desired.replicas if d.desired else 0 for d in deployments
        }
        self._lock = threading.Lock()
        self._console = Console(stderr=False)
        self._live: Live | None = None
        self._last_line: dict[str, str] = {}

    def __enter__(self) -> ProgressView:
        if self._console.is_terminal:
            self._live = Live(self._table(), console=self._console, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)

    def update(self, event: ProgressEvent) -> None:
        with self._lock:
            self._rows[event.deployment_id] = event
            if self._live is not None:
                self._live.update(self._table())
                return
            line = (
                f"{event.deployment_id}: {event.phase} "
                f"updated {event.updated} healthy {event.healthy} total {event.total}"
                f"/{event.desired}: {event.message}"
            )
            if self._last_line.get(event.deployment_id) != line:
                self._last_line[event.deployment_id] = line
                click.echo(line)

    def _table(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("DEPLOYMENT", "PHASE", "UPDATED", "HEALTHY", "TOTAL", "DETAILS"):
            table.add_column(column)
        for deployment_id, event in self._rows.items():
            desired = str(self._desired.get(deployment_id, 0))
            if event is None:
                table.add_row(deployment_id, "pending", "-", "-", "-", "")
                continue
            table.add_row(
                deployment_id,
                event.phase,
                f"{event.updated}/{desired}",
                f"{event.healthy}/{desired}",
                str(event.total),
                escape(event.message),
            )
        return table


def print_report(report: ApplyReport) -> None:
    """One line per deployment that did something; every failure with its reason."""
    for result in report.results:
        if result.outcome == "noop":
            continue
        counts = f"started {result.started}, removed {result.removed}"
        if result.outcome == "ok":
            click.echo(f"ok      {result.deployment_id} ({counts})")
            continue
        extra = ", reverted" if result.reverted else ""
        extra += ", will retry" if result.retryable else ""
        click.echo(
            f"{result.outcome:<7} {result.deployment_id}: {result.reason} ({counts}{extra})",
            err=True,
        )
    failures = report.failures
    if failures:
        click.echo(f"{len(failures)} deployment(s) not applied", err=True)
