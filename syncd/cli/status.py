"""``syncd status``: what the daemon applied and how every deployment is doing.

Also the status-file options that ``deployment list``, ``node list`` and ``instance list``
share: they read the file the daemon writes after every pass, so they work without any access
to the nodes or to Git.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from syncd.status.model import SyncStatus

DEFAULT_STATUS_FILE = Path("/var/lib/syncd/status.json")
F = TypeVar("F", bound=Callable[..., Any])


def status_options(function: F) -> F:
    """``--status-file FILE`` and ``--config FILE`` (the file the config names as statusFile)."""
    function = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The daemon's config: read the status file it names.",
    )(function)
    function = click.option(
        "--status-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"The daemon's status file (default: $SYNCD_STATUS_FILE, else {DEFAULT_STATUS_FILE}).",
    )(function)
    return function


def status_path(status_file: Path | None, config_path: Path | None) -> Path:
    """Which status file to read: --status-file, then --config's statusFile, then the env."""
    if status_file is not None:
        return status_file
    if config_path is not None:
        from syncd.daemon.config import load_config

        return load_config(config_path).status_file
    from_env = os.environ.get("SYNCD_STATUS_FILE")
    return Path(from_env) if from_env else DEFAULT_STATUS_FILE


def load_status(status_file: Path | None, config_path: Path | None) -> SyncStatus:
    from syncd.status.statusfile import read_status

    return read_status(status_path(status_file, config_path))


def render_text(status: SyncStatus) -> str:
    """A readable summary: the commit, the source, validation errors, then the deployments."""
    from syncd.status.model import format_time
    from syncd.status.tables import deployment_table

    lines = []
    if status.commit:
        lines.append(f"commit:    {status.commit[:12]} {status.commit_subject}".rstrip())
    else:
        lines.append("commit:    none applied yet")
    if status.head_commit and status.head_commit != status.commit:
        lines.append(f"head:      {status.head_commit[:12]} (not applied) {status.head_error}")
    lines.append(f"last pass: {format_time(status.last_pass_at) or 'never'}")
    if status.source_stale:
        lines.append(f"source:    STALE: {status.source_error}")
    if status.validation_errors:
        lines.append(f"{len(status.validation_errors)} validation error(s):")
        lines.extend(f"  {problem}" for problem in status.validation_errors)
    reachable = sum(1 for node in status.nodes if node.reachable)
    lines.append(f"nodes:     {reachable} of {len(status.nodes)} reachable")
    lines.append("")
    lines.append(deployment_table(status.deployments, full=True))
    return "\n".join(lines)


@click.command("status")
@status_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def command(status_file: Path | None, config_path: Path | None, output_format: str) -> None:
    """Show the daemon's last pass: the commit applied, errors, and every deployment.

    Exits 1 when the source is stale, the newest commit was refused, or a deployment is in
    Error or Failed.

    \b
    Examples:
      syncd status --config /etc/syncd/config.yaml
      syncd status --status-file /var/lib/syncd/status.json --format json
    """
    status = load_status(status_file, config_path)
    if output_format == "json":
        click.echo(json.dumps(status.to_json_dict(), indent=2))
    else:
        click.echo(render_text(status))
    failing = (
        status.source_stale
        or status.validation_errors
        or any(d.status in ("Error", "Failed") for d in status.deployments)
    )
    if failing:
        raise click.exceptions.Exit(1)
