"""``syncd deployment`` (aliases ``depl``, ``deployments``): the reference's deployment commands.

``list`` (alias ``ls``) prints the reference's table from the daemon's status file.
"""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.definition import AliasedGroup
from syncd.cli.status import load_status, status_options


@click.group("deployment", cls=AliasedGroup, aliases={"ls": "list"})
def command() -> None:
    """Deployments and their status (Pending, Deploying, OK, Error, Failed).

    \b
    Examples:
      syncd deployment list
      syncd depl ls --full --status-file /var/lib/syncd/status.json
    """


@command.command("list")
@status_options
@click.option("--full", is_flag=True, help="Do not cut DETAILS at 75 characters.")
def list_deployments(status_file: Path | None, config_path: Path | None, full: bool) -> None:
    """List deployments: ID, DEFINITION ID, STATUS, DETAILS. Alias: ls.

    DETAILS is cut at 75 characters unless --full.

    \b
    Examples:
      syncd deployment list --config /etc/syncd/config.yaml
      syncd depl ls --full --status-file /var/lib/syncd/status.json
    """
    from syncd.status.tables import deployment_table

    status = load_status(status_file, config_path)
    click.echo(deployment_table(status.deployments, full=full))
