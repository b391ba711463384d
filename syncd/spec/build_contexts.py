"""Build contexts: where a definition's image is built from, and the tag that names it.

A local ``repository.url`` is a directory of the checkout, tagged by its files' content; a
remote one (another Git repository) is fetched at its ``version`` by a ``RemoteTrees`` provider
(``syncd.source.remote_builds``, given by the sync layer) and tagged by the commit. Both are
checked to stay inside their files (symlinks and ``..`` included). Without a provider
(validation, offline plans: no network) a remote build is tagged by (url, version).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from syncd.errors import RemoteSourceError, RemoteVersionNotFound, SpecProblem
from syncd.spec.desired import BuildSpec
from syncd.spec.models import Definition, SourceLocation


class RemoteTree(Protocol):
    @property
    def url(self) -> str: ...  # without credentials
    @property
    def commit(self) -> str: ...
    @property
    def root(self) -> Path: ...


class RemoteTrees(Protocol):
    """Gives the files of a remote repository at a version (``syncd.source.remote_builds``);
    raises RemoteSourceError with git's own words when it cannot."""

    def checkout(self, url: str, version: str | None) -> RemoteTree: ...


def build_context_hash(repo_root: Path, context: str) -> str:
    """sha256 over a build context: each entry's relative path, kind, executable bit and contents
    (symlinks by their target text: nothing is followed, so nothing outside the repo is read).

    Only the executable bit counts among the mode bits: Git records nothing else, so two
    checkouts of one commit always hash alike whatever their umask.
    """
    base = repo_root / context
    digest = hashlib.sha256()
    for relative, path in _walk(base):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, payload = "link", os.readlink(path).encode()
        elif stat.S_ISREG(info.st_mode):
            kind = "exec" if info.st_mode & 0o111 else "file"
            payload = path.read_bytes()
        else:
            continue  # sockets, fifos: nothing a build could copy
        header = f"{kind}\0{relative}\0{len(payload)}\0".encode()
        digest.update(header)
        digest.update(payload)
    return digest.hexdigest()


# --------------------------------------------------------------------------- helpers


_TAG_UNSAFE = re.compile(r"[^a-z0-9._-]")


def build_of(
    definition: Definition,
    repo_root: Path,
    problems: list[SpecProblem],
    content_hashes: dict[tuple[str, str], str] | None,
    remote_builds: RemoteTrees | None = None,
) -> tuple[str | None, BuildSpec | None]:
    if definition.image is not None:
        return definition.image.name, None
    repository = definition.repository
    if repository is None:
        problems.append(
            _problem(definition.source, "$", "definition has neither image nor repository")
        )
        return None, None
    repo_name = _TAG_UNSAFE.sub("-", definition.id.lower())
    if _is_remote(repository.url) and remote_builds is not None:
        return _remote_image(definition, repo_name, remote_builds, problems)
    if _is_remote(repository.url):
        # No fetching here (validation, offline plans): the reference (url, version, dir, file)
        # stands in for the content.
        context = f"{repository.url}#{repository.version or ''}:{repository.build_context}"
        content_hash = hashlib.sha256(
            f"{context}\0{repository.container_file}".encode()
        ).hexdigest()
    else:
        local = _local_context(definition, repo_root, problems)
        if local is None:
            return None, None
        context = local
        key = (context, repository.container_file)
        cached = content_hashes.get(key) if content_hashes is not None else None
        if cached is None:
            cached = build_context_hash(repo_root, context)
            if content_hashes is not None:
                content_hashes[key] = cached
        content_hash = cached
    tag = f"syncd-build/{repo_name}:{content_hash[:12]}"
    return tag, BuildSpec(
        context=context,
        container_file=repository.container_file,
        content_hash=content_hash,
        image_tag=tag,
    )


