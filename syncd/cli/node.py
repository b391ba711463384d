"""``syncd node list`` (alias ``nodes``): the nodes and when each last answered."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.definition import AliasedGroup
from syncd.cli.status import load_status, status_options


@click.group("node", cls=AliasedGroup, aliases={"ls": "list"})
def command() -> None:
    """Nodes as the daemon last observed them.

    \b
    Example:
      syncd node list --config /etc/syncd/config.yaml
    """


@command.command("list")
@status_options
def list_nodes(status_file: Path | None, config_path: Path | None) -> None:
    """List nodes: NODE ID, URL, LAST HEARTBEAT, REACHABLE, CLUSTER. Alias: ls.

    \b
    Example:
      syncd node list --config /etc/syncd/config.yaml
    """
    from syncd.status.tables import node_table

    status = load_status(status_file, config_path)
    click.echo(node_table(status.nodes))
