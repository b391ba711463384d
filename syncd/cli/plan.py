"""``syncd plan``: what would change, where and why; live against the nodes, or offline between
two commits (the preview a CI job posts on a pull request)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syncd.errors import SpecError, SyncdError, UsageError
from syncd.spec.desired import DesiredState

if TYPE_CHECKING:
    from syncd.plan.model import Plan
    from syncd.spec.models import RepoSpec
    from syncd.spec.rendering import SecretDigests

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
@click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The repository (a Git work tree, or a folder inside one, for --rev/--base/--head).",
)
@click.option("--rev", metavar="REV", help="Plan this commit instead of the working tree.")
@click.option("--base", metavar="REV", help="Offline: the commit to compare against.")
@click.option(
    "--head",
    metavar="REV",
    help="Offline: the commit to plan (default HEAD when --base is given).",
)
@click.option(
    "--node",
    "node_ids",
    multiple=True,
    metavar="ID",
    help="Contact only these nodes (repeatable); the others count as unreachable.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for terminals, json (schemas/plan.schema.json), markdown for PR comments.",
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
@click.option(
    "--allow-mass-prune",
    is_flag=True,
    help="Plan even when more than half of all managed instances would be pruned.",
)
@click.option(
    "--secrets-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Live plans: the secrets directory apply uses, so a changed secret shows as a rollout.",
)
@click.option(
    "--age-identity",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Live plans: age identity file that opens secrets/NAME.age in the repository.",
)
def command(
    repo_path: Path,
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
    """
    offline = base is not None or head is not None
    if offline and rev is not None:
        raise UsageError("--rev plans one commit live; --base/--head compare two: pick one")
    if offline and base is None:
        raise UsageError("--head needs --base: the commit the preview compares against")
    if offline and node_ids:
        raise UsageError("--node has no meaning offline: --base/--head contact no node")
    if output_dir is not None and output_format != "markdown":
        raise UsageError("--output-dir writes markdown parts: add --format markdown")
    try:
        if offline:
            assert base is not None
            the_plan = _offline_plan(repo_path, base, head or "HEAD")
        else:
            the_plan = _live_plan(
                repo_path, rev, node_ids, allow_mass_prune, secrets_dir, age_identity
            )
        _print(the_plan, output_format, output_dir, max_chars)
    except SyncdError as error:
        if detailed_exitcode and error.exit_code == EXIT_CHANGES:
            error.exit_code = EXIT_ERROR  # 2 means "changes" here; an error is always 1
        raise
    if detailed_exitcode:
        changed = the_plan.has_changes or any(d.changes for d in the_plan.deployments)
        raise click.exceptions.Exit(EXIT_CHANGES if changed else EXIT_NO_CHANGES)


# --------------------------------------------------------------------------- loading


@contextmanager
def _checkout(repo_path: Path, rev: str) -> Iterator[tuple[Path, str]]:
    """The folder ``repo_path`` as it was at ``rev``, in a temporary directory, and the sha."""
    import git

    from syncd.source.revisions import checkout_revision

    try:
        top = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(
            f"{repo_path} is not inside a Git repository: revisions need one",
            hint="drop --rev/--base/--head to plan the folder as it is",
        ) from None
    try:
        root = Path(top.working_tree_dir or repo_path).resolve()
    finally:
        top.close()
    inside = repo_path.resolve().relative_to(root)
    with tempfile.TemporaryDirectory(prefix="syncd-plan-") as scratch:
        tree = Path(scratch) / "tree"
        sha = checkout_revision(root, rev, tree)
        yield tree / inside, sha


def _load(root: Path, revision: str | None, label: str | None) -> RepoSpec:
    from syncd.spec.repository import load_repository

    try:
        return load_repository(root, revision=revision)
    except SpecError as error:
        if label is not None:
            error.hint = f"revision {label} is invalid: nothing was planned"
        raise


