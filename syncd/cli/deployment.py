"""``syncd deployment`` (aliases ``depl``, ``deployments``): the reference's deployment commands.

``list`` (alias ``ls``) prints the reference's table from the daemon's status file.
``save`` (alias ``s``) and ``remove`` (alias ``rm``) commit the change to the repository, or go
through a daemon's Deploy Svc API with ``--server``; ``list --server`` reads that API too.
``history ID`` prints the rollouts the daemon recorded (its state dir, or ``--server``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from syncd.cli.definition import (
    AliasedGroup,
    push_option,
    repo_option,
    server_options,
    token_file_option,
)
from syncd.cli.status import load_status, status_options


@click.group(
    "deployment",
    cls=AliasedGroup,
    aliases={"ls": "list", "s": "save", "rm": "remove", "hist": "history"},
)
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


@command.command("history")
@click.argument("deployment_id", metavar="ID")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The daemon's config: read the history in the stateDir it names.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The daemon's state directory (instead of --config).",
)
@click.option("--full", is_flag=True, help="Do not cut REASON at 75 characters.")
@click.option("--json", "as_json", is_flag=True, help="The records as JSON, newest first.")
@server_options
@token_file_option
def history(
    deployment_id: str,
    config_path: Path | None,
    state_dir: Path | None,
    full: bool,
    as_json: bool,
    server: str | None,
    token_file: Path | None,
) -> None:
    """The last rollouts of deployment ID, newest first: FINISHED, OUTCOME (succeeded, reverted,
    failed, cancelled, superseded), CHANGE, FROM and TO (spec hash @ commit), REASON. Read from
    the daemon's state dir, or through its API with --server. Alias: hist.

    \b
    Examples:
      syncd deployment history depl_web --config /etc/syncd/config.yaml
      syncd depl hist depl_web --server http://127.0.0.1:9400 --token-file ~/.syncd-token
    """
    if server:
        from syncd.cli.definition import api_client

        answer = api_client(server, token_file).call(
            "POST", "/deploy-svc/rollouts", {"deploymentId": deployment_id}
        )
        records = [r for r in answer.get("rollouts") or [] if isinstance(r, dict)]
    else:
        from syncd.daemon.history import HISTORY_FILE, RolloutHistory, records_json

        directory = _state_dir(config_path, state_dir)
        records = records_json(RolloutHistory(directory / HISTORY_FILE).of(deployment_id))
    if as_json:
        click.echo(json.dumps(records, indent=1))
    elif not records:
        click.echo(f"no rollout of {deployment_id} recorded yet")
    else:
        click.echo(history_table(records, full=full))


def _state_dir(config_path: Path | None, state_dir: Path | None) -> Path:
    from syncd.errors import UsageError

    if state_dir is not None:
        return state_dir
    if config_path is None:
        raise UsageError(
            "say where the daemon keeps its state",
            hint="give --config (the daemon's config), --state-dir, or --server",
        )
    from syncd.daemon.config import load_config

    return load_config(config_path).state_dir


def history_table(records: Iterable[Mapping[str, Any]], *, full: bool = False) -> str:
    """``syncd deployment history``: one row a rollout record (``syncd.daemon.history``)."""
    from syncd.status.tables import cut_details, render_table

    rows = []
    for record in records:
        before, after = record.get("from") or {}, record.get("to") or {}
        finished = record.get("finishedAt")
        rows.append(
            (
                datetime.fromtimestamp(finished, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                if isinstance(finished, int | float)
                else "",
                str(record.get("outcome", "")),
                str(record.get("summary", "")),
                _version(before),
                _version(after) if after.get("specHash") else "removed",
                cut_details(str(record.get("reason") or ""), full),
            )
        )
    return render_table(("FINISHED", "OUTCOME", "CHANGE", "FROM", "TO", "REASON"), rows)


def _version(side: Mapping[str, Any]) -> str:
    spec_hash, commit = side.get("specHash"), side.get("commit")
    if not spec_hash:
        return "-"
    return f"{str(spec_hash)[:12]} @ {str(commit or '')[:12]}"
