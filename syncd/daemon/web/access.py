"""Who may see the page: a bearer token (header or the page's cookie) from the page's own
read-only tokens file or the API's, or anyone on loopback when ``web.openOnLoopback`` is set."""

from __future__ import annotations

import ipaddress
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from syncd.daemon.tokens import TokenStore, TokensUnavailable, authenticate

if TYPE_CHECKING:
    from syncd.daemon.config import DaemonSettings
    from syncd.daemon.http import Request

COOKIE = "syncd_page"


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class PageAccess:
    """Decides per request; tokens are re-read when their file changes (``TokenStore``)."""

    def __init__(self, settings: DaemonSettings) -> None:
        web = settings.web
        self.open_on_loopback = web.open_on_loopback
        tokens_file = web.tokens_file or settings.api.tokens_file
        self.tokens = TokenStore(tokens_file) if tokens_file is not None else None
        if self.tokens is not None:
            self.tokens.load()  # a bad file fails the daemon's start, as the API's does

    @property
    def off(self) -> bool:
        """No way in at all: the page says how to turn it on."""
        return self.tokens is None and not self.open_on_loopback

    def allows(self, request: Request) -> bool:
        if self.open_on_loopback and is_loopback(request.remote):
            return True
        return self.check_token(_presented(request))

    def check_token(self, token: str | None) -> bool:
        if self.tokens is None or not token:
            return False
        try:
            return authenticate(self.tokens.tokens(), f"Bearer {token}") is not None
        except TokensUnavailable:
            return False


def _presented(request: Request) -> str | None:
    """The token in ``Authorization: Bearer`` or in the page's cookie."""
    header = request.header("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = SimpleCookie()
    try:
        cookie.load(request.header("cookie") or "")
    except CookieError:
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None