def _render(
    repo: RepoSpec,
    label: str | None,
    environ: Mapping[str, str] | None,
    secrets: SecretDigests | None = None,
) -> DesiredState:
    from syncd.spec.rendering import render_desired

    try:
        return render_desired(repo, environ=environ, secrets=secrets)
    except SpecError as error:
        if label is not None:
            error.hint = f"revision {label} is invalid: nothing was planned"
        raise


def _offline_plan(repo_path: Path, base: str, head: str) -> Plan:
    from syncd.plan import plan_offline

    environ = _KeepEnvReferences()
    base_desired: DesiredState | None = None
    with _checkout(repo_path, base) as (base_root, base_sha):
        if base_root.is_dir():  # else the folder is new since base: everything is created
            base_desired = _render(_load(base_root, base_sha, base), base, environ)
    with _checkout(repo_path, head) as (head_root, head_sha):
        head_desired = _render(_load(head_root, head_sha, head), head, environ)
    return plan_offline(base_desired, head_desired)


def _live_plan(
    repo_path: Path,
    rev: str | None,
    node_ids: tuple[str, ...],
    allow_mass_prune: bool,
    secrets_dir: Path | None,
    age_identity: Path | None,
) -> Plan:
    if rev is not None:
        with _checkout(repo_path, rev) as (root, sha):
            repo = _load(root, sha, rev)
            desired = _render(repo, rev, None, _secrets(root, secrets_dir, age_identity))
    else:
        if not repo_path.is_dir():
            raise UsageError(f"repository path {str(repo_path)!r} is not a directory")
        repo = _load(repo_path, _head_of(repo_path), None)
        desired = _render(repo, None, None, _secrets(repo_path, secrets_dir, age_identity))
    return _observe_and_plan(repo, desired, node_ids, allow_mass_prune)


def _secrets(
    root: Path, secrets_dir: Path | None, age_identity: Path | None
) -> SecretDigests | None:
    """The provider apply uses, so hashes match the running containers' labels."""
    from syncd.spec.secrets import SecretProvider

    return SecretProvider(secrets_dir=secrets_dir, repo_root=root, age_identity=age_identity)


def _head_of(repo_path: Path) -> str | None:
    """The commit checked out in a work tree when the folder has no uncommitted change (the
    plan's title and JSON ``revision``); None otherwise: then it is "the working tree"."""
    import git

    try:
        repo = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        inside = repo_path.resolve().relative_to(Path(repo.working_tree_dir or ".").resolve())
        if repo.is_dirty(untracked_files=True, path=inside.as_posix() or "."):
            return None
        return repo.head.commit.hexsha
    except (ValueError, git.GitCommandError):  # no commit yet, or git cannot tell
        return None
    finally:
        repo.close()


def _observe_and_plan(
    repo: RepoSpec, desired: DesiredState, node_ids: tuple[str, ...], allow_mass_prune: bool
) -> Plan:
    from syncd.nodes.pool import NodePool
    from syncd.plan.planner import plan
    from syncd.state import NodeFacts, ObservedState

    known = {node.id for node in repo.nodes}
    unknown = sorted(set(node_ids) - known)
    if unknown:
        raise UsageError(
            f"unknown node(s) {', '.join(unknown)}: declared are "
            f"{', '.join(sorted(known)) or 'none'}"
        )
    selected = [node for node in repo.nodes if not node_ids or node.id in node_ids]
    pool = NodePool(selected, connect_timeout=3.0)
    try:
        observed = pool.observe()
    finally:
        pool.close()
    if node_ids:
        facts = dict(observed.nodes)
        for node in repo.nodes:
            if node.id not in node_ids:
                facts[node.id] = NodeFacts(node.id, reachable=False, error="not contacted (--node)")
        observed = ObservedState(nodes=facts, instances=observed.instances)
    return plan(desired, observed, allow_mass_prune=allow_mass_prune)


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
