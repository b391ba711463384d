"""Resource quantities and durations, with Kubernetes semantics and exact integer arithmetic.

cpu is kept in millicores (``"500m"`` -> 500, ``"2.5"`` -> 2500), memory and vram in bytes
(``"256Mi"``, ``"512M"``, ``"24GB"``), durations in seconds. Numbers are parsed into fractions, never
floats, so ``"0.1"`` cpu is exactly 100 millicores; a fractional result is rounded up to the next
whole millicore or byte, as Kubernetes does.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from syncd.errors import SyncdError


class QuantityError(SyncdError):
    """A cpu, memory or duration value that cannot be read; the message names the accepted forms."""


CPU_FORMS = 'cores ("1", "2.5", 0.5) or millicores ("500m")'
MEMORY_FORMS = (
    'bytes (134217728), binary units ("128Mi", "1Gi", also "KiB", "MiB", "GiB") or '
    'decimal units ("512M", "1G", also "KB", "MB", "GB")'
)
DURATION_FORMS = 'seconds (30) or a duration like "500ms", "10s", "1m", "1h30m"'

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_CPU = re.compile(rf"({_NUMBER})(m?)")

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_DECIMAL_UPPER = {"M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
MEMORY_UNITS: dict[str, int] = {
    "": 1,
    **{unit: 1024**power for unit, power in _BINARY.items()},
    **{unit + "B": 1024**power for unit, power in _BINARY.items()},  # KiB, MiB, GiB ...
    **{unit: 1000**power for unit, power in _DECIMAL.items()},
    **{unit + "B": 1000**power for unit, power in _DECIMAL.items() if unit != "k"},  # KB, MB ...
    "B": 1,
}
_MEMORY_UNIT_PATTERN = "|".join(sorted((re.escape(u) for u in MEMORY_UNITS if u), key=len)[::-1])
# An exponent ("129e6") is Kubernetes syntax too; "1E" alone is exa, "1e3" is an exponent.
_MEMORY = re.compile(rf"({_NUMBER})(?:[eE]([+-]?[0-9]+)| ?({_MEMORY_UNIT_PATTERN}))?")

_DURATION_UNITS = {
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
}
_DURATION_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d))+")

# Patterns the JSON Schemas carry for editors; the parsers above are the authority.
CPU_PATTERN = rf"^{_NUMBER}m?$"
MEMORY_PATTERN = rf"^{_NUMBER}(?:[eE][+-]?[0-9]+| ?(?:{_MEMORY_UNIT_PATTERN}))?$"
DURATION_PATTERN = rf"^(?:{_NUMBER}(?:ms|s|m|h|d))+$"


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


def _number(value: object, what: str, forms: str) -> Fraction:
    """A non-negative YAML number (int or float, never a bool) as an exact fraction."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QuantityError(f"invalid {what} {value!r}: write {forms}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QuantityError(f"invalid {what} {value!r}: write {forms}")
    # str() of a float is its shortest round-trip form: 0.1 -> "0.1" -> exactly 1/10.
    exact = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    if exact < 0:
        raise QuantityError(f"invalid {what} {value!r}: must not be negative")
    return exact


def parse_cpu(value: str | int | float) -> int:
    """Millicores from ``"500m"``, ``"1"``, ``"2.5"`` or a plain number of cores."""
    if isinstance(value, str):
        match = _CPU.fullmatch(value.strip())
        if not match:
            raise QuantityError(f"invalid cpu {value!r}: write {CPU_FORMS}")
        number, milli = Fraction(match.group(1)), match.group(2)
        return _ceil(number if milli else number * 1000)
    return _ceil(_number(value, "cpu", CPU_FORMS) * 1000)


def parse_memory(value: str | int | float) -> int:
    """Bytes from ``"256Mi"``, ``"512M"``, ``"24GB"``, ``"1.5Gi"``, ``"129e6"`` or plain bytes."""
    if isinstance(value, str):
        match = _MEMORY.fullmatch(value.strip())
        if not match:
            hint = ""
            if re.fullmatch(rf"{_NUMBER} ?m", value.strip()):
                hint = " ('m' means millicores for cpu; for memory write 'M' or 'Mi')"
            raise QuantityError(f"invalid memory {value!r}: write {MEMORY_FORMS}{hint}")
        number, exponent, unit = match.groups()
        amount = Fraction(number)
        if exponent is not None:
            amount *= Fraction(10) ** int(exponent)
        else:
            amount *= MEMORY_UNITS[unit or ""]
        return _ceil(amount)
    if isinstance(value, float) and not value.is_integer():
        raise QuantityError(f"invalid memory {value!r}: plain bytes are a whole number")
    return _ceil(_number(value, "memory", MEMORY_FORMS))


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``"500ms"``, ``"10s"``, ``"1m"``, ``"1h30m"``, ``"2d"`` or a number of seconds."""
    if isinstance(value, str):
        text = value.strip()
        if not _DURATION.fullmatch(text):
            raise QuantityError(f"invalid duration {value!r}: write {DURATION_FORMS}")
        total = sum(
            (
                Fraction(number) * _DURATION_UNITS[unit]
                for number, unit in _DURATION_PART.findall(text)
            ),
            Fraction(0),
        )
        return float(total)
    return float(_number(value, "duration", DURATION_FORMS))


def format_cpu(millicores: int) -> str:
    """``2000`` -> ``"2"``, ``500`` -> ``"500m"``: the shortest exact form."""
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory(size: int, *, approximate: bool = False) -> str:
    """The shortest exact form: ``"512Mi"``, ``"512M"``, ``"1536Mi"``, else plain bytes.

    Binary units win a tie, as they are what memory limits are usually written in. With
    ``approximate``, a size no unit divides reads as about one decimal in the largest binary
    unit that fits (``"~1.3Gi"``): for free room in messages, never for values that are compared
    (two sizes must not read alike).
    """
    if size == 0:
        return "0"
    candidates = [(len(str(size)), 2, str(size))]
    for rank, base, units in ((0, 1024, _BINARY), (1, 1000, {"k": 1, **_DECIMAL_UPPER})):
        for unit, power in units.items():
            scale = base**power
            if size % scale == 0:
                count = str(size // scale)
                candidates.append((len(count), rank, f"{count}{unit}"))
    exact = min(candidates)
    if approximate and exact[1] == 2:
        for unit, power in sorted(_BINARY.items(), key=lambda item: -item[1]):
            if abs(size) >= 1024**power:
                return f"~{size / 1024**power:.1f}{unit}"
    return exact[2]


def format_duration(seconds: float) -> str:
    """``90.0`` -> ``"1m30s"``, ``0.5`` -> ``"500ms"``: for messages and plans."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
