"""``syncd plan``: what would change, where and why; live against the nodes, or offline between
two commits (the preview a CI job posts on a pull request)."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syncd.cli import common
from syncd.errors import SyncdError, UsageError

if TYPE_CHECKING:
    from syncd.plan.model import Plan
    from syncd.sync import LoadedRevision, SyncSettings

EXIT_NO_CHANGES = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
PART_SEPARATOR = "<!-- syncd-plan-part -->"


class _KeepEnvReferences(Mapping[str, str]):
    """An environment in which every ``{{env:NAME}}`` stays as written.

    Offline plans run in CI, not on the control host: the daemon's environment is not there, and
    a preview should read the same wherever it runs. Base and head are rendered alike, so only
    real changes show.
    """

    def __getitem__(self, name: str) -> str:
        return "{{env:" + name + "}}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@click.command("plan")
@common.repo_option(
    "The repository (a Git work tree, or a folder inside one, for --rev/--base/--head)."
)
@common.config_option(
    "Live plans: a daemon config file; its secrets, extra nodes, onlyNodes and allowMassPrune "
    "apply unless given here, so the plan matches what the daemon would do."
)
@click.option("--rev", metavar="REV", help="Plan this commit instead of the working tree.")
@click.option("--base", metavar="REV", help="Offline: the commit to compare against.")
@click.option(
    "--head",
    metavar="REV",
    help="Offline: the commit to plan (default HEAD when --base is given).",
)
@common.node_option()
@common.format_option(
    ["text", "json", "markdown"],
    "text for terminals, json (schemas/plan.schema.json), markdown for PR comments.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="markdown: write each part to DIR/plan-N.md instead of printing them.",
)
@click.option(
    "--max-chars",
    type=click.IntRange(1000, None),
    default=65000,
    show_default=True,
    help="markdown: the most characters in one part (GitHub comments hold 65,536).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when something does, 1 on error.",
)
@common.allow_mass_prune_option(
    "Plan even when more than half of all managed instances would be pruned."
)
@common.secrets_options(
    "Live plans: the secrets directory apply uses, so a changed secret shows as a rollout.",
    "Live plans: age identity file that opens secrets/NAME.age in the repository.",
)
def command(
    repo_path: Path,
    config_file: Path | None,
    rev: str | None,
    base: str | None,
    head: str | None,
    node_ids: tuple[str, ...],
    output_format: str,
    output_dir: Path | None,
    max_chars: int,
    detailed_exitcode: bool,
    allow_mass_prune: bool,
    secrets_dir: Path | None,
    age_identity: Path | None,
) -> None:
    """Show what syncd would change: nothing is touched.

    Live (default): the repository (or commit REV) against what its nodes run now. Offline
    (--base/--head): desired state at one commit against another; no node is contacted.
    An invalid revision plans nothing and prints its validation errors (exit 1).

    \b
    Examples:
      syncd plan --repo example-repo
      syncd plan --repo . --base origin/main --head HEAD --format markdown
      syncd plan --repo . --rev v1.2.0 --node node-a --detailed-exitcode
      syncd plan --repo . --config /etc/syncd/config.yaml
    """
    offline = base is not None or head is not None
    if offline and rev is not None:
        raise UsageError("--rev plans one commit live; --base/--head compare two: pick one")
    if offline and base is None:
        raise UsageError("--head needs --base: the commit the preview compares against")
    if offline and node_ids:
        raise UsageError("--node has no meaning offline: --base/--head contact no node")
    if offline and config_file is not None:
        raise UsageError(
            "--config is for live plans: --base/--head contact no node and read no secret"
        )
    if output_dir is not None and output_format != "markdown":
        raise UsageError("--output-dir writes markdown parts: add --format markdown")
    try:
        if offline:
            assert base is not None
            the_plan = _offline_plan(repo_path, base, head or "HEAD")
        else:
            settings = common.sync_settings(
                config_file,
                repo_path,
                secrets_dir=secrets_dir,
                age_identity=age_identity,
                allow_mass_prune=allow_mass_prune,
            )
            the_plan = _live_plan(repo_path, rev, node_ids, settings)
        _print(the_plan, output_format, output_dir, max_chars)
    except SyncdError as error:
        if detailed_exitcode and error.exit_code == EXIT_CHANGES:
            error.exit_code = EXIT_ERROR  # 2 means "changes" here; an error is always 1
        raise
    if detailed_exitcode:
        changed = the_plan.has_changes or any(d.changes for d in the_plan.deployments)
        raise click.exceptions.Exit(EXIT_CHANGES if changed else EXIT_NO_CHANGES)


# --------------------------------------------------------------------------- planning


def _invalid(label: str | None) -> str | None:
    return None if label is None else f"revision {label} is invalid: nothing was planned"


def _offline_plan(repo_path: Path, base: str, head: str) -> Plan:
    """Desired state at ``head`` against ``base``: no node, no secret, the same load step."""
    from syncd.plan.offline import plan_offline
    from syncd.sync.preview import load_base_and_head

    base_desired, head_desired = load_base_and_head(
        repo_path,
        base,
        head,
        environ=_KeepEnvReferences(),
        invalid_hint={base: _invalid(base), head: _invalid(head)},
    )
    return plan_offline(base_desired, head_desired)


def _live_plan(
    repo_path: Path, rev: str | None, node_ids: tuple[str, ...], settings: SyncSettings
) -> Plan:
    """The pass `syncd apply` and the daemon run, stopped before applying."""
    from syncd.sync import Sync, checked_out, worktree_revision

    with Sync(settings, node_ids=node_ids) as sync:
        if rev is not None:
            with checked_out(repo_path, rev) as revision:
                loaded = sync.load(revision, invalid_hint=_invalid(rev))
                unreadable = _unreadable_secrets(loaded)  # while secrets/*.age are checked out
        else:
            loaded = sync.load(worktree_revision(repo_path))
            unreadable = _unreadable_secrets(loaded)
        result = sync.run(loaded, dry_run=True)
    assert result.plan is not None  # run() raises the planner's refusal
    if unreadable is None:
        return result.plan
    return dataclasses.replace(result.plan, warnings=(*result.plan.warnings, unreadable))


def _unreadable_secrets(loaded: LoadedRevision) -> str | None:
    """A warning when a deployment uses a secret this plan cannot read: its spec hash then
    lacks the secret's digest, so the plan cannot tell a changed secret from an unchanged one
    (and shows a rollout where apply, which reads it, may have none)."""
    from syncd.spec.templating import secret_names

    secrets = loaded.secrets
    users: dict[str, set[str]] = {}
    for deployment in loaded.desired.deployments:
        for _, value in deployment.spec.env:
            for name in secret_names(value):
                users.setdefault(name, set()).add(deployment.id)
    missing = sorted(name for name in users if secrets is None or secrets.digest(name) is None)
    if not missing:
        return None
    used_by = sorted({d for name in missing for d in users[name]})
    return (
        f"cannot read secret(s) {', '.join(missing)} (used by {', '.join(used_by)}): the plan "
        "cannot tell whether a secret changed, so these deployments may show a rollout that "
        "apply would not do; give the plan the secrets with --config FILE (the daemon's "
        "config) or --secrets-dir DIR / --age-identity FILE"
    )


# --------------------------------------------------------------------------- output


def _print(the_plan: Plan, output_format: str, output_dir: Path | None, max_chars: int) -> None:
    from syncd.plan import render

    if output_format == "json":
        click.echo(render.json(the_plan), nl=False)
    elif output_format == "markdown":
        parts = render.markdown(the_plan, max_chars=max_chars)
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
            for stale in output_dir.glob("plan-*.md"):
                stale.unlink()
            for number, part in enumerate(parts, start=1):
                (output_dir / f"plan-{number}.md").write_text(part, encoding="utf-8")
            click.echo(f"wrote {len(parts)} part(s) to {output_dir}", err=True)
        else:
            click.echo(f"\n{PART_SEPARATOR}\n".join(parts), nl=False)
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        click.echo(render.text(the_plan, color=color), nl=False)
