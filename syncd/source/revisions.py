"""Reading one revision of a Git repository: resolve a name to a sha, write its tree to a directory.

The planner (``syncd plan --base A --head B``) and the daemon both read a repository through
these two functions, so a revision means exactly what ``git rev-parse`` says it means (a branch,
a tag, a sha or ``main~1``) and a checkout holds exactly the committed files: modes kept,
symlinks written as symlinks (the spec loader decides whether one escapes the repository),
never a ``.git`` directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from syncd.errors import SourceError
from syncd.source.gitcommand import read_blobs, source_error, tree_entries

# (mode, type, sha, path) as ``tree_entries`` lists them
TreeEntry = tuple[int, str, str, bytes]

# Git's tree entry modes (git stores only these; see `git help fast-import`, "filemodify").
_MODE_SYMLINK = 0o120000
_MODE_EXECUTABLE = 0o100755


def open_repo(repo_path: Path) -> git.Repo:
    """Open the repository at ``repo_path`` (a work tree or a bare repository).

    The caller closes it (``repo.close()``): GitPython keeps ``git cat-file`` processes alive
    per Repo, which leak in a long-running process if never closed.
    """
    try:
        return git.Repo(repo_path)
    except git.NoSuchPathError as exc:
        raise SourceError(
            f"no Git repository at {repo_path}: the path does not exist",
            hint="check the repository path (or repo.url in the daemon's config)",
        ) from exc
    except git.InvalidGitRepositoryError as exc:
        raise SourceError(
            f"{repo_path} is not a Git repository",
            hint="point at a Git work tree or a bare repository (run `git init` to make one)",
        ) from exc


def _commit_of(repo: git.Repo, repo_path: Path, rev: str) -> git.Commit:
    # A name that starts with "-" would be read as an option by any git command it reaches.
    if not rev or rev.startswith("-"):
        raise _unknown_revision(rev, repo_path, "not a revision name")
    try:
        commit = repo.commit(rev)
        # A full sha is not looked up until read: make sure the object exists and is a commit.
        if repo.odb.info(commit.binsha).type != b"commit":
            raise ValueError("not a commit")
        return commit
    except (BadName, BadObject, ValueError, IndexError, git.GitCommandError) as exc:
        # GitPython's own wording names its internals; the cause stays chained for debugging.
        raise _unknown_revision(rev, repo_path, "it names no commit there") from exc


def _unknown_revision(rev: str, repo_path: Path, reason: str) -> SourceError:
    error = SourceError(
        f"unknown revision {rev!r} in {repo_path}: {reason}",
        hint="give a branch, tag or commit that exists there (`git log --oneline` lists commits; "
        "fetch first if it was pushed elsewhere)",
    )
    # Asking again will not make a missing name appear: a permanent error, unlike a fetch.
    error.retryable = False
    return error


def resolve_revision(repo_path: Path, rev: str) -> str:
    """Return the full sha of the commit that ``rev`` names in the repository at ``repo_path``.

    Raises SourceError when the path is no repository or the name resolves to no commit.
    """
    repo = open_repo(repo_path)
    try:
        return _commit_of(repo, repo_path, rev).hexsha
    finally:
        repo.close()


def checkout_revision(repo_path: Path, rev: str, dest: Path) -> str:
    """Write the tree of commit ``rev`` of the repository at ``repo_path`` into ``dest``.

    ``dest`` must be an empty directory or not exist yet. Files keep their executable bit,
    symlinks are written as symlinks, submodules as empty directories; no ``.git`` is written.
    Returns the commit's full sha. Raises SourceError for an unknown revision or a ``dest``
    that is not empty.
    """
    dest = Path(dest)
    if dest.exists():
        if not dest.is_dir():
            raise SourceError(f"cannot check out into {dest}: it is not a directory")
        if any(dest.iterdir()):
            raise SourceError(
                f"cannot check out into {dest}: the directory is not empty",
                hint="give an empty or new directory",
            )
    repo = open_repo(repo_path)
    try:
        sha = _commit_of(repo, repo_path, rev).hexsha
    finally:
        repo.close()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _write_tree(repo_path, sha, dest)
    except git.GitCommandError as exc:
        raise source_error(f"cannot write commit {sha[:12]} to {dest}", exc) from exc
    return sha


def _write_tree(repo_path: Path, sha: str, dest: Path) -> None:
    """Write commit ``sha``'s tree under ``dest``: one ``ls-tree`` for the entries, one
    ``cat-file --batch`` stream for every blob's bytes (GitPython's object layer costs a round
    trip and a stream object per file, most of a 10,000-file checkout's time)."""
    write_entries(repo_path, tree_entries(repo_path, sha), dest)


def write_entries(repo_path: Path, entries: Sequence[TreeEntry], dest: Path) -> None:
    """Write tree entries (``tree_entries``' records, parents before children, paths relative
    to ``dest``) under ``dest`` as a checkout does; the blobs come in one ``cat-file`` stream.
    Raises GitCommandError."""
    blobs = [(mode, path) for mode, kind, _, path in entries if kind == "blob"]
    # Git stores one path component per entry and never "." or ".." (fsck rejects them), and
    # ls-tree paths are relative, so writing entries under dest cannot escape it.
    for _, kind, _, path in entries:
        if kind != "blob":
            # a folder (parents come first), or a submodule, whose commit lives in another
            # repository: an empty directory stands for it
            os.mkdir(os.path.join(dest, os.fsdecode(path)))
    contents = read_blobs(
        repo_path, [blob_sha for _, kind, blob_sha, _ in entries if kind == "blob"]
    )
    for (mode, path), data in zip(blobs, contents, strict=True):
        target = os.path.join(dest, os.fsdecode(path))
        if mode == _MODE_SYMLINK:
            os.symlink(os.fsdecode(data), target)
            continue
        with open(target, "wb") as out:
            out.write(data)
        if mode == _MODE_EXECUTABLE:
            os.chmod(target, os.stat(target).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
