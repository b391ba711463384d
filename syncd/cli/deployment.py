"""``syncd deployment`` (aliases ``depl``, ``deployments``): the reference's deployment commands.

``list`` (alias ``ls``) prints the reference's table from the daemon's status file.
``save`` (alias ``s``) and ``remove`` (alias ``rm``) commit the change to the repository, or go
through a daemon's Deploy Svc API with ``--server``; ``list --server`` reads that API too.
"""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.definition import (
    AliasedGroup,
    push_option,
    repo_option,
    server_options,
    token_file_option,
)
from syncd.cli.status import load_status, status_options


@click.group("deployment", cls=AliasedGroup, aliases={"ls": "list", "s": "save", "rm": "remove"})
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
@server_options
@token_file_option
def list_deployments(
    status_file: Path | None,
    config_path: Path | None,
    full: bool,
    server: str | None,
    token_file: Path | None,
) -> None:
    """List deployments: ID, DEFINITION ID, STATUS, DETAILS. Alias: ls.

    DETAILS is cut at 75 characters unless --full.

    \b
    Examples:
      syncd deployment list --config /etc/syncd/config.yaml
      syncd depl ls --full --status-file /var/lib/syncd/status.json
    """
    from syncd.status.tables import deployment_table

    if server:  # the Deploy Svc API's listing: the same table
        from syncd.cli.definition import api_client

        deployments = api_client(server, token_file).list_deployments()
        click.echo(deployment_table(deployments, full=full))
        return
    status = load_status(status_file, config_path)
    click.echo(deployment_table(status.deployments, full=full))


@command.command("save")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@repo_option
@push_option
@server_options
@token_file_option
def save(file: Path, repo: Path, push: bool, server: str | None, token_file: Path | None) -> None:
    """Save the deployment in FILE (YAML or JSON): one commit of deployments/<id>.yaml in the
    repository (validated with the whole repository first), or through a daemon's API with
    --server. Alias: s.

    \b
    Examples:
      syncd deployment save ./depl_web.yaml
      syncd depl s depl_web.json --server http://127.0.0.1:9400 --token-file ~/.syncd-token
    """
    from syncd.cli.definition import save_deployment

    click.echo(save_deployment(file, repo, push, server, token_file))


@command.command("remove")
@click.argument("deployment_id", metavar="ID")
@repo_option
@push_option
@server_options
@token_file_option
def remove(
    deployment_id: str, repo: Path, push: bool, server: str | None, token_file: Path | None
) -> None:
    """Remove the deployment ID: one commit removing its file; the daemon then prunes its
    containers. Through a daemon's API with --server. Alias: rm.

    \b
    Examples:
      syncd deployment remove depl_web
      syncd depl rm depl_web --server http://127.0.0.1:9400 --token-file ~/.syncd-token
    """
    from syncd.cli.definition import remove_deployment

    click.echo(remove_deployment(deployment_id, repo, push, server, token_file))
