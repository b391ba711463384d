"""The Plan page's top when the branch head is refused: which commit, why, what stays applied,
and what the head would change (``syncd.daemon.head_preview``, made once per head by the pass
thread; reading it here costs no pass)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from syncd.daemon.web.facts import age, clock, plan_view

if TYPE_CHECKING:
    from syncd.daemon.web.facts import DaemonFacts
    from syncd.errors import SpecProblem

SHOWN_PROBLEMS = 50  # a commit with thousands of problems: `syncd validate` lists them all
COMMIT_WIDE = "(commit)"  # the file of a problem with the whole commit (signature, ancestry)


def refused_head(facts: DaemonFacts) -> dict[str, Any] | None:
    """The refused head as the Plan page shows it, or None when the head is applied."""
    daemon = facts.daemon
    head = daemon.reconciler.previews.current
    if head is None:
        return None
    info = facts.commit_info(head.sha)
    good = daemon.good
    applied = None
    if good is not None:
        applied_info = facts.commit_info(good.sha)
        applied = {
            "short": good.sha[:12],
            "subject": applied_info.subject if applied_info else "",
        }
    why = problem_rows(head.problems)
    # A head that is invalid is refused for the very errors that stop it loading: once is enough.
    load_problems = [] if head.load_problems == head.problems else problem_rows(head.load_problems)
    return {
        "sha": head.sha,
        "short": head.sha[:12],
        "subject": info.subject if info else "",
        "author": info.author.split(" <", 1)[0] if info else "",
        "age": age(info.date) if info else "",
        "why": why[:SHOWN_PROBLEMS],
        "more": max(len(why) - SHOWN_PROBLEMS, 0),
        "loads": not head.load_problems,
        "load_problems": load_problems[:SHOWN_PROBLEMS],
        "load_more": max(len(load_problems) - SHOWN_PROBLEMS, 0),
        "applied": applied,
        "plan": plan_view(head.plan) if head.plan is not None else None,
        "preview_error": head.preview_error or "",
        "planned": clock(datetime.fromtimestamp(head.planned_at, UTC)),
    }


def problem_rows(problems: Iterable[SpecProblem]) -> list[dict[str, Any]]:
    """Each problem as file, line, field and message (a whole-commit one has no file)."""
    return [
        {
            "file": "" if problem.file == COMMIT_WIDE else problem.file,
            "line": problem.line,
            "field": "" if problem.path == "$" else problem.path,
            "message": problem.message,
        }
        for problem in problems
    ]
