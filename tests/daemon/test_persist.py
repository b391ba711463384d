"""The daemon's state files: atomic, versioned, and never fatal when missing or corrupt."""

from __future__ import annotations

import logging

import pytest

from syncd.daemon.persist import read_state, write_state


def test_a_state_file_round_trips_with_its_version(tmp_path):
    path = tmp_path / "state" / "applied.json"
    assert write_state(path, {"commit": "abc"})
    assert read_state(path) == {"version": 1, "commit": "abc"}
    assert [p.name for p in path.parent.iterdir()] == ["applied.json"]  # no temporary left


@pytest.mark.parametrize(
    "content", ["{not json", '["a list"]', '{"version": 99, "commit": "abc"}', "\xff\xfe"]
)
def test_a_corrupt_or_foreign_file_is_ignored_and_said(tmp_path, caplog, content):
    path = tmp_path / "applied.json"
    path.write_text(content, encoding="latin-1")
    with caplog.at_level(logging.WARNING, logger="syncd.daemon"):
        assert read_state(path) == {}
    assert str(path) in caplog.text


def test_a_missing_file_is_an_empty_state(tmp_path):
    assert read_state(tmp_path / "absent.json") == {}


def test_a_state_dir_that_cannot_be_written_is_logged_not_raised(tmp_path, caplog):
    not_a_dir = tmp_path / "state"
    not_a_dir.write_text("a file where the state directory should be")
    with caplog.at_level(logging.ERROR, logger="syncd.daemon"):
        assert not write_state(not_a_dir / "applied.json", {"commit": "abc"})
    assert "could not write" in caplog.text
