"""Quantities as plans show them: exact where the number allows (``512Mi``, ``500m``)."""

from __future__ import annotations

_BINARY = (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))
_DECIMAL = (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def format_cpu(millis: int) -> str:
    """``1500`` -> ``1500m``, ``2000`` -> ``2``: the shortest exact Kubernetes spelling."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_bytes(count: int) -> str:
    """Exact binary or decimal unit when one divides (``512Mi``, ``24G``), else about one
    decimal in the largest binary unit that fits (``~1.3Gi``)."""
    if count == 0:
        return "0"
    exact = [
        f"{count // size}{suffix}" for suffix, size in (*_BINARY, *_DECIMAL) if count % size == 0
    ]
    if exact:
        return min(exact, key=len)  # the first (binary) among equally short spellings
    for suffix, size in _BINARY:
        if abs(count) >= size:
            return f"~{count / size:.1f}{suffix}"
    return str(count)
