"""``syncd apply``: plan against the live nodes, confirm, apply with live progress.

The same pass the daemon runs, once, in the foreground: load, render, observe, plan, show the
plan, ask (on a terminal, unless ``--yes``), apply, and exit 1 when any deployment failed, with
each reason. Killing it at any instant is safe: the next run plans from what the nodes run.
"""

from __future__ import annotations

import logging
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

from syncd.apply.report import (
    DEFAULT_CONCURRENCY,
    DEFAULT_PROGRESS_DEADLINE_S,
    ApplyReport,
    ProgressEvent,
)
from syncd.cli import common
from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.plan.model import DeploymentPlan, Plan
    from syncd.sync import SyncResult

log = logging.getLogger("syncd.cli.apply")

# One parser for durations, the config file's: `syncd apply --progress-deadline 1h30m` works.
parse_duration = common.parse_duration


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
    f"[default: {DEFAULT_PROGRESS_DEADLINE_S / 60:g}m].",
)
@click.option(
    "--concurrency",
    default=None,
    type=click.IntRange(1, 64),
    help=f"Deployments applied at once [default: {DEFAULT_CONCURRENCY}].",
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
    from syncd.sync import Sync, worktree_revision

    settings = common.sync_settings(
        config_file,
        repo_path,
        secrets_dir=secrets_dir,
        age_identity=age_identity,
        allow_mass_prune=allow_mass_prune,
        concurrency=concurrency,
        progress_deadline_s=parse_duration(progress_deadline) if progress_deadline else None,
    )
    if not logging.getLogger().handlers:
        # the progress view and the report say it all; keep Python's last-resort handler from
        # repeating warnings on stderr
        logging.getLogger("syncd").addHandler(logging.NullHandler())
    cancel = threading.Event()
    # the same pass as `syncd plan` and the daemon: --node, else the config's onlyNodes
    with Sync(settings, node_ids=node_ids) as sync, ProgressView() as view:
        try:
            result = sync.run(
                worktree_revision(repo_path.resolve()),
                only=only,
                review=lambda planned: _review(planned, view, yes=yes),
                events=view.update,
                cancel=cancel,
            )
        except KeyboardInterrupt:
            cancel.set()  # rollouts stop between steps; the next run converges from there
            raise
    if result.report is None:
        return  # nothing to do
    print_report(result.report)
    if not result.report.ok:
        raise click.exceptions.Exit(1)


def _review(planned: SyncResult, view: ProgressView, *, yes: bool) -> bool:
    """Show the plan and ask (on a terminal, unless ``--yes``); False when there is nothing
    to do. A refusal aborts the command."""
    the_plan = planned.plan
    assert the_plan is not None  # run() raises the planner's refusal before reviewing
    click.echo(_plan_text(the_plan))
    if not the_plan.has_changes and not any(d.unplaceable for d in the_plan.deployments):
        click.echo("Nothing to do: the nodes run what the repository declares.")
        return False
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "refusing to apply without confirmation: stdin is not a terminal",
                hint="review the plan above, then run again with --yes",
            )
        click.confirm("Apply this plan?", abort=True)
    view.begin([d for d in the_plan.deployments if d.has_changes or d.unplaceable])
    return True


def _plan_text(the_plan: Plan) -> str:
    """The planner's text rendering (shared with ``syncd plan``), coloured on a terminal."""
    from syncd.plan import render

    return render.text(the_plan, color=sys.stdout.isatty())


class ProgressView:
    """Live progress per deployment: a rich table on a terminal, one line per change otherwise
    (CI logs, pipes). It shows nothing until :meth:`begin` (after the plan was shown and
    confirmed) and stops showing on exit."""

    def __init__(self) -> None:
        self._rows: dict[str, ProgressEvent | None] = {}
        self._desired: dict[str, int] = {}
        self._lock = threading.Lock()
        self._console = Console(stderr=False)
        self._live: Live | None = None
        self._last_line: dict[str, str] = {}

    def __enter__(self) -> ProgressView:
        return self

    def begin(self, deployments: Sequence[DeploymentPlan]) -> None:
        """Start showing a row per deployment that changes."""
        with self._lock:
            self._rows = {d.deployment_id: None for d in deployments}
            self._desired = {
                d.deployment_id: d.desired.replicas if d.desired else 0 for d in deployments
            }
            if self._console.is_terminal:
                self._live = Live(self._table(), console=self._console, refresh_per_second=8)
                self._live.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)
            self._live = None

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
