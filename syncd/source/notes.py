"""Git notes: the daemon's status written beside the commit it is about.

One notes ref per daemon (``refs/notes/syncd`` by default; ``refs/notes/syncd-shards/SHARD``
for the daemon of one shard, so shards never push to the same ref; not ``refs/notes/syncd/SHARD``:
Git cannot hold that beside an existing ``refs/notes/syncd``, a repository that was unsharded). Pushing never overwrites notes that
others pushed to the same ref: the remote's notes are fetched into a temporary ref and merged with
git's ``cat_sort_uniq`` strategy first. That strategy keeps every line of both sides when both
wrote a note on the same commit (sorted, duplicates once), so nothing anyone wrote is lost.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import git

from syncd.errors import SourceError
from syncd.source.gitcommand import (
    SYNCD_IDENTITY,
    git_message,
    identity_env,
    run_git,
    source_error,
    ssh_command,
)
from syncd.source.ssh_sharing import SshSharing

DEFAULT_NOTES_REF = "refs/notes/syncd"
SHARD_NOTES_PREFIX = "refs/notes/syncd-shards/"
_INCOMING_PREFIX = "refs/notes/syncd-incoming/"


def shard_notes_ref(shard: str | None) -> str:
    """The default notes ref of a daemon applying ``shard`` (None: unsharded)."""
    return DEFAULT_NOTES_REF if shard is None else SHARD_NOTES_PREFIX + shard


def _checked_ref(ref: str) -> str:
    if not ref.startswith("refs/notes/") or ref.startswith(_INCOMING_PREFIX) or " " in ref:
        error = SourceError(
            f"invalid notes ref {ref!r}",
            hint="use a ref under refs/notes/, e.g. refs/notes/syncd (notes.ref in the config)",
        )
        error.retryable = False
        raise error
    return ref


def write_note(checkout_dir: Path, sha: str, text: str, ref: str = DEFAULT_NOTES_REF) -> None:
    """Set the note on commit ``sha`` under ``ref`` to ``text``, replacing our previous one.

    The note commit is made as syncd <syncd@localhost>. git normalises the text as it does any
    message (trailing whitespace removed, runs of blank lines collapsed).
    """
    _checked_ref(ref)
    # Through a file, not -m: a status for many deployments can exceed one argument's limit.
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".note", delete=False) as out:
        out.write(text)
        note_file = out.name
    try:
        run_git(
            checkout_dir,
            ["notes", f"--ref={ref}", "add", "--force", "--file", note_file, sha],
            env=identity_env(*SYNCD_IDENTITY),
        )
    except git.GitCommandError as exc:
        raise source_error(f"cannot write the note on {sha[:12]} under {ref}", exc) from exc
    finally:
        os.unlink(note_file)


def read_note(checkout_dir: Path, sha: str, ref: str = DEFAULT_NOTES_REF) -> str | None:
    """The note on commit ``sha`` under ``ref``, or None when there is none."""
    _checked_ref(ref)
    try:
        run_git(checkout_dir, ["rev-parse", "--verify", "--quiet", ref])
    except git.GitCommandError:
        return None  # no note was ever written under this ref
    try:
        return run_git(checkout_dir, ["notes", f"--ref={ref}", "show", sha])
    except git.GitCommandError as exc:
        if "no note found" in git_message(exc).lower():
            return None
        raise source_error(f"cannot read the note on {sha[:12]} under {ref}", exc) from exc


def push_notes(
    checkout_dir: Path,
    ref: str = DEFAULT_NOTES_REF,
    *,
    remote: str = "origin",
    ssh_key: Path | None = None,
    known_hosts: Path | None = None,
    sharing: SshSharing | None = None,
    timeout_s: float = 60,
) -> None:
    """Merge the remote's ``ref`` into ours (cat_sort_uniq), then push it; retry once if
    someone pushed in between. Raises SourceError (retryable) when the remote cannot be
    reached or keeps moving. ``sharing``: the ssh connection the fetches of that remote share
    (both the notes' fetch and their push go through it)."""
    _checked_ref(ref)
    env: dict[str, str] = identity_env(*SYNCD_IDENTITY)
    command = ssh_command(ssh_key, known_hosts, sharing)
    if command is not None:
        env["GIT_SSH_COMMAND"] = command
    try:
        run_git(checkout_dir, ["rev-parse", "--verify", "--quiet", ref])
    except git.GitCommandError:
        return  # nothing written locally: nothing to push
    incoming = _INCOMING_PREFIX + ref.removeprefix("refs/notes/")
    last: git.GitCommandError | None = None
    for _attempt in range(2):
        _merge_remote_notes(checkout_dir, ref, remote, incoming, env, timeout_s)
        try:
            run_git(
                checkout_dir,
                ["push", "--quiet", "--porcelain", remote, f"{ref}:{ref}"],
                env=env,
                timeout_s=timeout_s,
            )
            return
        except git.GitCommandError as exc:
            last = exc  # most likely another writer pushed between our fetch and push
    assert last is not None
    raise source_error(f"cannot push notes {ref} to {remote}", last)


def _merge_remote_notes(
    checkout_dir: Path,
    ref: str,
    remote: str,
    incoming: str,
    env: dict[str, str],
    timeout_s: float,
) -> None:
    try:
        run_git(
            checkout_dir,
            ["fetch", "--quiet", remote, f"+{ref}:{incoming}"],
            env=env,
            timeout_s=timeout_s,
        )
    except git.GitCommandError as exc:
        message = git_message(exc)
        if "couldn't find remote ref" in message.lower():
            return  # the remote has no notes yet: ours go as they are
        raise source_error(f"cannot fetch notes {ref} from {remote}", exc) from exc
    try:
        run_git(
            checkout_dir,
            ["notes", f"--ref={ref}", "merge", "--quiet", "--strategy=cat_sort_uniq", incoming],
            env=env,
        )
    except git.GitCommandError as exc:
        raise source_error(f"cannot merge the remote's notes {ref}", exc) from exc
    finally:
        run_git(checkout_dir, ["update-ref", "-d", incoming])
