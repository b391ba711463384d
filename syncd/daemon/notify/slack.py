"""Slack incoming webhooks, and the receivers compatible with them (Mattermost, Rocket.Chat,
Discord's ``/slack`` endpoint): ``{"text": ...}`` posted to the webhook's secret URL."""

from __future__ import annotations

from syncd.daemon.notify.changes import AlertEvent
from syncd.daemon.notify.delivery import HttpRequest

ICONS = {"error": ":warning:", "failed": ":x:", "reverted": ":leftwards_arrow_with_hook:"}


def alert_request(url: str, event: AlertEvent) -> HttpRequest:
    icon = ICONS.get(event.kind, ":white_check_mark:")
    return HttpRequest(url=url, body={"text": f"{icon} {_escape(event.summary)}"})


def _escape(text: str) -> str:
    # Slack's mrkdwn reads these three as control characters
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
