"""JSON Schema checks with messages a person can act on.

Schemas live in the top-level ``schemas/`` directory (editors point at them) and ship inside the
package as ``syncd/schemas`` (a symlink). Any ``<name>.schema.json`` there can be checked by name;
each validator is built once per process. jsonschema's own messages ("Additional properties are
not allowed") are translated: an unknown field names the closest known one, a wrong type says what
was found, and a schema may carry an ``errorMessage`` (the keyword editors show too) for
patterns and alternatives.
"""

from __future__ import annotations

import datetime
import difflib
import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from syncd.errors import SpecProblem, SyncdError
from syncd.spec.loading import Document, JsonPath
from syncd.spec.schema_predicates import Predicate, compile_schema

SCHEMA_SUFFIX = ".schema.json"
# Validators whose jsonschema message is opaque: a schema's errorMessage says it better.
_USES_ERROR_MESSAGE = {
    "pattern",
    "anyOf",
    "oneOf",
    "maxLength",
    "not",
    "format",
    "minimum",
    "maximum",
}
# Keywords whose message needs only the schema's value (``limit``) and the instance's.
_LIMIT_MESSAGES: dict[str, Callable[[Any, Any], str]] = {
    "const": lambda limit, value: f"must be {limit!r}; got {describe_value(value)}",
    "minimum": lambda limit, value: f"must be at least {limit}; got {value}",
    "maximum": lambda limit, value: f"must be at most {limit}; got {value}",
    "maxLength": lambda limit, value: f"must be at most {limit} characters; got {len(value)}",
    "minItems": lambda limit, _value: f"must list at least {limit} item(s)",
    "pattern": lambda limit, value: f"{describe_value(value)} does not match the pattern {limit}",
}

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def schema_names() -> list[str]:
    """Every schema the package ships, by name ("deployment", "definition", "node", ...)."""
    directory = resources.files("syncd") / "schemas"
    return sorted(
        entry.name.removesuffix(SCHEMA_SUFFIX)
        for entry in directory.iterdir()
        if entry.name.endswith(SCHEMA_SUFFIX)
    )


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema ``<name>.schema.json`` from the package."""
    entry = resources.files("syncd") / "schemas" / f"{name}{SCHEMA_SUFFIX}"
    if not entry.is_file():
        raise SyncdError(
            f"no schema named {name!r}", hint=f"known schemas: {', '.join(schema_names())}"
        )
    schema: dict[str, Any] = json.loads(entry.read_text(encoding="utf-8"))
    return schema


@cache
def _registry() -> Registry:
    """All shipped schemas by $id, so one schema may $ref another."""
    registry: Registry = Registry()
    for name in schema_names():
        schema = load_schema(name)
        if "$id" in schema:
            registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    return registry


@cache
def validator(name: str) -> Draft202012Validator:
    """The prebuilt validator for a schema (built once per process)."""
    return Draft202012Validator(load_schema(name), registry=_registry())


@cache
def fast_validator(name: str) -> Predicate | None:
    """The schema compiled into a quick "is it valid?" (spec/schema_predicates.py), or None
    when it uses keywords that are not compiled: then jsonschema alone decides."""
    return compile_schema(load_schema(name))


def check(document: Document, schema_name: str) -> list[SpecProblem]:
    """Every schema problem of ``document``, located and phrased for a person, sorted by position."""
    quick = fast_validator(schema_name)
    if quick is not None and quick(document.data):
        return []  # valid: jsonschema (the authority, and slower) only runs to explain problems
    problems: list[SpecProblem] = []
    for error in validator(schema_name).iter_errors(document.data):
        problems.extend(_translate(document, error))
    unique = {(p.line, p.column, p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line, p.column, p.path, p.message))


def check_data(data: Any, schema_name: str, file: str = "<api>") -> list[SpecProblem]:
    """``check`` for data that did not come from a YAML file (positions are 1:1)."""
    return check(Document(data=data, file=file), schema_name)


def describe_value(value: Any) -> str:
    """'the string "3"', 'the integer 3', 'a list', ... for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _type_message(expected: str | list[str], value: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
    message = f"expected {wanted}, got {describe_value(value)}"
    if "string" in names and isinstance(value, bool | int | float | datetime.date):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        message += f': quote it ("{text}")'
    elif value is None:
        message += ": fill in a value or remove the key"
    return message


def _schema_message(schema: Any) -> str | None:
    return schema.get("errorMessage") if isinstance(schema, dict) else None


def _known_fields(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


# Words people bring from Docker, Compose and Deploy Svc's node model, and what syncd calls them.
SYNONYMS = {
    "dockerfile": "containerFile",
    "context": "buildContext",
    "env": "envars",
    "environment": "envars",
    "envvars": "envars",
    "cmd": "command",
    "entrypoint": "command",
    "region": "cluster",
    "availabilityzone": "zone",
    "healthcheck": "healthCheck",
    "health": "healthCheck",
    "read_only": "readOnly",
}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'replicas'?)`` for the closest candidate, or an empty string."""
    options = list(candidates)
    lowered = {option.lower(): option for option in options}
    close = [lowered[word.lower()]] if word.lower() in lowered else []
    synonym = SYNONYMS.get(word.lower().replace("-", "").replace(" ", ""))
    if not close and synonym in options:
        close = [synonym]
    if not close:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _translate(document: Document, error: ValidationError) -> list[SpecProblem]:
    path: JsonPath = tuple(error.absolute_path)
    keyword = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if keyword == "additionalProperties" and isinstance(value, dict):
        known = _known_fields(schema)
        patterns = schema.get("patternProperties", {})
        extras = [key for key in value if key not in known and not patterns]
        problems = []
        for key in extras:
            hint = did_you_mean(key, known) or f"; known fields: {', '.join(known)}"
            problems.append(
                document.problem((*path, key), f"unknown field {key!r}{hint}", at_key=True)
            )
        return problems
    if keyword == "required" and isinstance(value, dict):
        missing = [name for name in error.validator_value if name not in value]
        return [document.problem(path, f"missing required field {name!r}") for name in missing]
    if error.relative_schema_path and "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad key with the mapping's path; the key itself is the instance.
        message = _schema_message(schema) or error.message
        return [document.problem((*path, value), f"key {value!r}: {message}", at_key=True)]

    message = _schema_message(schema) if keyword in _USES_ERROR_MESSAGE else None
    if message:
        if not isinstance(value, dict | list):
            message = f"{message}; got {describe_value(value)}"
    elif keyword == "type":
        message = _type_message(error.validator_value, value)
    elif keyword == "enum":
        options = ", ".join(repr(option) for option in error.validator_value)
        hint = (
            did_you_mean(value, [str(option) for option in error.validator_value])
            if isinstance(value, str)
            else ""
        )
        message = f"must be one of {options}; got {describe_value(value)}{hint}"
    elif keyword in _LIMIT_MESSAGES:
        message = _LIMIT_MESSAGES[keyword](error.validator_value, value)
    elif keyword == "minLength" and error.validator_value == 1:
        message = "must not be empty"
    else:
        message = error.message
    return [document.problem(path, message)]
