"""``syncd definition save|list|remove``: definitions in a local Git checkout, one commit a change.

Also the pieces ``syncd deployment save|remove`` shares: reading a YAML or JSON input file with
its problems located to the line, the editor of a local checkout (validate the whole repository
with the change applied, write, commit as the Git user, push when the branch tracks origin), a
command group with aliases, and the reference's tables (columns padded by 3 spaces).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import git

from syncd.cli.api_client import ApiClient
from syncd.errors import SpecError, UsageError
from syncd.source.editing import Author, EditResult, Kind, RepoEditor, read_documents
from syncd.source.gitcommand import git_message, run_git
from syncd.spec.loading import load_yaml
from syncd.spec.schemas import check
from syncd.status.tables import render_table


class AliasedGroup(click.Group):
    """A group whose commands also answer to aliases (``save``/``s``, ``list``/``ls``)."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = aliases or {}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        _, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else None), command, rest


# --------------------------------------------------------------------------- input files


def read_input_file(path: Path, kind: Kind) -> dict[str, Any]:
    """One ``kind`` from a YAML or JSON file (JSON is YAML), schema-checked with the problems
    located to the file's own lines. Raises SpecError or UsageError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    documents = load_yaml(data, str(path))
    if len(documents) != 1:
        raise UsageError(f"{path} holds {len(documents)} documents: give one {kind.lower()} a file")
    document = documents[0]
    if not isinstance(document.data, dict):
        raise SpecError([document.problem((), f"expected a mapping (a {kind})")])
    declared = document.data.get("kind", kind)
    if declared != kind:
        raise SpecError([document.problem(("kind",), f"this is a {declared}, not a {kind}")])
    problems = check(document, kind.lower())
    if problems:
        raise SpecError(problems)
    return dict(document.data)


# --------------------------------------------------------------------------- a local checkout


def _git(cwd: Path, *args: str) -> str | None:
    try:
        return run_git(cwd, args)
    except git.GitCommandError:
        return None


def git_author(checkout: Path) -> Author:
    """Who commits: git's own author identity for the checkout (user.name, user.email, env)."""
    ident = _git(checkout, "var", "GIT_AUTHOR_IDENT")
    if not ident or "<" not in ident:
        raise UsageError(
            "git does not know who you are, so syncd cannot commit",
            hint='run `git config user.name "Your Name"` and `git config user.email you@example.com`',
        )
    name, _, rest = ident.partition("<")
    return Author(name.strip(), rest.partition(">")[0].strip())


def local_editor(repo: Path, push: bool) -> tuple[RepoEditor, str | None]:
    """An editor of the Git checkout holding ``repo``, and where it pushes (None: commit only).

    Pushes only when asked and the branch tracks the same branch on ``origin``."""
    if not repo.is_dir():
        raise UsageError(
            f"{str(repo)!r} is not a directory", hint="give the repository with --repo"
        )
    try:
        top_text = run_git(repo, ["rev-parse", "--show-toplevel"])
    except git.GitCommandError as exc:
        raise UsageError(
            f"{repo} is not inside a Git work tree: {git_message(exc)}",
            hint="syncd records every change as a commit; run `git init` or clone the repository",
        ) from exc
    top = Path(top_text)
    subdir = Path(repo).resolve().relative_to(top.resolve()).as_posix()
    branch = _git(top, "symbolic-ref", "--quiet", "--short", "HEAD")
    if not branch:
        raise UsageError(
            f"{top} is not on a branch (detached HEAD)",
            hint="check out the branch to commit to, e.g. `git checkout main`",
        )
    upstream = _git(top, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}")
    pushes = push and upstream == f"origin/{branch}"
    editor = RepoEditor(top, branch, subdir=subdir, push=pushes)
    return editor, (upstream if pushes else None)


def describe(kind: Kind, verb: str, result: EditResult, pushed_to: str | None) -> str:
    """One line about what an edit did."""
    if not result.changed:
        return f"{kind.lower()} {result.id} unchanged: {result.path} already says this"
    where = f"pushed to {pushed_to}" if pushed_to else "not pushed"
    return f"{verb} {kind.lower()} {result.id} ({result.path}): commit {result.sha[:12]}, {where}"


repo_option = click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="The repository (a Git checkout, or a directory inside one).",
)
push_option = click.option(
    "--push/--no-push",
    default=True,
    show_default=True,
    help="Push the commit when the branch tracks the same branch on origin.",
)


