"""The git note the daemon writes on each commit it passes over: a summary for people, then JSON.

``git log --notes=syncd`` shows the summary right under the commit; tools read the JSON after
the separator line. The JSON is one line so that git's ``cat_sort_uniq`` notes merge (which sorts
lines) keeps each writer's JSON whole; every JSON line after the separator is one status.
"""

from __future__ import annotations

import json
from dataclasses import replace

from syncd.status.model import StatusFormatError, SyncStatus, format_time
from syncd.status.tables import render_table

SEPARATOR = "--- syncd-status-json ---"
# A note is pushed to the origin with every commit: bounded whatever the repository holds.
NOTE_ROWS = 50  # deployments in the summary table
NOTE_PROBLEMS = 20  # validation errors in the summary
# Past this the note's JSON leaves out the instance lists (the status file keeps them).
NOTE_JSON_CHARS = 256 * 1024


def render_note(status: SyncStatus, note_commit: str | None = None) -> str:
    """The note for commit ``note_commit`` (default: the newest commit the status knows).

    Secrets never reach a SyncStatus, so they never reach a note.
    """
    note_commit = note_commit or status.head_commit or status.commit
    lines: list[str] = []
    if note_commit and status.commit and note_commit != status.commit:
        reason = status.head_error or "it was refused"
        lines.append(f"syncd: commit {note_commit[:12]} is not applied: {reason}")
        lines.append(f"syncd: commit {status.commit[:12]} stays applied ({status.commit_subject})")
    elif note_commit and status.commit is None:
        reason = status.head_error or "no commit has been applied yet"
        lines.append(f"syncd: commit {note_commit[:12]} is not applied: {reason}")
    elif status.commit:
        lines.append(f"syncd: commit {status.commit[:12]} applied ({status.commit_subject})")
    when = format_time(status.last_pass_at) or "never"
    lines.append(f"last pass {when}, syncd {status.daemon_version or 'unknown version'}")
    if status.source_stale:
        lines.append(f"source stale: {status.source_error}")
    if status.deployments:
        lines.append("")
        shown = status.deployments[:NOTE_ROWS]
        rows = [(d.id, d.status, " ".join(d.details.split())) for d in shown]
        lines.append(render_table(("DEPLOYMENT", "STATUS", "DETAILS"), rows))
        if len(status.deployments) > NOTE_ROWS:
            lines.append(f"... and {len(status.deployments) - NOTE_ROWS} more deployments")
    if status.validation_errors:
        lines.append("")
        lines.append(f"{len(status.validation_errors)} validation error(s):")
        lines.extend(f"  {problem}" for problem in status.validation_errors[:NOTE_PROBLEMS])
        if len(status.validation_errors) > NOTE_PROBLEMS:
            lines.append(f"  ... and {len(status.validation_errors) - NOTE_PROBLEMS} more")
    lines.append(SEPARATOR)
    lines.append(_note_json(status))
    return "\n".join(lines) + "\n"


def _note_json(status: SyncStatus) -> str:
    """The status as one JSON line; without instance lists when it would be too big."""
    text = json.dumps(status.to_json_dict(), separators=(",", ":"), ensure_ascii=False)
    if len(text) <= NOTE_JSON_CHARS:
        return text
    slim = replace(status, deployments=tuple(replace(d, instances=()) for d in status.deployments))
    return json.dumps(slim.to_json_dict(), separators=(",", ":"), ensure_ascii=False)


def statuses_in_note(text: str) -> list[SyncStatus]:
    """Every status in a note: one, or several when notes of several writers were merged."""
    if SEPARATOR not in text:
        raise StatusFormatError("the note holds no syncd status (no separator line)")
    json_part = text.split(SEPARATOR, 1)[1]
    statuses = []
    for line in json_part.splitlines():
        if line.startswith("{"):
            try:
                statuses.append(SyncStatus.from_json_dict(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise StatusFormatError(
                    f"a status line in the note is not JSON: {exc.msg}"
                ) from exc
    return statuses
