"""Files are read by their size (``file_source.read_within``, ``read_from_directory``): the same
bytes as reading up to the limit, without a limit-sized buffer per file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.spec import cache
from syncd.spec.file_source import read_within as _read_within


def test_a_file_is_read_whole_and_a_big_one_just_past_the_limit(tmp_path: Path):
    small, big = tmp_path / "small.yaml", tmp_path / "big.yaml"
    small.write_bytes(b"id: a\n")
    big.write_bytes(b"x" * 100)
    assert _read_within(small, 64) == b"id: a\n"
    assert _read_within(big, 64) == b"x" * 65  # enough to know it is over the limit
    assert (
        _read_within(tmp_path / "empty.yaml", 64) == b""
        if (tmp_path / "empty.yaml").touch() is None
        else False
    )


def test_a_file_that_grew_after_its_size_was_read_is_read_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"0123456789" * 3)
    real_fstat = os.fstat

    class Smaller:
        def __init__(self, info: os.stat_result) -> None:
            self.st_size = info.st_size - 20  # the size before the last write

    monkeypatch.setattr(cache.os, "fstat", lambda fd: Smaller(real_fstat(fd)))
    assert _read_within(path, 64) == b"0123456789" * 3
    assert _read_within(path, 15) == (b"0123456789" * 3)[:16]


def test_a_directory_source_reads_by_size_and_refuses_a_file_over_the_limit(tmp_path: Path):
    from syncd.spec.file_source import read_from_directory

    (tmp_path / "small.yaml").write_bytes(b"id: a\n")
    (tmp_path / "big.yaml").write_bytes(b"x" * 100)
    assert read_from_directory(tmp_path, "small.yaml", 64) == b"id: a\n"
    over = read_from_directory(tmp_path, "big.yaml", 64)
    assert not isinstance(over, bytes)
    assert (over.file, over.line, over.path) == ("big.yaml", 1, "$")
    assert "100 bytes, over the 64-byte limit" in over.message
    with pytest.raises(OSError):
        read_from_directory(tmp_path, "missing.yaml", 64)


def test_a_directory_source_reads_on_when_a_read_returns_less(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from syncd.spec import file_source

    (tmp_path / "f.yaml").write_bytes(b"0123456789" * 3)
    real_read = os.read
    monkeypatch.setattr(file_source.os, "read", lambda fd, count: real_read(fd, min(count, 7)))
    assert file_source.read_from_directory(tmp_path, "f.yaml", 64) == b"0123456789" * 3
