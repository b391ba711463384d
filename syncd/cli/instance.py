"""``syncd instance list`` (alias ``instances``): every running replica and its health."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.definition import AliasedGroup
from syncd.cli.status import load_status, status_options


@click.group("instance", cls=AliasedGroup, aliases={"ls": "list"})
def command() -> None:
    """Instances (containers) of every deployment, as the daemon last observed them.

    \b
    Example:
      syncd instance list --status-file /var/lib/syncd/status.json
    """


@command.command("list")
@status_options
def list_instances(status_file: Path | None, config_path: Path | None) -> None:
    """List instances: INSTANCE ID, URL, STATUS, OWNER, SLUG, LAST HEARTBEAT. Alias: ls.

    \b
    Example:
      syncd instance list --status-file /var/lib/syncd/status.json
    """
    from syncd.status.tables import instance_table

    status = load_status(status_file, config_path)
    click.echo(instance_table(status.deployments, status.nodes))
