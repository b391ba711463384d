"""The fast path of schema checks: each schema compiled once into Python source that only
answers "valid?".

jsonschema builds a validator object per keyword and level, about half a millisecond per
deployment: too slow for a 1,000-file repository validated on every pass. Valid documents are
the common case, so each schema is also compiled here, for the keywords our schemas use, into
one Python function per object and array level, the scalar checks written out inline (nested
closures cost a call per keyword and level: about twice the time), and ``schemas.check`` asks
jsonschema (the authority) only to explain a document found invalid. A schema with any other
keyword is not compiled (jsonschema alone decides), and the tests check both agree on every
case they have.
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
# Each type as an expression of the value ``{v}``; every expression below is a bool.
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "integer": (
        "((isinstance({v}, int) and not isinstance({v}, bool))"
        " or (isinstance({v}, float) and {v}.is_integer()))"
    ),
}
_NUMBER = _TYPE_TESTS["number"]


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


class _Source:
    """The functions of one compiled schema, as Python source, and the constants they use."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"_json_equal": _json_equal}
        self.tables: dict[str, dict[str, str]] = {}  # property name -> function name, by table

    def constant(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self, body: list[str]) -> str:
        """A new function of ``value`` with ``body`` (lines indented under it): its name."""
        name = f"f{len(self.lines)}"
        self.lines.append("\n".join([f"def {name}(value):", *(f"    {line}" for line in body)]))
        return name

    def expression(self, schema: Any, v: str) -> str:
        """A bool expression: does the value named ``v`` meet ``schema``?"""
        if schema is True:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, dict):
            raise _Unsupported
        parts: list[str] = []
        object_keywords = {"properties", "additionalProperties", "required"} & schema.keys()
        if object_keywords:
            parts.append(f"{self._object(schema)}({v})")
        for keyword, argument in schema.items():
            if keyword in _ANNOTATIONS or keyword in object_keywords:
                continue
            parts.append(self._keyword(keyword, argument, v))
        if not parts:
            return "True"
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def _object(self, schema: dict[str, Any]) -> str:
        """properties + additionalProperties + required in one pass over the mapping."""
        if "patternProperties" in schema:
            raise _Unsupported
        checks = {
            name: self.function([f"return {self.expression(sub, 'value')}"])
            for name, sub in schema.get("properties", {}).items()
        }
        additional = schema.get("additionalProperties", True)
        body = ["if not isinstance(value, dict):", "    return True"]
        required = " and ".join(f"{name!r} in value" for name in schema.get("required", ()))
        if required:
            body += [f"if not ({required}):", "    return False"]
        if checks or additional is not True:
            table = f"t{len(self.tables)}"  # filled with the functions once they exist
            self.tables[table] = checks
            extra = self.expression(additional, "item")
            body += [
                "for key, item in value.items():",
                f"    check = {table}.get(key)",
                "    if check is None:",
                f"        if not {extra}:",
                "            return False",
                "    elif not check(item):",
                "        return False",
            ]
        return self.function([*body, "return True"])

    def _keyword(self, keyword: str, argument: Any, v: str) -> str:
        if keyword == "type":
            names = [argument] if isinstance(argument, str) else list(argument)
            tests = [_TYPE_TESTS[name].format(v=v) for name in names]
            return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"
        if keyword in ("items", "propertyNames"):
            each = self.expression(argument, "item")
            kind = "list" if keyword == "items" else "dict"
            loop = [
                f"if isinstance(value, {kind}):",
                "    for item in value:",
                f"        if not {each}:",
                "            return False",
                "return True",
            ]
            return f"{self.function(loop)}({v})"
        if keyword in ("enum", "const"):
            options = list(argument) if keyword == "enum" else [argument]
            if all(isinstance(option, str) for option in options):  # JSON equality is ==
                return f"(isinstance({v}, str) and {v} in {self.constant(frozenset(options))})"
            each = self.constant(options)
            return f"any(_json_equal({v}, option) for option in {each})"
        if keyword == "pattern":
            search = self.constant(re.compile(argument).search)
            return f"(not isinstance({v}, str) or {search}({v}) is not None)"
        bounds = {
            "minLength": ("str", "len({v}) >= {k}"),
            "maxLength": ("str", "len({v}) <= {k}"),
            "minItems": ("list", "len({v}) >= {k}"),
            "maxItems": ("list", "len({v}) <= {k}"),
        }
        if keyword in bounds:
            kind, test = bounds[keyword]
            bound = self.constant(argument)
            return f"(not isinstance({v}, {kind}) or {test.format(v=v, k=bound)})"
        if keyword in ("minimum", "maximum"):
            compare = ">=" if keyword == "minimum" else "<="
            bound = self.constant(argument)
            return f"(not {_NUMBER.format(v=v)} or {v} {compare} {bound})"
        if keyword in ("anyOf", "allOf", "oneOf"):
            branches = [self.expression(sub, v) for sub in argument]
            if keyword == "oneOf":
                return "(" + " + ".join(branches) + " == 1)"
            return "(" + (" or " if keyword == "anyOf" else " and ").join(branches) + ")"
        if keyword == "not":
            return f"(not {self.expression(argument, v)})"
        raise _Unsupported

    def build(self, schema: Any) -> Predicate:
        top = self.function([f"return {self.expression(schema, 'value')}"])
        namespace = dict(self.constants)
        exec(compile("\n\n".join(self.lines), "<schema predicates>", "exec"), namespace)  # noqa: S102 (our own generated source)
        for table, checks in self.tables.items():
            namespace[table] = {key: namespace[function] for key, function in checks.items()}
        predicate: Predicate = namespace[top]
        return predicate


def compile_schema(schema: Any) -> Predicate | None:
    """A compiled "is it valid?" predicate for ``schema``, or None when it uses other keywords."""
    try:
        return _Source().build(schema)
    except (_Unsupported, KeyError, re.error, TypeError):
        return None
