"""GitHub (and GitHub Enterprise) commit statuses.

``POST {base}/repos/{owner}/{repo}/statuses/{sha}`` with ``state`` (pending, success, failure,
error), ``context``, ``description`` (at most 140 characters) and ``target_url``; a token with
the ``repo:status`` scope (or a fine-grained token with commit statuses: write), sent as
``Authorization: Bearer``. ``base`` is https://api.github.com, or https://HOST/api/v3.
"""

from __future__ import annotations

from syncd.daemon.notify.changes import CommitState
from syncd.daemon.notify.delivery import HttpRequest
from syncd.daemon.notify.forge import owner_and_name, status_body
from syncd.daemon.notify.settings import CommitStatusTarget

STATES = {"pending": "pending", "success": "success", "failure": "failure"}


def status_request(target: CommitStatusTarget, state: CommitState, token: str) -> HttpRequest:
    return HttpRequest(
        url=f"{target.base_url}/repos/{owner_and_name(target)}/statuses/{state.sha}",
        body=status_body(target, state, STATES),
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
