"""Who a run of syncd is: the owner written into ``io.syncd.owner`` on every container it creates.

A plan touches only its owner's containers (syncd/plan/ownership.py), so the owner must be the
same string every run, and the same for ``syncd plan/apply --repo X`` and a daemon that follows
X. It is decided once per run: the ``owner`` key of the daemon config when given, else derived
from the source:

- a remote repository: its URL in a canonical form without credentials, scheme, default port or
  ``.git`` (``https://TOKEN@github.com/team/deploy.git`` and ``git@github.com:team/deploy`` are
  both ``github.com/team/deploy``), so rotating a token or spelling the URL another way does
  not make a daemon a stranger to its own containers;
- a local repository (a path, ``file://``, or the checkout the CLI runs on): its ``origin``
  remote when it has one, else the absolute path of its top directory;
- followed by ``//`` and the folder inside the repository when that is not the top (the
  ``repo.path`` of the config, or where ``--repo`` points inside the checkout), as in
  Terraform's ``host/repo//subdir`` module sources.

The string rules are pure functions (tested with data); one thin GitPython reader looks at a
checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import git

#: what an explicitly configured owner may look like (the config schema has the same pattern)
OWNER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
SUBPATH_SEPARATOR = "//"
_DEFAULT_PORTS = {"ssh": 22, "git+ssh": 22, "ssh+git": 22, "https": 443, "http": 80, "git": 9418}
_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.*)")


def is_valid_owner(text: str) -> bool:
    """An owner a person may configure: 1 to 200 of letters, digits and ``._:/@+-``."""
    return OWNER_PATTERN.fullmatch(text) is not None


def repo_identity(url: str) -> str:
    """The canonical, credential-free name of the repository at ``url`` (see the module doc).

    A local path is returned as given, without a trailing ``/`` or ``.git``; resolving it is
    the caller's business (it needs the file system)."""
    local = local_path(url)
    if local is not None:
        return _trim(str(local))
    if "://" in url:  # urlsplit would read scp-like "host.example:path" as a scheme
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
        if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
            host = f"{host}:{port}"
        return _trim(f"{host}/{unquote(parts.path).lstrip('/')}")
    scp = _SCP_LIKE.fullmatch(url)
    if scp is None:  # not a form git knows either; keep it whole rather than guess
        return _trim(url)
    return _trim(f"{scp['host'].lower()}/{scp['path'].lstrip('/')}")


def local_path(url: str) -> Path | None:
    """The directory of a repository given by a local path or ``file://`` URL, else None."""
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" in url or (":" in url.split("/")[0] and not url.startswith("/")):
        return None  # https://, ssh://, scp-like user@host:path
    return Path(url).expanduser()


def normal_subpath(path: str) -> str:
    """``./deploy/syncd/`` -> ``deploy/syncd``; the top of the repository is ``.``."""
    return str(PurePosixPath(path.strip().lstrip("/") or "."))


def owner_string(identity: str, subpath: str = ".") -> str:
    """``identity``, then ``//subpath`` when the deployments live below the repository's top."""
    inside = normal_subpath(subpath)
    return identity if inside == "." else f"{identity}{SUBPATH_SEPARATOR}{inside}"


def _trim(text: str) -> str:
    text = text.rstrip("/")
    trimmed = text.removesuffix(".git").rstrip("/")
    return trimmed or text


# --------------------------------------------------------------------------- reading Git


@dataclass(frozen=True)
class CheckoutFacts:
    """What the owner of a local repository is derived from."""

    top: Path  # the work tree's top, a bare repository's directory, or the folder itself
    origin_url: str | None  # remote.origin.url, when there is one
    inside: str = "."  # the folder asked about, relative to ``top``


def read_checkout(directory: Path) -> CheckoutFacts:
    """Where the Git repository holding ``directory`` starts and its ``origin`` URL; a folder
    outside any repository is its own top, without an origin."""
    directory = directory.resolve()
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return CheckoutFacts(top=directory, origin_url=None)
    try:
        top = Path(repo.working_tree_dir or repo.git_dir).resolve()
        try:
            origin: str | None = repo.remote("origin").url
        except ValueError:  # no remote of that name
            origin = None
    finally:
        repo.close()
    inside = directory.relative_to(top).as_posix() if directory.is_relative_to(top) else "."
    origin_dir = local_path(origin) if origin else None
    if origin_dir is not None and origin_dir.is_absolute():
        # a clone of a local repository: name it as a daemon following that path would
        origin = str(origin_dir.resolve())
    return CheckoutFacts(top=top, origin_url=origin or None, inside=inside)


def owner_of_local(facts: CheckoutFacts, subpath: str = ".") -> str:
    """A local repository's owner: its origin, else its top directory; then the subpath (which
    is ``facts.inside`` joined with ``subpath``)."""
    identity = repo_identity(facts.origin_url or str(facts.top))
    return owner_string(identity, str(PurePosixPath(facts.inside) / normal_subpath(subpath)))


def checkout_owner(directory: Path, configured: str | None = None) -> str:
    """The owner of ``syncd plan/apply --repo directory``: ``configured`` when given (the daemon
    config's ``owner``), else derived from the checkout."""
    if configured is not None:
        return configured
    return owner_of_local(read_checkout(directory))


def daemon_owner(url: str, path: str = ".", configured: str | None = None) -> str:
    """The owner of a daemon following ``url`` with its deployments in ``path``: ``configured``
    when given, else derived (a local repository is read like the CLI reads a checkout, so both
    agree)."""
    if configured is not None:
        return configured
    local = local_path(url)
    if local is not None:
        return owner_of_local(read_checkout(local), path)
    return owner_string(repo_identity(url), path)
