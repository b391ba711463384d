"""``POST /webhook``: the providers' signatures, checked while the body streams in.

Webhooks only ever trigger a fetch: the payload is never trusted for content (nor kept), so a
forged or replayed body can at worst make the daemon look at its own remote again. That is why
the body is never buffered: the HMACs are updated chunk by chunk and the bytes dropped, so a
flood of large unauthenticated bodies costs a few 64 KiB buffers, not their size. A request
that carries no signature header of a configured provider is refused before its body is read,
one whose Content-Length is over the cap before a byte is read.

The cap (``webhook.maxBodyBytes``, 5 MiB by default): GitHub caps payloads at 25 MB, but a push
event lists at most 2,048 commits of about 1-2 KB each, and Gitea's and GitLab's push events are
of the same shape; 5 MiB is above any push we expect to serve and a fifth of GitHub's absolute cap.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.daemon.http import Handler, Request, Response

log = logging.getLogger("syncd.daemon.http")

DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


@dataclass(frozen=True)
class WebhookSecrets:
    """Shared secrets per provider (None: that provider is refused). Values never logged."""

    github: bytes | None = field(default=None, repr=False)
    gitea: bytes | None = field(default=None, repr=False)
    gitlab: bytes | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @property
    def any(self) -> bool:
        return any((self.github, self.gitea, self.gitlab))


class SecretFileRefused(Exception):
    """A webhook secret file that cannot be used; the message says why and what to do."""


def read_secret_file(path: Path) -> bytes | None:
    """The secret in ``path`` (stripped; None when empty). Raises SecretFileRefused when the
    file's group or others may access it (like the API tokens file) or it cannot be read."""
    try:
        mode = os.stat(path).st_mode
        if mode & _SHARED_BITS:
            raise SecretFileRefused(
                f"the webhook secret file {path} is open to its group or others (mode "
                f"{stat.S_IMODE(mode):03o}): refused, it holds a credential; chmod 600 {path}"
            )
        return path.read_bytes().strip() or None
    except OSError as exc:
        raise SecretFileRefused(
            f"cannot read the webhook secret file {path}: {exc.strerror}"
        ) from exc


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _claims(secrets: WebhookSecrets, lower: Mapping[str, str]) -> dict[str, str]:
    """provider → the signature or token its header carries, for configured providers only."""
    claims: dict[str, str] = {}
    github_sig = lower.get("x-hub-signature-256")
    if secrets.github and github_sig:
        claims["github"] = github_sig.strip()
    gitea_sig = lower.get("x-gitea-signature") or lower.get("x-forgejo-signature")
    if secrets.gitea and gitea_sig:
        claims["gitea"] = gitea_sig.strip().lower()
    gitlab_token = lower.get("x-gitlab-token")
    if secrets.gitlab and gitlab_token is not None:
        claims["gitlab"] = gitlab_token
    return claims


def verify_webhook_stream(
    secrets: WebhookSecrets, headers: Mapping[str, str], chunks: Iterable[bytes]
) -> str | None:
    """The provider whose signature or token checks out, or None; the body is read (and
    dropped) only when a configured provider's header is present. Every comparison is constant
    time (``hmac.compare_digest``); a provider without a configured secret never matches."""
    claims = _claims(secrets, _lower(headers))
    if not claims:
        return None
    macs = {
        provider: hmac.new(secret, digestmod=hashlib.sha256)
        for provider, secret in (("github", secrets.github), ("gitea", secrets.gitea))
        if provider in claims and secret
    }
    for chunk in chunks if macs else ():
        for mac in macs.values():
            mac.update(chunk)
    if "github" in macs:
        expected = "sha256=" + macs["github"].hexdigest()
        if hmac.compare_digest(expected.encode(), claims["github"].encode()):
            return "github"
    if "gitea" in macs and hmac.compare_digest(
        macs["gitea"].hexdigest().encode(), claims["gitea"].encode()
    ):
        return "gitea"
    if (
        "gitlab" in claims
        and secrets.gitlab
        and hmac.compare_digest(secrets.gitlab, claims["gitlab"].encode())
    ):
        return "gitlab"
    return None


def verify_webhook(secrets: WebhookSecrets, headers: Mapping[str, str], body: bytes) -> str | None:
    """``verify_webhook_stream`` over a body already in memory."""
    return verify_webhook_stream(secrets, headers, (body,))


def webhook_handler(
    get_secrets: Callable[[], WebhookSecrets], on_push: Callable[[str], None]
) -> Handler:
    """``POST /webhook``: 202 and a fetch trigger for a valid signature, else 401 (or 413)."""
    from syncd.daemon.http import Response

    def handle(request: Request) -> Response:
        secrets = get_secrets()
        if not secrets.any:
            return Response.error(404, "webhooks are not configured on this daemon")
        limit = secrets.max_body_bytes
        request.content_length(limit)  # BodyTooLarge (413) before a byte is read
        provider = verify_webhook_stream(secrets, request.headers, request.chunks(limit))
        if provider is None:
            log.warning("webhook refused: missing or wrong signature")
            return Response.error(401, "missing or wrong webhook signature or token")
        log.info("webhook from %s: fetching", provider)
        on_push(provider)
        return Response.json(202, {"accepted": True, "provider": provider})

    return handle
