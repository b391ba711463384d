"""The daemon's web page: server-rendered, read-only, served on the daemon's own listener."""

from syncd.daemon.web.app import WebPage

__all__ = ["WebPage"]
