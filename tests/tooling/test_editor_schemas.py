"""What an editor sees: example-repo's modelines and the schemas' own examples.

yaml-language-server reads `# yaml-language-server: $schema=PATH` and offers a schema's
`examples` as completions, so both must be right: every modeline resolves to the schema of its
folder, every file validates against that schema exactly as an editor would check it, and every
example in a schema is valid for the field it illustrates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from toolingkit import PROJECT_ROOT

EXAMPLE_REPO = PROJECT_ROOT / "example-repo"
SCHEMAS = PROJECT_ROOT / "schemas"
FOLDER_SCHEMA = {"deployments": "deployment", "definitions": "definition", "nodes": "node"}
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)
INPUT_SCHEMAS = ["deployment", "definition", "node", "config"]


def load_schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


EXAMPLE_FILES = sorted(
    path
    for folder in FOLDER_SCHEMA
    for path in (EXAMPLE_REPO / folder).glob("*.y*ml")
    if (EXAMPLE_REPO / folder).is_dir()
)


@pytest.mark.parametrize(
    "path", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(EXAMPLE_REPO))
)
def test_example_repo_modeline_names_its_folders_schema_and_the_file_passes_it(path):
    text = path.read_text()
    modelines = MODELINE.findall(text)
    assert modelines, f"{path.name}: no yaml-language-server modeline"
    schema_file = (path.parent / modelines[0]).resolve()
    expected = FOLDER_SCHEMA[path.parent.name]
    assert schema_file == (SCHEMAS / f"{expected}.schema.json").resolve()
    validator = Draft202012Validator(load_schema(expected), registry=registry())
    for document in yaml.safe_load_all(text):
        if document is not None:
            errors = [
                f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)
            ]
            assert not errors, f"{path.name}: {errors}"


def examples_with_pointers(node, pointer=""):
    """(JSON pointer of a subschema, one of its examples) for every example in a schema."""
    if not isinstance(node, dict):
        return
    for example in node.get("examples", []):
        yield pointer, example
    for key in ("properties", "$defs", "patternProperties"):
        for name, child in node.get(key, {}).items():
            yield from examples_with_pointers(child, f"{pointer}/{key}/{name}")
    for key in ("items", "additionalProperties", "not", "if", "then", "else"):
        if isinstance(node.get(key), dict):
            yield from examples_with_pointers(node[key], f"{pointer}/{key}")
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for index, child in enumerate(node.get(key, [])):
            yield from examples_with_pointers(child, f"{pointer}/{key}/{index}")


@pytest.mark.parametrize("name", INPUT_SCHEMAS)
def test_every_schema_example_is_valid_for_its_field(name):
    schema = load_schema(name)
    registry_ = registry()
    invalid = []
    for pointer, example in examples_with_pointers(schema):
        validator = Draft202012Validator({"$ref": f"{schema['$id']}#{pointer}"}, registry=registry_)
        errors = [error.message for error in validator.iter_errors(example)]
        if errors:
            invalid.append(f"{pointer or '/'}: {example!r}: {errors[0]}")
    assert not invalid, f"{name}.schema.json has examples its own schema refuses: {invalid}"


def test_schema_ids_are_stable_and_unique():
    ids = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema_id = json.loads(path.read_text())["$id"]
        assert schema_id == f"https://syncd.dev/schemas/{path.name}", path.name
        ids[schema_id] = path.name
    assert len(ids) == len(list(SCHEMAS.glob("*.schema.json")))


def test_schemas_ship_inside_the_package():
    """The installed package carries the schemas getting-started tells people to copy."""
    import syncd

    packaged = Path(syncd.__file__).parent / "schemas"
    for path in SCHEMAS.glob("*.schema.json"):
        assert (packaged / path.name).read_text() == path.read_text()
