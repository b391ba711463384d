"""The generated references (scripts/gen-docs.py) are committed, fresh and complete."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import click
import pytest
from toolingkit import PROJECT_ROOT, run

import syncd.errors
from syncd.cli.main import cli

SCRIPT = PROJECT_ROOT / "scripts" / "gen-docs.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_generator()


@pytest.fixture(scope="module")
def generated(generator):
    return {
        path.relative_to(PROJECT_ROOT).as_posix(): text
        for path, text in generator.generate().items()
    }


def test_committed_docs_are_up_to_date():
    result = run([str(PROJECT_ROOT / ".venv/bin/python"), str(SCRIPT), "--check"], cwd=PROJECT_ROOT)
    assert result.returncode == 0, (
        "generated docs are stale; run `.venv/bin/python scripts/gen-docs.py` and commit:\n"
        + result.stdout
        + result.stderr
    )


def test_check_mode_reports_a_stale_file_and_writes_nothing(generator, tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    shutil.copytree(PROJECT_ROOT / "docs", docs)
    stale = docs / "cli.md"
    stale.write_text(stale.read_text().replace("## Exit codes", "## Exit codez"))
    monkeypatch.setattr(generator, "DOCS_DIR", docs)
    monkeypatch.setattr(generator, "PROJECT_ROOT", tmp_path)

    assert generator.main(["--check"]) == 1
    assert "## Exit codez" in stale.read_text()  # --check never writes

    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


def property_paths(node, prefix=""):
    """Every property name in a schema, with its dotted path, through items and combinators."""
    if not isinstance(node, dict):
        return
    for name, child in node.get("properties", {}).items():
        yield f"{prefix}{name}", name, child
        yield from property_paths(child, f"{prefix}{name}.")
    for keyword in ("items", "additionalProperties"):
        if isinstance(node.get(keyword), dict):
            yield from property_paths(node[keyword], prefix)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(keyword, []):
            yield from property_paths(branch, prefix)
    for definition in node.get("$defs", {}).values():
        yield from property_paths(definition, prefix)


SCHEMA_FILES = sorted((PROJECT_ROOT / "schemas").glob("*.schema.json"))
# what people write (repo format, daemon config), as opposed to what syncd writes (plan, status)
EDITED_SCHEMA_FILES = [
    path
    for path in SCHEMA_FILES
    if path.name.removesuffix(".schema.json") not in load_generator().OUTPUT_SCHEMAS
]


@pytest.mark.parametrize("schema_file", SCHEMA_FILES, ids=lambda path: path.name)
def test_every_schema_field_is_documented(schema_file, generator, generated):
    name = schema_file.name.removesuffix(".schema.json")
    page = "docs/reference/" + generator.SPECIAL_SCHEMAS.get(name, "repo-format.md")
    text = generated[page]
    schema = json.loads(schema_file.read_text())
    missing = [path for path, field, _ in property_paths(schema) if f"| `{field}` |" not in text]
    assert not missing, f"{page} lacks fields of {schema_file.name}: {missing}"
    if schema.get("$id") and name not in generator.OUTPUT_SCHEMAS:
        assert f"$schema={schema['$id']}" in text


@pytest.mark.parametrize("schema_file", EDITED_SCHEMA_FILES, ids=lambda path: path.name)
def test_every_schema_field_has_a_description_and_examples_for_editors(schema_file):
    """Editors show these on hover and completion (issue 9); the schemas are the spec's files."""
    schema = json.loads(schema_file.read_text())
    assert schema.get("$id", "").endswith(schema_file.name), "a stable $id naming the file"
    lacking = []
    for path, _field, child in property_paths(schema):
        has_ref = "$ref" in child
        if not child.get("description"):
            lacking.append(f"{path}: description")
        self_evident = (
            child.get("type") in ("object", "boolean") or "enum" in child or "const" in child
        )
        if not has_ref and not self_evident and "examples" not in child:
            lacking.append(f"{path}: examples")
    assert not lacking, f"{schema_file.name}: fields lacking {lacking}"


def all_commands():
    root = click.Context(cli, info_name="syncd", **cli.context_settings)
    found = [("syncd", cli, root)]
    index = 0
    while index < len(found):
        _, command, ctx = found[index]
        index += 1
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                child = command.get_command(ctx, name)
                child_ctx = click.Context(child, parent=ctx, info_name=name)
                found.append((child_ctx.command_path, child, child_ctx))
    return found


def test_cli_reference_covers_every_command_and_option(generated):
    text = generated["docs/cli.md"]
    for path, command, _ctx in all_commands():
        assert f"### `{path}`" in text
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("-"):
                    assert flag in text, f"{path}: option {flag} missing from docs/cli.md"


def test_exit_code_table_covers_every_error_class(generator):
    documented = {code for code, _ in generator.EXIT_CODES}
    for name in dir(syncd.errors):
        value = getattr(syncd.errors, name)
        if isinstance(value, type) and issubclass(value, syncd.errors.SyncdError):
            assert value.exit_code in documented, f"{name}.exit_code {value.exit_code} undocumented"
    # the codes the CLI boundary itself uses (syncd/cli/main.py)
    assert {0, 1, 2, 3, 130} <= documented


def test_every_command_help_has_an_example():
    """`--help` on every command shows an example (issue 9)."""
    lacking = []
    for path, command, ctx in all_commands():
        if "Example" not in command.get_help(ctx):
            lacking.append(path)
    assert not lacking, f"commands whose --help has no Example: {lacking}"
