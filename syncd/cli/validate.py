"""``syncd validate [PATH]``: check a repository and print every problem, located to the line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from syncd.errors import SpecError, SpecProblem, UsageError

EXIT_VALID = 0
EXIT_INVALID = 1


def _counts(deployments: int, definitions: int, nodes: int) -> dict[str, int]:
    return {"deployments": deployments, "definitions": definitions, "nodes": nodes}


@click.command("validate")
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one FILE:LINE:COL: PATH: message line per problem; json: one object.",
)
def command(path: Path, output_format: str) -> None:
    """Check the repository at PATH (default: the current directory).

    Reads deployments/, definitions/ and nodes/, checks every file against its JSON Schema and
    the references between files, and prints every problem found. Exit status: 0 valid,
    1 invalid, 2 usage error (e.g. PATH does not exist).

    \b
    Examples:
      syncd validate example-repo
      syncd validate --format json . | jq '.problems[].message'
    """
    if not path.exists():
        raise click.BadParameter(f"{str(path)!r} does not exist", param_hint="PATH")
    if not path.is_dir():
        raise click.BadParameter(
            f"{str(path)!r} is not a directory: give the repository root", param_hint="PATH"
        )
    from syncd.spec.repository import load_repository

    problems: list[SpecProblem] = []
    notes: list[SpecProblem] = []
    counts = _counts(0, 0, 0)
    try:
        spec = load_repository(path)
    except SpecError as error:
        problems = error.problems
    except UsageError as error:
        raise click.UsageError(error.message) from None
    else:
        counts = _counts(len(spec.deployments), len(spec.definitions), len(spec.nodes))
        notes = list(spec.notes)

    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not problems,
                    "problems": [problem.as_dict() for problem in problems],
                    "notes": [note.as_dict() for note in notes],
                    "counts": counts,
                },
                indent=2,
            )
        )
    else:
        for problem in problems:
            click.echo(str(problem))
        for note in notes:
            click.echo(f"{note.file}:{note.line}:{note.column}: {note.path}: note: {note.message}")
        if problems:
            files = len({problem.file for problem in problems})
            click.echo(
                f"invalid: {len(problems)} problem{'s' if len(problems) != 1 else ''} "
                f"in {files} file{'s' if files != 1 else ''}"
            )
        else:
            click.echo(
                f"ok: {counts['deployments']} deployments, {counts['definitions']} definitions, "
                f"{counts['nodes']} nodes"
            )
    click.get_current_context().exit(EXIT_INVALID if problems else EXIT_VALID)
