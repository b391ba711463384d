"""Sending one HTTP request to a receiver, and reading the credentials it needs.

Credentials are read at send time (a rotated token is picked up without a restart) from files
that only their owner may read, as secrets are (``syncd/spec/secrets.py``). They go into the
request's headers or URL only; every message here names the receiver, never the credential.
"""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from syncd import __version__

_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
_MAX_CREDENTIAL_BYTES = 64 * 1024


class DeliveryFailed(Exception):
    """A send that did not succeed; ``retryable`` for 5xx, 429 and network errors."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a token

    def __repr__(self) -> str:  # never the headers, nor a URL that may be a credential
        return f"HttpRequest(body={self.body!r})"


def read_credential(path: Path, what: str) -> str:
    """The stripped contents of ``path``; refused when group or others may read it."""
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise DeliveryFailed(
                    f"the {what} file {path} is not a regular file", retryable=False
                )
            if mode & _SHARED_BITS:
                raise DeliveryFailed(
                    f"the {what} file {path} is readable by others (mode {stat.filemode(mode)}); "
                    f"refusing to use it: chmod 600 {path}",
                    retryable=False,
                )
            data = handle.read(_MAX_CREDENTIAL_BYTES + 1)
    except OSError as exc:
        # a token file being put in place is worth another try, not a dropped status
        raise DeliveryFailed(
            f"cannot read the {what} file {path}: {exc.strerror}", retryable=True
        ) from exc
    value = data.decode("utf-8", "replace").strip()
    if not value or len(data) > _MAX_CREDENTIAL_BYTES:
        raise DeliveryFailed(f"the {what} file {path} is empty or too large", retryable=False)
    return value


def post_json(request: HttpRequest, timeout_s: float) -> int:
    """POST ``request.body`` as JSON; the HTTP status on 2xx, else DeliveryFailed."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"syncd/{__version__}",
        **request.headers,
    }
    http_request = urllib.request.Request(
        request.url, data=json.dumps(request.body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in (408, 429)
        raise DeliveryFailed(f"HTTP {exc.code} {exc.reason}", retryable=retryable) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"cannot connect: {reason}", retryable=True) from None
    except ValueError as exc:  # a malformed URL (from a URL file)
        raise DeliveryFailed(f"invalid URL: {exc}", retryable=False) from None
