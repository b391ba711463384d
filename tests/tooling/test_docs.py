"""The hand-written docs stay true to the CLI and to each other.

- every `syncd ...` command line in them names real commands and real options (parsed by the
  click tree itself, so a renamed option fails here);
- every relative link points at a file that exists, and every #anchor at a heading or an
  explicit `<a id>` of that file.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from toolingkit import PROJECT_ROOT

from syncd.cli.main import ALIASES, cli

HAND_WRITTEN = [
    PROJECT_ROOT / "docs" / name
    for name in ("getting-started.md", "operations.md", "security.md", "troubleshooting.md")
]
GENERATED = [
    PROJECT_ROOT / "docs" / "cli.md",
    *sorted((PROJECT_ROOT / "docs" / "reference").glob("*.md")),
]

# the end of the syncd part of a shell line: pipes, redirections, comments, command lists
SHELL_END = re.compile(r"\s(\||\|\||&&|;|>|2>|#)\s|\)$|\)\s")


def syncd_invocations(text: str) -> list[str]:
    """`syncd ...` command lines inside fenced code blocks and inline code spans."""
    found = []
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    for chunk in [*blocks, *spans]:
        for line in chunk.splitlines():
            line = line.strip().removeprefix("$ ")
            # a command starts a line, or follows `&&`, `|`, `<(`, `$(`; `syncd plan: ...` is output
            starts = r"(?:^|&&\s*|\|\s*|[<$]\()"
            for match in re.finditer(starts + r"syncd ([a-z][\w-]*(?![\w:-]).*)", line):
                rest = match.group(1)
                end = SHELL_END.search(rest)
                found.append(rest[: end.start()] if end else rest)
    return found


def resolve(args: list[str]) -> tuple[str, click.Command, list[str]]:
    """Walk the command tree: (command path, leaf command, its arguments)."""
    command: click.Command = cli
    path = ["syncd"]
    ctx = click.Context(cli, info_name="syncd")
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args[0]
        child = command.get_command(ctx, ALIASES.get(name, name) if command is cli else name)
        assert child is not None, f"`{' '.join(path)} {name}`: no such command"
        path.append(name)
        args = args[1:]
        command = child
        ctx = click.Context(child, parent=ctx, info_name=name)
    return " ".join(path), command, args


@pytest.mark.parametrize("doc", HAND_WRITTEN, ids=lambda path: path.name)
def test_documented_commands_and_options_exist(doc):
    invocations = syncd_invocations(doc.read_text())
    assert invocations, f"{doc.name} shows no syncd command"
    for line in invocations:
        words = [w for w in shlex.split(line.replace("...", "")) if w]
        path, command, args = resolve(words)
        try:
            command.make_context(path, args)
        except click.NoSuchOption as exc:
            raise AssertionError(f"{doc.name}: `syncd {line}`: {exc.format_message()}") from None
        except (click.exceptions.Exit, click.BadParameter, click.BadOptionUsage):
            pass  # --help, a FILE that does not exist here, prose naming an option without its value


def anchors_of(path: Path) -> set[str]:
    """Explicit `<a id>`s and GitHub's heading slugs."""
    text = path.read_text()
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("doc", HAND_WRITTEN + GENERATED, ids=lambda path: path.name)
def test_relative_links_resolve(doc):
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors_of(linked):
            broken.append(f"{target}: no such anchor")
    assert not broken, f"{doc.name}: broken links {broken}"
