"""Daemon logging: readable text lines for a terminal, or one JSON object a line for collectors.

Plain stdlib logging with a small JSON formatter (no extra dependency). Nothing the daemon logs
carries a secret value: messages are built from names, counts and engine output that apply has
already redacted; ``ContainerRequest`` masks its env in ``repr``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

# LogRecord attributes that are not user-supplied extras.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-28T07:54:52Z INFO    syncd.daemon: message`` (UTC, like the JSON lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        self.converter = time.gmtime


def setup_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Send syncd's (and its libraries') logs to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_syncd", False):
            root.removeHandler(old)
    handler._syncd = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # APScheduler logs every job run at INFO: a line every few seconds says nothing useful.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("docker").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
