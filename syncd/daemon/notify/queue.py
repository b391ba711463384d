"""The retry queue: deliveries not sent yet, kept in a small JSON file in the state directory.

Written atomically (a temporary file, fsync, rename) after every change, so a receiver outage
or a daemon restart loses nothing; bounded in entries (the oldest are dropped first, with a
warning) and in age (the notifier gives up on a delivery older than its ``max_age_s``). A newer
commit status for the same receiver, commit and context replaces a queued one: only the latest
state of a context is worth sending. Entries hold no credentials (they are added at send time).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger("syncd.daemon.notify")
QUEUE_FILE_NAME = "notify-queue.json"
QUEUE_FORMAT = 1


@dataclass
class Delivery:
    """One request to make: to ``target`` (a receiver's key), what ``payload`` says."""

    target: str
    kind: str  # "status" or "alert"
    payload: dict[str, Any]
    created_at: float
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""

    @property
    def replaces_key(self) -> tuple[str, str, str] | None:
        """Commit statuses of one context on one commit replace each other; alerts never."""
        if self.kind != "status":
            return None
        return (self.target, str(self.payload.get("sha")), str(self.payload.get("context")))

    def to_json_dict(self) -> dict[str, Any]:
        """The fields under their camelCase names, as the queue file keeps them."""
        return {_camel_case(f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json_dict(cls, data: Any) -> Delivery | None:
        try:
            return cls(
                target=str(data["target"]),
                kind=str(data["kind"]),
                payload=dict(data["payload"]),
                created_at=float(data["createdAt"]),
                attempts=int(data.get("attempts", 0)),
                next_at=float(data.get("nextAt", 0.0)),
                last_error=str(data.get("lastError", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


@dataclass
class RetryQueue:
    """The deliveries of one state directory, in the order they were queued."""

    path: Path
    limit: int = 1000
    entries: list[Delivery] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, limit: int) -> RetryQueue:
        """The queue saved at ``path``; empty when there is none. An unreadable or damaged file
        is logged and set aside (``.damaged``), never a reason not to start."""
        queue = cls(path, limit)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return queue
        except (OSError, ValueError) as exc:
            log.error("notification queue %s is unreadable (%s): starting empty", path, exc)
            _set_aside(path)
            return queue
        raw = data.get("deliveries") if isinstance(data, dict) else None
        if not isinstance(raw, list):
            log.error("notification queue %s is not syncd's format: starting empty", path)
            _set_aside(path)
            return queue
        queue.entries = [d for d in map(Delivery.from_json_dict, raw) if d is not None]
        queue._bound()
        return queue

    def add(self, delivery: Delivery) -> None:
        key = delivery.replaces_key
        if key is not None:
            self.entries = [e for e in self.entries if e.replaces_key != key]
        self.entries.append(delivery)
        self._bound()

    def remove(self, delivery: Delivery) -> None:
        self.entries = [e for e in self.entries if e is not delivery]

    def _bound(self) -> None:
        excess = len(self.entries) - self.limit
        if excess > 0:
            log.warning(
                "notification queue is over its %d entries: dropping the %d oldest",
                self.limit,
                excess,
            )
            del self.entries[:excess]

    def save(self) -> None:
        """Replace the file atomically; an empty queue removes it. Failures are logged: the
        queue stays in memory and is saved again on the next change."""
        try:
            if not self.entries:
                self.path.unlink(missing_ok=True)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps(
                {"format": QUEUE_FORMAT, "deliveries": [e.to_json_dict() for e in self.entries]},
                indent=1,
            )
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temp, 0o600)
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.error("cannot save the notification queue %s: %s", self.path, exc.strerror)


def _set_aside(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only state dir: the load already said so
        os.replace(path, path.with_name(path.name + ".damaged"))
