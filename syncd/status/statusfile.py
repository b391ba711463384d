"""The status file: written atomically after every pass, read by ``syncd status`` and friends.

A reader (the CLI, a monitoring script) must never see half a file, and a full disk must never
leave a truncated one: the status is written to a temporary file in the same directory, flushed
and fsynced, renamed over the old file (atomic on POSIX), and the directory is fsynced so the
rename itself survives a crash. If any step fails the old file is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from syncd.errors import SyncdError
from syncd.status.model import SCHEMA_VERSION, StatusFormatError, SyncStatus

STATUS_FILE_MODE = 0o644  # readable by `syncd status` run as another user: it holds no secrets


def status_json(status: SyncStatus) -> str:
    """The status file's text: indented JSON ending in a newline."""
    return json.dumps(status.to_json_dict(), indent=2, ensure_ascii=False) + "\n"


def write_status(path: Path, status: SyncStatus) -> None:
    """Replace the status file at ``path`` atomically.

    Raises SyncdError saying what failed (no space left, permission denied...) and that the
    previous status file is unchanged.
    """
    path = Path(path)
    data = status_json(status).encode("utf-8")
    directory = path.parent
    temp_name: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, STATUS_FILE_MODE)
        os.replace(temp_name, path)
        temp_name = None
        _fsync_directory(directory)
    except OSError as exc:
        raise SyncdError(
            f"cannot write the status file {path}: {_reason(exc)}; the previous status file "
            "is left as it was",
            hint=_hint(exc, directory),
        ) from exc
    finally:
        if temp_name is not None:
            with contextlib.suppress(OSError):  # already gone: nothing else to clean
                os.unlink(temp_name)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _hint(exc: OSError, directory: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on the filesystem of {directory}, or point statusFile elsewhere"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"let the daemon's user write to {directory} (systemd: ReadWritePaths=)"
    return "check the statusFile path in the daemon's config"


def read_status(path: Path) -> SyncStatus:
    """Read and check the status file at ``path``.

    Raises SyncdError when there is no file (the daemon is not running or writes elsewhere) and
    StatusFormatError when the file is not a status syncd wrote.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SyncdError(
            f"no status file at {path}: is the daemon running? (statusFile in its config)",
            hint="start the daemon (`syncd daemon --config FILE`) or give the path its config "
            "names as statusFile",
        ) from exc
    except OSError as exc:
        raise SyncdError(f"cannot read the status file {path}: {_reason(exc)}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusFormatError(
            f"the status file {path} is not valid JSON (line {exc.lineno}: {exc.msg})",
            hint="the daemon rewrites it after its next pass; do not edit it by hand",
        ) from exc
    version = data.get("schemaVersion") if isinstance(data, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return SyncStatus.from_json_dict(data)  # raises, naming both versions
    problems = status_schema_problems(data)
    if problems:
        raise StatusFormatError(
            f"the status file {path} does not match the status schema: {problems[0]}",
            hint="the daemon rewrites it after its next pass; the daemon and this syncd may "
            "differ in version",
        )
    return SyncStatus.from_json_dict(data)


@cache
def _validator() -> Draft202012Validator:
    schema_file = resources.files("syncd") / "schemas" / "status.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def status_schema_problems(data: Any) -> list[str]:
    """Every way ``data`` differs from schemas/status.schema.json, as "$.path: message"."""
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path)):
        location = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        problems.append(f"{location}: {error.message}")
    return problems
