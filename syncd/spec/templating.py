"""``{{env:NAME}}`` and ``{{secret:NAME}}`` references inside envar values.

Env references are resolved when the desired state is rendered (from the daemon's environment);
secret references stay in place until apply creates a container, and every output shows them as
``(secret NAME)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Names: letters, digits, '_', '-', '.', as secret stores and shells commonly allow.
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
REFERENCE = re.compile(r"\{\{\s*(env|secret)\s*:\s*(" + _NAME + r")\s*\}\}")
# Anything that looks like a template at all, to catch malformed ones ("{{secret:}}", "{{sekret:x}}").
ANY_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")


@dataclass(frozen=True)
class TemplateProblem:
    text: str
    message: str


def references(value: str) -> list[tuple[str, str]]:
    """Every well-formed reference in ``value`` as (kind, name)."""
    return [(m.group(1), m.group(2)) for m in REFERENCE.finditer(value)]


def secret_names(value: str) -> list[str]:
    return [name for kind, name in references(value) if kind == "secret"]


def problems(value: str) -> list[TemplateProblem]:
    """Malformed references: a ``{{...}}`` that is not ``{{env:NAME}}`` or ``{{secret:NAME}}``."""
    found = []
    for match in ANY_TEMPLATE.finditer(value):
        if not REFERENCE.fullmatch(match.group(0)):
            found.append(
                TemplateProblem(
                    match.group(0),
                    f"malformed reference {match.group(0)!r}: write {{{{env:NAME}}}} or {{{{secret:NAME}}}}",
                )
            )
    if "{{" in ANY_TEMPLATE.sub("", value):
        found.append(TemplateProblem(value, "unclosed '{{' in value: references end with '}}'"))
    return found


def resolve_env(value: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``{{env:NAME}}``; returns the new value and the names missing from ``environ``
    (left in place so the caller can report them)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind != "env":
            return match.group(0)
        if name not in environ:
            missing.append(name)
            return match.group(0)
        return environ[name]

    return REFERENCE.sub(substitute, value), missing


def resolve_secrets(value: str, lookup: Callable[[str], str]) -> str:
    """Replace ``{{secret:NAME}}`` with ``lookup(NAME)``: only ever at container creation."""
    return REFERENCE.sub(
        lambda m: lookup(m.group(2)) if m.group(1) == "secret" else m.group(0), value
    )


def mask_secrets(value: str) -> str:
    """The only form in which a secret reference may be shown: ``(secret NAME)``."""
    return REFERENCE.sub(
        lambda m: f"(secret {m.group(2)})" if m.group(1) == "secret" else m.group(0), value
    )
