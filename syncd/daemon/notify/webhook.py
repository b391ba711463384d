"""A generic JSON webhook: the alert as one JSON object (``AlertEvent.to_json_dict``)."""

from __future__ import annotations

from syncd import __version__
from syncd.daemon.notify.changes import AlertEvent
from syncd.daemon.notify.delivery import HttpRequest


def alert_request(url: str, event: AlertEvent) -> HttpRequest:
    return HttpRequest(url=url, body={**event.to_json_dict(), "source": f"syncd/{__version__}"})
