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
        # by table: property name -> (the source of its check, the function's name there)
        self.tables: dict[str, dict[str, tuple[_Source, str]]] = {}

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
        # The type first: then a keyword for that type needs no test of the type of its own.
        known = schema.get("type") if isinstance(schema.get("type"), str) else None
        ordered = sorted(schema.items(), key=lambda pair: pair[0] != "type")
        parts: list[str] = []
        object_keywords = {"properties", "additionalProperties", "required"} & schema.keys()
        for keyword, argument in ordered:
            if keyword in _ANNOTATIONS or keyword in object_keywords:
                continue
            parts.append(self._keyword(keyword, argument, v, known))
        if object_keywords:
            parts.append(f"{self._object(schema)}({v})")
        if not parts:
            return "True"
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def _object(self, schema: dict[str, Any]) -> str:
        """properties + additionalProperties + required in one pass over the mapping."""
        if "patternProperties" in schema:
            raise _Unsupported
        checks = {}
        for name, sub in schema.get("properties", {}).items():
            unit = _Source()  # its own source, compiled when the property is first met
            checks[name] = (unit, unit.function([f"return {unit.expression(sub, 'value')}"]))
        additional = schema.get("additionalProperties", True)
        body = ["if not isinstance(value, dict):", "    return True"]
        required = " and ".join(f"{name!r} in value" for name in schema.get("required", ()))
        if required:
            body += [f"if not ({required}):", "    return False"]
        if checks or additional is not True:
            table = f"t{len(self.tables)}"  # filled once the source is compiled
            self.tables[table] = checks
            extra = self.expression(additional, "item")
            unknown = (
                ["return False"] if extra == "False" else [f"if not {extra}:", "    return False"]
            )
            body += [
                "for key, item in value.items():",
                f"    check = {table}.get(key)",
                "    if check is None:",
                *(f"        {line}" for line in unknown),
                "    elif not check(item):",
                "        return False",
            ]
        return self.function([*body, "return True"])

    def _keyword(self, keyword: str, argument: Any, v: str, known: str | None) -> str:
        """``keyword``'s test of the value named ``v``, whose type is ``known`` when the
        schema names one (its test comes first)."""
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
                within = f"{v} in {self.constant(frozenset(options))}"
                return within if known == "string" else f"(isinstance({v}, str) and {within})"
            each = self.constant(options)
            return f"any(_json_equal({v}, option) for option in {each})"
        if keyword == "pattern":
            found = f"{self.constant(re.compile(argument).search)}({v}) is not None"
            return found if known == "string" else f"(not isinstance({v}, str) or {found})"
        bounds = {
            "minLength": ("str", "len({v}) >= {k}"),
            "maxLength": ("str", "len({v}) <= {k}"),
            "minItems": ("list", "len({v}) >= {k}"),
            "maxItems": ("list", "len({v}) <= {k}"),
        }
        if keyword in bounds:
            kind, test = bounds[keyword]
            within = test.format(v=v, k=self.constant(argument))
            if known == {"str": "string", "list": "array"}[kind]:
                return within
            return f"(not isinstance({v}, {kind}) or {within})"
        if keyword in ("minimum", "maximum"):
            within = f"{v} {'>=' if keyword == 'minimum' else '<='} {self.constant(argument)}"
            if known in ("number", "integer"):
                return within
            return f"(not {_NUMBER.format(v=v)} or {within})"
        if keyword in ("anyOf", "allOf", "oneOf"):
            branches = [self.expression(sub, v) for sub in argument]
            if keyword == "oneOf":
                return "(" + " + ".join(branches) + " == 1)"
            return "(" + (" or " if keyword == "anyOf" else " and ").join(branches) + ")"
        if keyword == "not":
            return f"(not {self.expression(argument, v)})"
        raise _Unsupported

    def compiled(self, top: str) -> Predicate:
        """The function named ``top``, this source compiled; its properties' checks are
        compiled on their first call (a schema's source is several times its old closures'
        cost to compile, and most repositories use a few of its fields)."""
        namespace = dict(self.constants)
        exec(compile("\n\n".join(self.lines), "<schema predicates>", "exec"), namespace)  # noqa: S102 (our own generated source)
        for table, checks in self.tables.items():
            filled: dict[str, Predicate] = {}
            for key, (unit, name) in checks.items():
                filled[key] = _on_first_call(filled, key, unit, name)
            namespace[table] = filled
        predicate: Predicate = namespace[top]
        return predicate


def _on_first_call(table: dict[str, Predicate], key: str, unit: _Source, name: str) -> Predicate:
    """A check that compiles ``unit`` when first called and puts the result in its place in
    ``table`` (racing threads may both compile it: either result is the same check)."""

    def first_call(value: Any) -> bool:
        check = unit.compiled(name)
        table[key] = check
        return check(value)

    return first_call


def compile_schema(schema: Any) -> Predicate | None:
    """A compiled "is it valid?" predicate for ``schema``, or None when it uses other keywords."""
    try:
        source = _Source()  # generated whole now: an unsupported keyword anywhere shows here
        return source.compiled(source.function([f"return {source.expression(schema, 'value')}"]))
    except (_Unsupported, KeyError, re.error, TypeError):
        return None
