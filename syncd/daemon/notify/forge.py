"""What the three forges' commit-status requests share: the JSON body.

Each forge module keeps only what differs (its URL, its state names, its auth header, and the
key it calls the context by), so a new forge is one short module.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from syncd.daemon.notify.changes import CommitState
from syncd.daemon.notify.settings import CommitStatusTarget


def status_body(
    target: CommitStatusTarget,
    state: CommitState,
    states: Mapping[str, str],
    *,
    context_key: str = "context",
) -> dict[str, object]:
    """The body of a commit-status POST: the forge's name for the state, the context under
    ``context_key``, the description, and ``target_url`` when the target sets one."""
    body: dict[str, object] = {
        "state": states[state.state],
        context_key: state.context,
        "description": state.description,
    }
    if target.target_url:
        body["target_url"] = target.target_url
    return body


def owner_and_name(target: CommitStatusTarget) -> str:
    """``OWNER/NAME`` of the target's repository, each part URL-quoted (GitHub and Gitea)."""
    owner, _, name = target.repository.partition("/")
    return f"{quote(owner)}/{quote(name)}"