# --------------------------------------------------------------------------- commands


@click.group(
    "definition",
    cls=AliasedGroup,
    aliases={"s": "save", "ls": "list", "rm": "remove"},
)
def command() -> None:
    """Save, list and remove definitions (what a deployment runs) in the repository.

    Every change is one Git commit on the current branch, made only when the whole repository
    still validates with it; it is pushed when the branch tracks origin.

    \b
    Examples:
      syncd definition save definitions/def_web.yaml
      syncd definition list --repo example-repo
      syncd definition rm def_old
    """


@command.command("save")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@repo_option
@push_option
def save(file: Path, repo: Path, push: bool) -> None:
    """Save the definition in FILE (YAML or JSON) as definitions/<id>.yaml, or over the file
    that defines that id already. Alias: s.

    \b
    Example:
      syncd definition save ./def_web.yaml --repo deployments-repo
    """
    data = read_input_file(file, "Definition")
    editor, pushed_to = local_editor(repo, push)
    result = editor.save("Definition", data, git_author(editor.checkout_dir), source_name=str(file))
    click.echo(describe("Definition", "saved", result, pushed_to))


@command.command("list")
@repo_option
def list_definitions(repo: Path) -> None:
    """List the definitions of the repository: ID, IMAGE NAME, REPO URL. Alias: ls.

    \b
    Example:
      syncd definition list --repo example-repo
    """
    if not repo.is_dir():
        raise UsageError(
            f"{str(repo)!r} is not a directory", hint="give the repository with --repo"
        )
    rows = []
    for data in read_documents(repo, "Definition"):
        image = data.get("image")
        source = data.get("repository")
        image = image if isinstance(image, dict) else {}
        source = source if isinstance(source, dict) else {}
        rows.append([str(data["id"]), str(image.get("name", "")), str(source.get("url", ""))])
    click.echo(render_table(["ID", "IMAGE NAME", "REPO URL"], rows))


@command.command("remove")
@click.argument("definition_id", metavar="ID")
@repo_option
@push_option
def remove(definition_id: str, repo: Path, push: bool) -> None:
    """Remove the definition ID (refused while a deployment uses it). Alias: rm.

    \b
    Example:
      syncd definition remove def_old --no-push
    """
    editor, pushed_to = local_editor(repo, push)
    result = editor.remove("Definition", definition_id, git_author(editor.checkout_dir))
    click.echo(describe("Definition", "removed", result, pushed_to))


# --------------------------------------------------------------------------- deployments


server_options = click.option(
    "--server",
    metavar="URL",
    help="Go through a daemon's Deploy Svc API (e.g. http://127.0.0.1:9400) instead of a "
    "local checkout.",
)
token_file_option = click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the API token (a bare token, or a NAME TOKEN line); with --server.",
)


def api_client(server: str, token_file: Path | None) -> ApiClient:
    """The client for ``--server``; ``--token-file`` is required with it."""
    if token_file is None:
        raise UsageError("--server needs --token-file", hint="give the file holding your API token")
    return ApiClient.from_token_file(server, token_file)


def save_deployment(
    file: Path, repo: Path, push: bool, server: str | None, token_file: Path | None
) -> str:
    """``syncd deployment save FILE``: through the API with ``server``, else into ``repo``.
    Returns the line to print."""
    data = read_input_file(file, "Deployment")
    if server:
        api_client(server, token_file).save_deployment(data)
        shown = data.get("id") or "(id generated by the daemon)"
        return f"saved deployment {shown} through {server}: the daemon commits and applies it"
    editor, pushed_to = local_editor(repo, push)
    result = editor.save("Deployment", data, git_author(editor.checkout_dir), source_name=str(file))
    return describe("Deployment", "saved", result, pushed_to)


def remove_deployment(
    deployment_id: str, repo: Path, push: bool, server: str | None, token_file: Path | None
) -> str:
    """``syncd deployment remove ID``: through the API with ``server``, else in ``repo``."""
    if server:
        api_client(server, token_file).remove_deployment(deployment_id)
        return f"removed deployment {deployment_id} through {server}: the daemon prunes it"
    editor, pushed_to = local_editor(repo, push)
    result = editor.remove("Deployment", deployment_id, git_author(editor.checkout_dir))
    return describe("Deployment", "removed", result, pushed_to)
