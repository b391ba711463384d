"""Gitea and Forgejo commit statuses.

``POST {base}/api/v1/repos/{owner}/{repo}/statuses/{sha}`` with ``state`` (pending, success,
error, failure, warning), ``context``, ``description`` and ``target_url``; a token with
repository write access, sent as ``Authorization: token TOKEN``.
"""

from __future__ import annotations

from syncd.daemon.notify.changes import CommitState
from syncd.daemon.notify.delivery import HttpRequest
from syncd.daemon.notify.forge import owner_and_name, status_body
from syncd.daemon.notify.settings import CommitStatusTarget

STATES = {"pending": "pending", "success": "success", "failure": "failure"}


def status_request(target: CommitStatusTarget, state: CommitState, token: str) -> HttpRequest:
    return HttpRequest(
        url=f"{target.base_url}/api/v1/repos/{owner_and_name(target)}/statuses/{state.sha}",
        body=status_body(target, state, STATES),
        headers={"Authorization": f"token {token}"},
    )