def _remote_image(
    definition: Definition,
    repo_name: str,
    remote_builds: RemoteTrees,
    problems: list[SpecProblem],
) -> tuple[str | None, BuildSpec | None]:
    """A build from another repository's commit: fetched (or found in the cache), its context
    checked to stay inside that commit's files, and tagged by the commit."""
    assert definition.repository is not None
    repository = definition.repository
    try:
        tree = remote_builds.checkout(repository.url, repository.version)
    except RemoteSourceError as error:
        if error.retryable:
            # The remote did not answer: not the commit's fault, so not a problem of its files
            # (which would refuse the commit for good); the caller retries the load later.
            raise RemoteSourceError(
                error.url,
                error.version,
                error.reason,
                hint=error.hint,
                where=f"{definition.source}: $.repository.url" if definition.source else None,
            ) from None
        field_name = "version" if isinstance(error, RemoteVersionNotFound) else "url"
        hint = f" ({error.hint})" if error.hint else ""
        problems.append(
            _problem(definition.source, f"$.repository.{field_name}", f"{error.message}{hint}")
        )
        return None, None
    where = f"{tree.url} at {tree.commit[:12]}"
    context = _local_context(definition, tree.root, problems, directory=".", where=where)
    if context is None:
        return None, None
    content_hash = hashlib.sha256(
        f"remote\0{tree.url}\0{tree.commit}\0{context}\0{repository.container_file}".encode()
    ).hexdigest()
    # The tag names the commit, so a new version (or a branch that moved) is a new image.
    tag = f"syncd-build/{repo_name}:{tree.commit[:12]}-{content_hash[:8]}"
    return tag, BuildSpec(
        context=context,
        container_file=repository.container_file,
        content_hash=content_hash,
        image_tag=tag,
        root=str(tree.root),
    )


def _is_remote(url: str) -> bool:
    return "://" in url or url.startswith("git@")


def _local_context(
    definition: Definition,
    repo_root: Path,
    problems: list[SpecProblem],
    *,
    directory: str | None = None,
    where: str = "the repository",
) -> str | None:
    """The build context as a posix path relative to ``repo_root`` (the checkout, or a remote
    build's commit), checked to stay inside it. ``directory`` is what buildContext is relative
    to (default: repository.url)."""
    assert definition.repository is not None
    repository = definition.repository
    root = repo_root.resolve()
    base = repository.url if directory is None else directory
    candidate = (root / base / repository.build_context).resolve()
    if not candidate.is_relative_to(root):
        problems.append(
            _problem(
                definition.source,
                "$.repository.buildContext",
                f"build context {base}/{repository.build_context} leaves {where}: "
                "use a path inside it",
            )
        )
        return None
    if not candidate.is_dir():
        problems.append(
            _problem(
                definition.source,
                "$.repository.url" if directory is None else "$.repository.buildContext",
                f"build context {candidate.relative_to(root).as_posix() or '.'} is not a "
                f"directory in {where}",
            )
        )
        return None
    container_file = (candidate / repository.container_file).resolve()
    if not container_file.is_relative_to(root) or not container_file.is_file():
        problems.append(
            _problem(
                definition.source,
                "$.repository.containerFile",
                f"container file {repository.container_file} not found in build context "
                f"{candidate.relative_to(root).as_posix() or '.'}"
                f"{'' if directory is None else f' of {where}'}",
            )
        )
        return None
    return candidate.relative_to(root).as_posix() or "."


def _walk(base: Path) -> Iterator[tuple[str, Path]]:
    """Entries under ``base`` sorted by relative posix path; symlinked dirs are not entered."""
    entries: list[tuple[str, Path]] = []
    for directory, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = [name for name in dirnames if name != ".git"]
        here = Path(directory)
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            entries.append((path.relative_to(base).as_posix(), path))
    entries.sort(key=lambda entry: entry[0])
    return iter(entries)


def _problem(where: SourceLocation | None, path: str, message: str) -> SpecProblem:
    if where is None:
        return SpecProblem(file="<unknown>", line=1, column=1, path=path, message=message)
    return SpecProblem(
        file=where.file, line=where.line, column=where.column, path=path, message=message
    )
