"""The fast path of schema checks: each schema compiled into plain closures that only answer
"valid?".

jsonschema builds a validator object per keyword and level, about half a millisecond per
deployment: too slow for a 1,000-file repository validated on every pass. Valid documents are
the common case, so each schema is also compiled here for the keywords our schemas use, and
``schemas.check`` asks jsonschema (the authority) only to explain a document found invalid. A
schema with any other keyword is not compiled (jsonschema alone decides), and the tests check
both agree on every case they have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]
_ANNOTATIONS = {
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "title",
    "description",
    "examples",
    "default",
    "errorMessage",
    "patternErrorMessage",
    "markdownDescription",
    "deprecated",
    "readOnly",
    "writeOnly",
}
_TYPE_CHECKS: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


class _Unsupported(Exception):
    pass


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    return bool(left == right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compile(schema: Any) -> Predicate:
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise _Unsupported
    checks: list[Predicate] = []
    object_keywords = {"properties", "additionalProperties", "required"} & schema.keys()
    if object_keywords:
        checks.append(_object(schema))
    for keyword, argument in schema.items():
        if keyword in _ANNOTATIONS or keyword in object_keywords:
            continue
        checks.append(_keyword(keyword, argument, schema))
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:  # the common case ("type" and one more): no loop to enter
        first, second = checks
        return lambda value: first(value) and second(value)

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 (a plain loop: this is the hot path)
            if not check(value):
                return False
        return True

    return every


def _object(schema: dict[str, Any]) -> Predicate:
    """properties + additionalProperties + required in one pass over the mapping."""
    if "patternProperties" in schema:
        raise _Unsupported
    properties = {name: _compile(sub) for name, sub in schema.get("properties", {}).items()}
    additional = schema.get("additionalProperties", True)
    extra = None if additional is False else _compile(additional)
    required = tuple(schema.get("required", ()))

    def check_object(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            check = properties.get(key)
            if check is None:
                if extra is None or not extra(item):
                    return False
            elif not check(item):
                return False
        for name in required:  # noqa: SIM110 (hot path)
            if name not in value:
                return False
        return True

    return check_object


def _keyword(keyword: str, argument: Any, schema: dict[str, Any]) -> Predicate:
    if keyword == "type":
        names = [argument] if isinstance(argument, str) else list(argument)
        tests = [_TYPE_CHECKS[name] for name in names]
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)
    if keyword == "propertyNames":
        names_check = _compile(argument)
        return lambda value: not isinstance(value, dict) or all(names_check(key) for key in value)
    if keyword == "items":
        item_check = _compile(argument)

        def every_item(value: Any) -> bool:
            if isinstance(value, list):
                for item in value:  # noqa: SIM110 (hot path: no generator)
                    if not item_check(item):
                        return False
            return True

        return every_item
    if keyword == "enum":
        options = list(argument)
        return lambda value: any(_json_equal(value, option) for option in options)
    if keyword == "const":
        return lambda value: _json_equal(value, argument)
    if keyword == "pattern":
        search = re.compile(argument).search
        return lambda value: not isinstance(value, str) or search(value) is not None
    if keyword == "minLength":
        return lambda value: not isinstance(value, str) or len(value) >= argument
    if keyword == "maxLength":
        return lambda value: not isinstance(value, str) or len(value) <= argument
    if keyword == "minItems":
        return lambda value: not isinstance(value, list) or len(value) >= argument
    if keyword == "maxItems":
        return lambda value: not isinstance(value, list) or len(value) <= argument
    if keyword == "minimum":
        return lambda value: not _is_number(value) or value >= argument
    if keyword == "maximum":
        return lambda value: not _is_number(value) or value <= argument
    if keyword in ("anyOf", "oneOf", "allOf"):
        branches = [_compile(sub) for sub in argument]
        if keyword == "anyOf":  # every quantity is one ("500m" or a number): a plain loop

            def any_branch(value: Any) -> bool:
                for branch in branches:  # noqa: SIM110 (hot path: no generator)
                    if branch(value):
                        return True
                return False

            return any_branch
        if keyword == "allOf":
            return lambda value: all(branch(value) for branch in branches)
        return lambda value: sum(1 for branch in branches if branch(value)) == 1
    if keyword == "not":
        negated = _compile(argument)
        return lambda value: not negated(value)
    raise _Unsupported


def compile_schema(schema: Any) -> Predicate | None:
    """A compiled "is it valid?" predicate for ``schema``, or None when it uses other keywords."""
    try:
        return _compile(schema)
    except (_Unsupported, KeyError, re.error, TypeError):
        return None
