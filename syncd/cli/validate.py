"""``syncd validate [PATH]...``: check a repository, or some of its files, and print every problem.

A directory is checked whole. A file is checked in the context of the repository it is in (the
nearest folder upward holding ``deployments/``, ``definitions/`` or ``nodes/``, else the top of
its Git work tree): the whole repository is loaded, since cross-file checks need every file, but
only the problems of the given files are reported, plus the cross-file problems a given file
causes in another (see ``_caused_by``). That is what pre-commit and editors need: they pass the
files that changed.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from syncd.cli import common
from syncd.errors import SpecError, SpecProblem, UsageError
from syncd.spec.discovery import FOLDERS

EXIT_VALID = 0
EXIT_INVALID = 1
_REPO_FOLDERS = tuple(FOLDERS)


def _counts(deployments: int, definitions: int, nodes: int) -> dict[str, int]:
    return {"deployments": deployments, "definitions": definitions, "nodes": nodes}


@dataclass
class _Target:
    """One repository to load, and the files of it that were named (empty: report everything)."""

    root: Path
    files: set[str] = field(default_factory=set)  # posix paths relative to ``root``
    whole: bool = False


@dataclass
class _Outcome:
    problems: list[SpecProblem] = field(default_factory=list)
    notes: list[SpecProblem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: _counts(0, 0, 0))
    files_checked: int = 0  # files named on the command line
    elsewhere: int = 0  # problems of files not named, left out


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@common.format_option(
    ["text", "json"], "text: one FILE:LINE:COL: PATH: message line per problem; json: one object."
)
def command(paths: tuple[Path, ...], output_format: str) -> None:
    """Check the repository at PATH, or the files given (default: the current directory).

    Reads deployments/, definitions/ and nodes/, checks every file against its JSON Schema and
    the references between files, and prints every problem found. A FILE is checked within the
    repository it belongs to (found upward: the folder holding deployments/, definitions/ or
    nodes/, else the Git top): only its own problems are printed, plus problems it causes in
    other files (a deployment naming a definition the file declares, a duplicate of its id).
    Problem paths are relative to the repository root. Exit status: 0 valid, 1 invalid,
    2 usage error (e.g. PATH does not exist).

    \b
    Examples:
      syncd validate example-repo
      syncd validate deployments/web.yaml definitions/web.yaml
      syncd validate --format json . | jq '.problems[].message'
    """
    targets = _targets(paths or (Path("."),))
    outcome = _Outcome()
    for target in targets:
        _validate(target, outcome)
    problems, notes, counts = outcome.problems, outcome.notes, outcome.counts

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
        elif outcome.elsewhere:
            checked = outcome.files_checked
            click.echo(
                f"ok: {checked} file{'s' if checked != 1 else ''}; the repository has "
                f"{outcome.elsewhere} more problem{'s' if outcome.elsewhere != 1 else ''} in "
                "other files (run `syncd validate` on its root to see them)"
            )
        else:
            click.echo(
                f"ok: {counts['deployments']} deployments, {counts['definitions']} definitions, "
                f"{counts['nodes']} nodes"
            )
    click.get_current_context().exit(EXIT_INVALID if problems else EXIT_VALID)


# --------------------------------------------------------------------------- which repositories


def _targets(paths: Iterable[Path]) -> list[_Target]:
    """Group the arguments by repository root, in the order first named."""
    targets: dict[Path, _Target] = {}
    for path in paths:
        if not path.exists():
            raise click.BadParameter(f"{str(path)!r} does not exist", param_hint="PATH")
        if path.is_dir():
            target = targets.setdefault(path, _Target(path))
            target.whole = True
            continue
        root = find_repo_root(path)
        if root is None:
            raise click.BadParameter(
                f"{str(path)!r} is in no repository: no folder above it holds deployments/, "
                "definitions/ or nodes/, and it is not in a Git work tree; give the repository "
                "root instead",
                param_hint="PATH",
            )
        relative = Path(os.path.relpath(path.absolute(), root.absolute())).as_posix()
        targets.setdefault(root, _Target(root)).files.add(relative)
    return list(targets.values())


def find_repo_root(file: Path) -> Path | None:
    """The repository ``file`` belongs to: the nearest folder upward that holds deployments/,
    definitions/ or nodes/ (not above the top of its Git work tree), else that top, else None."""
    start = file.absolute().parent
    top = _git_top(start)
    for folder in (start, *start.parents):
        if any((folder / name).is_dir() for name in _REPO_FOLDERS):
            return _relative_if_below_cwd(folder)
        if folder == top:
            break  # beyond the work tree is someone else's folder
    return _relative_if_below_cwd(top) if top is not None else None


def _git_top(folder: Path) -> Path | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(result.stdout.strip()).absolute() if result.returncode == 0 else None


def _relative_if_below_cwd(folder: Path) -> Path:
    # "." rather than /home/me/repo when run from the root, so messages read as they do today.
    try:
        return folder.relative_to(Path.cwd()) if folder != Path.cwd() else Path(".")
    except ValueError:
        return folder


# --------------------------------------------------------------------------- one repository


def _validate(target: _Target, outcome: _Outcome) -> None:
    from syncd.spec.repository import load_repository

    problems: list[SpecProblem] = []
    notes: list[SpecProblem] = []
    try:
        spec = load_repository(target.root)
    except SpecError as error:
        problems = error.problems
    except UsageError as error:
        raise click.UsageError(error.message) from None
    else:
        counts = (len(spec.deployments), len(spec.definitions), len(spec.nodes))
        for key, value in zip(("deployments", "definitions", "nodes"), counts, strict=True):
            outcome.counts[key] += value
        notes = list(spec.notes)
    if not target.whole:
        declared = _declared_ids(target.root, target.files)
        found = len(problems)
        problems = [
            p for p in problems if p.file in target.files or _caused_by(p, target.root, declared)
        ]
        outcome.files_checked += len(target.files)
        outcome.elsewhere += found - len(problems)
        notes = [n for n in notes if n.file in target.files]
    outcome.problems.extend(problems)
    outcome.notes.extend(notes)


def _documents(root: Path, relative: str) -> list[Any]:
    """The YAML documents of one file (empty when it cannot be read or parsed: its own problem
    is reported by the load already)."""
    from syncd.spec.loading import load_yaml

    try:
        return load_yaml((root / relative).read_bytes(), relative)
    except (OSError, SpecError):
        return []


def _kind(data: Any, relative: str) -> str | None:

    declared = data.get("kind")
    return declared if isinstance(declared, str) else FOLDERS.get(relative.split("/", 1)[0])


def _declared_ids(root: Path, files: Iterable[str]) -> dict[str, set[str]]:
    """Kind -> ids the given files declare, valid or not (an invalid definition still explains
    the deployments that name it)."""
    declared: dict[str, set[str]] = {}
    for relative in files:
        for document in _documents(root, relative):
            data = document.data
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                kind = _kind(data, relative)
                if kind is not None:
                    declared.setdefault(kind, set()).add(data["id"])
    return declared


def _caused_by(problem: SpecProblem, root: Path, declared: dict[str, set[str]]) -> bool:
    """Whether a problem in a file that was not given is about an id a given file declares:
    a definitionId naming one of its definitions, or a duplicate of one of its ids."""
    if problem.path not in ("$.definitionId", "$.id"):
        return False
    documents = [d for d in _documents(root, problem.file) if d.start_line <= problem.line]
    if not documents or not isinstance(documents[-1].data, dict):
        return False
    data = documents[-1].data
    if problem.path == "$.definitionId":
        return data.get("definitionId") in declared.get("Definition", set())
    kind = _kind(data, problem.file)
    return kind is not None and data.get("id") in declared.get(kind, set())
