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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

# LogRecord attributes that are not user-supplied extras.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# One log line is a sentence, not a dump: whatever a message holds (an engine's endless error,
# a plan of 100,000 replicas), it is cut here, saying how much was left out.
MAX_MESSAGE_CHARS = 8000


def bounded_message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[:MAX_MESSAGE_CHARS]}… ({len(message) - MAX_MESSAGE_CHARS} more characters)"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": bounded_message(record),
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

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = bounded_message(record)
        return super().formatMessage(record)


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


@dataclass
class _Repeat:
    text: str  # what makes two occurrences "the same error"
    message: str  # the line last logged
    logged_at: float
    interval_s: float
    since_logged: int = 0  # occurrences not logged since the last line


class RepeatedErrors:
    """Log an error once, then while it repeats unchanged only at the backoff's pace, with how
    often it came back: "fetch failed ... (repeated 12 times in 5m)".

    A daemon whose head needs a prune the mass-delete guard refuses would otherwise log the same
    ERROR line every pass. The interval starts at ``first_s`` and doubles up to ``max_s`` (the
    retry backoff). An error that changes, or that cleared (:meth:`clear`) and came back, is
    logged at once.
    """

    def __init__(
        self,
        logger: logging.Logger,
        first_s: float,
        max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._clock = clock
        self._first_s = first_s
        self._max_s = max_s
        self._repeats: dict[str, _Repeat] = {}

    def reconfigure(self, first_s: float, max_s: float) -> None:
        self._first_s, self._max_s = first_s, max_s

    def error(self, key: str, message: str, *, same_as: str | None = None) -> bool:
        """Log ``message`` under ``key`` unless it is a repeat not yet due; True when logged.
        ``same_as`` is what must be unchanged for a repeat (default the message itself), for
        messages that also carry a counter ("attempt 3 of 5")."""
        text = message if same_as is None else same_as
        now = self._clock()
        repeat = self._repeats.get(key)
        if repeat is None or repeat.text != text:
            self._log.error("%s", message)
            self._repeats[key] = _Repeat(text, message, now, self._first_s)
            return True
        repeat.since_logged += 1
        if now - repeat.logged_at < repeat.interval_s:
            return False
        self._log.error(
            "%s (repeated %d time%s in %s)",
            message,
            repeat.since_logged,
            "" if repeat.since_logged == 1 else "s",
            _span(now - repeat.logged_at),
        )
        repeat.message, repeat.logged_at, repeat.since_logged = message, now, 0
        repeat.interval_s = min(repeat.interval_s * 2, self._max_s)
        return True

    def clear(self, key: str) -> bool:
        """The error under ``key`` went away; True when it was being tracked."""
        return self._repeats.pop(key, None) is not None

    def clear_except(self, keys: set[str], prefix: str) -> None:
        """Forget the errors under ``prefix`` whose key is not in ``keys`` (e.g. deployments
        that left Git)."""
        for key in [k for k in self._repeats if k.startswith(prefix) and k not in keys]:
            del self._repeats[key]


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"
