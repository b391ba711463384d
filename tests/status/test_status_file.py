"""The status file: atomic replacement, the schema on disk, clear errors, a full filesystem."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from samples import sample_status

from syncd.errors import SyncdError
from syncd.status.model import StatusFormatError, SyncStatus
from syncd.status.statusfile import read_status, status_schema_problems, write_status
from testkit.tmpfs import tiny_tmpfs_at


def test_written_file_validates_against_the_schema_and_reads_back(tmp_path):
    path = tmp_path / "state" / "status.json"
    write_status(path, sample_status())
    on_disk = json.loads(path.read_text())
    assert status_schema_problems(on_disk) == []
    assert read_status(path) == sample_status()
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp file left


def test_rewrite_replaces_the_file(tmp_path):
    path = tmp_path / "status.json"
    write_status(path, sample_status())
    write_status(path, SyncStatus(commit=None, daemon_version="0.1.0"))
    assert read_status(path).deployments == ()


def test_missing_file_says_whether_the_daemon_runs(tmp_path):
    with pytest.raises(SyncdError) as caught:
        read_status(tmp_path / "status.json")
    assert caught.value.message == (
        f"no status file at {tmp_path / 'status.json'}: is the daemon running? "
        "(statusFile in its config)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schemaVersion": 1, "commit"', "is not valid JSON (line 1"),
        ('{"schemaVersion": 1}', "does not match the status schema: $: 'commit' is a required"),
        ('{"schemaVersion": 7}', "written by a newer syncd (schema version 7"),
    ],
)
def test_damaged_or_foreign_files_are_explained(tmp_path, text, message):
    path = tmp_path / "status.json"
    path.write_text(text)
    with pytest.raises(StatusFormatError) as caught:
        read_status(path)
    assert message in caught.value.message


@pytest.fixture()
def tiny_tmpfs(tmp_path):
    """A 16 KiB tmpfs (needs root); skipped where mounting is not allowed."""
    with tiny_tmpfs_at(tmp_path / "tiny", "16k") as mount_point:
        yield mount_point


def test_full_filesystem_keeps_the_previous_file_whole(tiny_tmpfs):
    path = tiny_tmpfs / "status.json"
    write_status(path, sample_status())
    before = path.read_bytes()
    # a status too big for what is left: 32 deployments of 1 KiB details on a 16 KiB filesystem
    # (one details string is bounded, so the size comes from their number)
    huge = sample_status()
    one = huge.deployments[0]
    huge = replace(
        huge,
        deployments=tuple(replace(one, id=f"depl_{i}", details="x" * 1024) for i in range(32)),
    )

    with pytest.raises(SyncdError) as caught:
        write_status(path, huge)

    assert caught.value.message.startswith(f"cannot write the status file {path}: ")
    assert "No space left on device" in caught.value.message
    assert "previous status file is left as it was" in caught.value.message
    assert "free space" in caught.value.hint
    assert path.read_bytes() == before
    assert read_status(path) == sample_status()
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["status.json"]
