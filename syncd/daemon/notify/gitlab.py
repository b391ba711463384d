"""GitLab commit statuses (gitlab.com or self-hosted).

``POST {base}/api/v4/projects/:id/statuses/:sha`` with ``state`` (pending, running, success,
failed, canceled), ``name`` (the context), ``description`` and ``target_url``; ``:id`` is the
numeric project id or the URL-encoded path (``group%2Fproject``); a token with the ``api`` scope
in the ``PRIVATE-TOKEN`` header. A rollout in progress is ``running``; waiting is ``pending``.
"""

from __future__ import annotations

from urllib.parse import quote

from syncd.daemon.notify.changes import CommitState
from syncd.daemon.notify.delivery import HttpRequest
from syncd.daemon.notify.forge import status_body
from syncd.daemon.notify.settings import CommitStatusTarget

STATES = {"pending": "running", "success": "success", "failure": "failed"}


def status_request(target: CommitStatusTarget, state: CommitState, token: str) -> HttpRequest:
    project = quote(target.repository, safe="")
    return HttpRequest(
        url=f"{target.base_url}/api/v4/projects/{project}/statuses/{state.sha}",
        body=status_body(target, state, STATES, context_key="name"),
        headers={"PRIVATE-TOKEN": token},
    )
