"""Running git commands for the source layer: one place for timeouts, environment and errors.

Network and write operations go through the git binary (via GitPython's command runner) rather
than GitPython's object layer: git's own messages are what a user can act on, a timeout can kill
a hung fetch, and no long-lived ``cat-file`` process is left behind between passes.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import git

from syncd.errors import SourceError
from syncd.source.ssh_sharing import SshSharing

# Never wait for a password on a terminal the daemon does not have; never read a pager.
_BASE_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_ASKPASS": "true"}

#: the identity of commits syncd makes itself (git notes), unless the caller gives another
SYNCD_IDENTITY = ("syncd", "syncd@localhost")


def ssh_command(
    ssh_key: Path | None, known_hosts: Path | None, sharing: SshSharing | None = None
) -> str | None:
    """The GIT_SSH_COMMAND for a deploy key, a pinned known_hosts file and connection sharing
    (None: ssh's default, or the user's own GIT_SSH_COMMAND, GIT_SSH or core.sshCommand).

    Host keys are always checked strictly: an unknown or changed host key fails the fetch, it is
    never accepted on first use. With ``sharing`` the connection goes through a master that
    later commands reuse (ssh_sharing.py), unless the user chose their own ssh command and gave
    no key: that command, and the ssh config it reads, stay untouched.
    """
    if ssh_key is None and known_hosts is None and (sharing is None or _user_ssh_command()):
        return None
    parts = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    if ssh_key is not None:
        parts += ["-i", str(ssh_key), "-o", "IdentitiesOnly=yes"]
    if known_hosts is not None:
        parts += ["-o", f"UserKnownHostsFile={known_hosts}"]
    if sharing is not None:
        parts += sharing.options(ssh_key, known_hosts)
    return " ".join(shlex.quote(part) for part in parts)


def _user_ssh_command() -> bool:
    """Whether the environment or the user's git config names an ssh command of its own."""
    if os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH"):
        return True
    try:
        return bool(run_git(None, ["config", "--get", "core.sshCommand"]))
    except git.GitCommandError:  # status 1: not set
        return False


def identity_env(name: str, email: str) -> dict[str, str]:
    """Author and committer environment for a commit made as ``name <email>``."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def run_git(
    cwd: Path | None,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> str:
    """Run ``git ARGS`` in ``cwd`` and return stdout without the final newline.

    Raises GitCommandError (with git's stderr) on a non-zero exit or when ``timeout_s`` passes;
    callers turn it into a SourceError that says what they were doing.
    """
    runner = git.Git(str(cwd) if cwd is not None else None)
    full_env = {**_BASE_ENV, **(env or {})}
    output = runner.execute(
        ["git", *args], env=full_env, kill_after_timeout=timeout_s, stdout_as_string=True
    )
    return str(output).rstrip("\n")


_BOILERPLATE = (
    "Please make sure you have the correct access rights",
    "and the repository exists.",
    "hint:",
    "fatal: Could not read from remote repository.",
)


def git_message(error: git.GitCommandError) -> str:
    """Git's own words from a failed command: its stderr, stripped of GitPython's framing."""
    stderr = error.stderr
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    text = (stderr or "").strip()
    # GitPython wraps stderr as "\n  stderr: '...'"; keep only what git printed.
    if text.startswith("stderr: '") and text.endswith("'"):
        text = text[len("stderr: '") : -1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return f"git exited with status {error.status}"
    # Drop git's generic advice; keep what names the cause (ssh's "Permission denied
    # (publickey)", "Host key verification failed", "fatal: ...", "! [rejected] ...").
    useful = [line for line in lines if not line.startswith(_BOILERPLATE)]
    return "; ".join(useful or lines)


def source_error(
    action: str, error: git.GitCommandError, *, hint: str | None = None
) -> SourceError:
    """A retryable SourceError saying what we were doing and what git answered."""
    return SourceError(f"{action}: {git_message(error)}", hint=hint)


def tree_entries(cwd: Path, commit: str) -> list[tuple[int, str, str, bytes]]:
    """Every entry of ``commit``'s tree, recursively, parents before children: ``(mode, type,
    sha, path)`` with ``type`` ``blob``, ``tree`` or ``commit`` (a submodule) and the path as
    raw bytes relative to the top. One ``git ls-tree`` call. Raises GitCommandError."""
    listing = git_output(cwd, ("ls-tree", "-r", "-t", "-z", "--full-tree", commit))
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.decode("ascii").split()
        entries.append((int(mode, 8), kind, sha, path))
    return entries


def read_blobs(cwd: Path, shas: Sequence[str]) -> Iterator[bytes]:
    """The bytes of each blob in ``shas``, in order, from one ``git cat-file --batch`` process
    (not one process, nor one round trip, per file: a checkout of 10,000 files reads them in
    one stream). Raises GitCommandError when a sha names no blob."""
    process = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=cwd,
        env={**os.environ, **_BASE_ENV},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None

    def feed() -> None:  # from a thread: git answers while we write, and its pipe is bounded
        assert process.stdin is not None
        try:
            process.stdin.write(b"".join(sha.encode("ascii") + b"\n" for sha in shas))
            process.stdin.close()
        except BrokenPipeError:  # git stopped early; the reader below says why
            pass

    feeder = threading.Thread(target=feed, name="git-cat-file-feed", daemon=True)
    feeder.start()
    try:
        for sha in shas:
            header = process.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise git.GitCommandError(["git", "cat-file", "--batch"], 128, f"no blob {sha}")
            data = process.stdout.read(int(header[2]))
            process.stdout.read(1)  # the newline after each object
            yield data
    finally:
        process.stdout.close()
        process.kill()
        process.wait()
        feeder.join()


def git_output(cwd: Path, args: Sequence[str]) -> bytes:
    """stdout of ``git ARGS`` in ``cwd`` as bytes, from one process (no GitPython object
    layer); GitCommandError with git's stderr, OSError when ``cwd`` does not exist."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **_BASE_ENV}, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise git.GitCommandError(["git", *args], done.returncode, done.stderr)
    return done.stdout
