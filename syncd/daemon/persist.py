"""What the daemon keeps in its state directory between runs: small JSON files, each written
atomically (a temporary file, fsync, rename) and carrying a format version.

Labels on the nodes and the Git history stay the source of truth; these files only let a
restarted daemon resume where it was (the last applied commit for the rollback guard, the
autoscaled counts and their stabilisation windows). A file
that is missing, unreadable, corrupt or of another version is never fatal: it is logged and the
daemon starts from nothing, as before the file existed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("syncd.daemon")

FORMAT_VERSION = 1
APPLIED_FILE = "applied.json"  # {"version": 1, "commit": "<sha>"}
# {"version": 1, "deployments": {id: {"baseline", "count", "recommendations", "scaleChanges"}}}
AUTOSCALING_FILE = "autoscaling.json"


def read_state(path: Path) -> dict[str, Any]:
    """The file's content, or {} when it is missing or cannot be trusted (logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s, starting without it: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        log.warning("ignoring %s: not a version %d state file", path, FORMAT_VERSION)
        return {}
    return data


def write_state(path: Path, data: dict[str, Any]) -> bool:
    """Replace the file with ``data`` (plus the version) atomically; False (logged) when it
    could not be written, which costs a resumed state after a restart, never a wrong one."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump({"version": FORMAT_VERSION, **data}, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        return True
    except OSError as exc:
        log.error("could not write %s: %s", path, exc.strerror or exc)
        with contextlib.suppress(OSError):  # nothing was made (no directory to make it in)
            temporary.unlink(missing_ok=True)
        return False
