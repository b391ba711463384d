"""Quantities: exact Kubernetes arithmetic for cpu and memory, durations, and clear refusals."""

from __future__ import annotations

import re

import pytest

from syncd.errors import SyncdError
from syncd.spec import quantities
from syncd.spec.quantities import (
    QuantityError,
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
)

CPU = [
    ("500m", 500),
    ("1", 1000),
    ("2.5", 2500),
    ("0.1", 100),
    (".5", 500),
    ("250m", 250),
    ("0", 0),
    ("1.0001", 1001),  # rounded up to a whole millicore
    ("0.5m", 1),
    (" 2 ", 2000),
    (1, 1000),
    (8, 8000),
    (0.5, 500),
    (0.1, 100),  # a float is read by its decimal form: exactly 100, not 100.00000000000001
    (2.25, 2250),
]

MEMORY = [
    ("128Mi", 128 * 2**20),
    ("1Gi", 2**30),
    ("512M", 512 * 10**6),
    ("256Mi", 268_435_456),
    ("24GB", 24 * 10**9),
    ("80GB", 80 * 10**9),
    ("48Gi", 48 * 2**30),
    ("1KiB", 1024),
    ("1MiB", 2**20),
    ("1GiB", 2**30),
    ("1TiB", 2**40),
    ("2KB", 2000),
    ("3MB", 3 * 10**6),
    ("1TB", 10**12),
    ("1k", 1000),
    ("1K", 1000),
    ("1Ki", 1024),
    ("1T", 10**12),
    ("1P", 10**15),
    ("1E", 10**18),
    ("1Pi", 2**50),
    ("1Ei", 2**60),
    ("1.5Gi", 3 * 2**29),
    ("0.5Ki", 512),
    ("1.0001Ki", 1025),  # 1024.1024 bytes, rounded up
    ("129e6", 129_000_000),
    ("1e3", 1000),
    ("123", 123),
    ("100B", 100),
    ("64 Gi", 64 * 2**30),
    (134217728, 134217728),
    (0, 0),
    (1024.0, 1024),
]

DURATIONS = [
    ("10s", 10.0),
    ("1m", 60.0),
    ("500ms", 0.5),
    ("1h30m", 5400.0),
    ("1h", 3600.0),
    ("2d", 172800.0),
    ("1m30s", 90.0),
    ("1.5s", 1.5),
    ("0s", 0.0),
    (30, 30.0),
    (0.25, 0.25),
]


@pytest.mark.parametrize(("text", "millicores"), CPU)
def test_cpu(text, millicores):
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(("text", "size"), MEMORY)
def test_memory(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "m",
        "500mm",
        "1.2.3",
        "-1",
        "-500m",
        "1 core",
        "1Gi",
        "abc",
        "1e3",
        True,
        None,
        [1],
        -2,
        float("nan"),
        float("inf"),
    ],
)
def test_invalid_cpu_names_the_accepted_forms(value):
    with pytest.raises(QuantityError) as caught:
        parse_cpu(value)
    assert isinstance(caught.value, SyncdError)
    message = str(caught.value)
    assert "invalid cpu" in message or "negative" in message
    if "negative" not in message:
        assert '"500m"' in message


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Mi",
        "1Mb",
        "1mi",
        "1gb",
        "-1Gi",
        "1.5.1Gi",
        "12 GB extra",
        "1Zi",
        "1iB",
        True,
        None,
        -5,
        1.5,
        "1e",
        "abc",
    ],
)
def test_invalid_memory_names_the_accepted_forms(value):
    with pytest.raises(QuantityError) as caught:
        parse_memory(value)
    message = str(caught.value)
    assert "memory" in message


def test_memory_with_a_cpu_unit_explains_the_mixup():
    with pytest.raises(QuantityError, match="'m' means millicores"):
        parse_memory("512m")


@pytest.mark.parametrize(
    "value", ["", "10", "10 s", "1x", "s", "-1s", "1h-30m", True, None, -3, "10sec"]
)
def test_invalid_duration_names_the_accepted_forms(value):
    with pytest.raises(QuantityError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("millicores", "text"), [(500, "500m"), (1000, "1"), (2500, "2500m"), (0, "0"), (64000, "64")]
)
def test_format_cpu(millicores, text):
    assert format_cpu(millicores) == text
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512 * 2**20, "512Mi"),
        (2**30, "1Gi"),
        (3 * 2**29, "1536Mi"),
        (24 * 10**9, "24G"),
        (512 * 10**6, "512M"),
        (1000, "1k"),
        (1024, "1Ki"),
        (1023, "1023"),
        (0, "0"),
        (2**60, "1Ei"),
    ],
)
def test_format_memory_prefers_exact_binary_units(size, text):
    assert format_memory(size) == text
    assert parse_memory(text) == size


@pytest.mark.parametrize(
    ("seconds", "text"), [(90, "1m30s"), (0.5, "500ms"), (3600, "1h"), (0, "0s")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_schema_patterns_accept_every_valid_quantity():
    """The schemas carry these patterns for editors; they must agree with the parsers."""
    for text, _ in CPU:
        if isinstance(text, str):
            assert re.fullmatch(quantities.CPU_PATTERN, text.strip()), text
    for text, _ in MEMORY:
        if isinstance(text, str):
            assert re.fullmatch(quantities.MEMORY_PATTERN, text.strip()), text
    for text, _ in DURATIONS:
        if isinstance(text, str):
            assert re.fullmatch(quantities.DURATION_PATTERN, text), text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (1395864372, "~1.3Gi"),  # "1.3Gi" as parsed: no unit divides it
        (1025, "~1.0Ki"),
        (3 * 2**29 + 1, "~1.5Gi"),
        (512 * 2**20, "512Mi"),  # exact forms stay exact
        (24 * 10**9, "24G"),
        (1023, "1023"),  # below the smallest unit
        (0, "0"),
    ],
)
def test_format_memory_approximate_reads_room_in_messages(size, text):
    assert format_memory(size, approximate=True) == text
