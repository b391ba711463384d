"""Validated edits of deployments and definitions in a Git checkout, one commit each.

Git stays the source of truth: saving or removing a deployment, through the Deploy Svc API or
``syncd deployment|definition save|remove``, is a commit on the branch the daemon follows.
``RepoEditor`` loads the repository with the change applied and refuses the edit when it adds a
problem (an unknown definition, a typo'd field); otherwise the file is written in a stable key
order (``to_yaml``), committed, and pushed (rebased and pushed again when someone else pushed
first).
"""

from __future__ import annotations

import contextlib
import secrets
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import git
import yaml

from syncd.errors import SpecError, SpecProblem, SyncdError
from syncd.source.gitcommand import run_git
from syncd.source.writing import commit_files
from syncd.spec.discovery import repository_files
from syncd.spec.models import NodeSpec
from syncd.spec.repository import load_repository, parse_definition, parse_deployment

Kind = Literal["Deployment", "Definition"]
FOLDER = {"Deployment": "deployments", "Definition": "definitions"}
_ID_ALPHABET = string.ascii_letters + string.digits
READ_ONLY_FIELDS = ("status", "details")  # set by syncd; a client may send back what it listed

# The order keys are written in: the reference's own order, so saved files read like its examples.
_KEY_ORDER: dict[str, tuple[str, ...]] = {
    "Deployment": (
        "kind",
        "id",
        "definitionId",
        "name",
        "description",
        "replicas",
        "strategy",
        "resources",
        "autoScaling",
        "targetRegions",
        "envars",
    ),
    "Definition": (
        "kind",
        "id",
        "image",
        "repository",
        "command",
        "envars",
        "ports",
        "healthCheck",
        "network",
        "volumes",
        "labels",
        "apiSpecs",
        "clients",
    ),
}
_NESTED_ORDER: dict[str, tuple[str, ...]] = {
    "strategy": ("type", "maxUnavailable", "maxSurge"),
    "resources": ("cpu", "memory", "vram"),
    "autoScaling": ("minReplicas", "maxReplicas", "cpuThreshold"),
    "image": ("name", "internalPorts"),
    "repository": ("url", "version", "buildContext", "containerFile", "internalPorts"),
}


class NotFound(SyncdError):
    """The deployment or definition to remove is not in the repository."""


# --------------------------------------------------------------------------- writing YAML


def _ordered(data: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: data[key] for key in order if key in data}
    return {**known, **{key: value for key, value in data.items() if key not in known}}


def to_yaml(kind: Kind, data: Mapping[str, Any]) -> bytes:
    """``data`` as the YAML file syncd commits: the reference's key order, block style, UTF-8."""
    top = _ordered(data, _KEY_ORDER[kind])
    for key, order in _NESTED_ORDER.items():
        if isinstance(top.get(key), Mapping):
            top[key] = _ordered(top[key], order)
    text = yaml.dump(
        top,
        Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return text.encode()


def new_deployment_id() -> str:
    """An id like the original service generated (``depl_dbOdi5eLQK``)."""
    return "depl_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


# --------------------------------------------------------------------------- editing a checkout


@dataclass(frozen=True)
class Author:
    name: str
    email: str


@dataclass(frozen=True)
class EditResult:
    id: str
    path: str  # relative to the checkout root
    sha: str  # the commit (the unchanged head when the file already said exactly this)
    changed: bool


def _problem_key(problem: SpecProblem) -> tuple[str, str, str]:
    return (problem.file, problem.path, problem.message)


class RepoEditor:
    """Validated edits of deployments and definitions in one Git checkout, one commit each.

    ``checkout_dir`` is the Git work tree; ``subdir`` is where the syncd repository lives inside
    it (the daemon's ``repo.path``). ``prepare`` runs before each edit under the editor's lock
    (the API brings its own clone to the remote head there). With ``push``, the commit is pushed
    to ``origin``'s ``branch``.
    """

    def __init__(
        self,
        checkout_dir: Path,
        branch: str,
        *,
        subdir: str = ".",
        push: bool = True,
        prepare: Callable[[], object] | None = None,
        extra_nodes: Sequence[NodeSpec] = (),
    ) -> None:
        self.checkout_dir = Path(checkout_dir)
        self.branch = branch
        self.subdir = subdir.strip("/") or "."
        self.push = push
        self.prepare = prepare
        self.extra_nodes = tuple(extra_nodes)
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self.checkout_dir / self.subdir

    def _relative(self, path_in_root: str) -> str:
        """A path under ``root`` as a path relative to the checkout (what commit_files takes)."""
        return path_in_root if self.subdir == "." else f"{self.subdir}/{path_in_root}"

    def save(
        self, kind: Kind, data: Mapping[str, Any], author: Author, *, source_name: str | None = None
    ) -> EditResult:
        """Validate ``data`` as one ``kind``, write it, commit and push. Raises SpecError (invalid,
        or the repository would become invalid), SourceError (Git). ``source_name`` names the
        input in problems about the document alone (default: the file it will be written to)."""
        document = {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS and k != "kind"}
        if kind == "Deployment" and not document.get("id"):
            document["id"] = new_deployment_id()
        where = source_name or f"{FOLDER[kind]}/{document.get('id') or '<new>'}.yaml"
        # The document alone first: its problems are named without loading the repository.
        model = (parse_deployment if kind == "Deployment" else parse_definition)(document, where)
        with self._lock:
            if self.prepare is not None:
                self.prepare()
            existing = self._file_of(kind, model.id)
            target = existing or f"{FOLDER[kind]}/{model.id}.yaml"
            content = to_yaml(kind, document)
            self._validated(target, content)
            message = f"Save {kind.lower()} {model.id}\n\nSaved by {author.name} through syncd."
            sha, changed = self._commit(target, content, message, author)
            return EditResult(model.id, self._relative(target), sha, changed)

    def remove(self, kind: Kind, object_id: str, author: Author) -> EditResult:
        """Delete ``object_id``'s file, commit and push. Raises NotFound when no file defines it,
        SpecError when the repository would become invalid (a definition still in use)."""
        with self._lock:
            if self.prepare is not None:
                self.prepare()
            target = self._file_of(kind, object_id)
            if target is None:
                raise NotFound(
                    f"{kind.lower()} {object_id} not found",
                    hint=f"`syncd {kind.lower()} list` shows the ids in the repository",
                )
            self._validated(target, None)
            message = (
                f"Remove {kind.lower()} {object_id}\n\nRemoved by {author.name} through syncd."
            )
            sha, changed = self._commit(target, None, message, author)
            return EditResult(object_id, self._relative(target), sha, changed)

    # -- steps ----------------------------------------------------------------------------------

    def _file_of(self, kind: Kind, object_id: str) -> str | None:
        """The file (relative to ``root``) that defines ``object_id``, or None. A file that holds
        other documents too is refused: rewriting it would touch what we were not asked to."""
        for repo_file in repository_files(self.root):
            for kind_read, document in repo_file.documents:
                data = document.data
                if kind_read != kind or not isinstance(data, dict) or data.get("id") != object_id:
                    continue
                if len(repo_file.documents) > 1:
                    raise SpecError(
                        [
                            document.problem(
                                ("id",),
                                f"{kind.lower()} {object_id} shares this file with other "
                                "documents: change it with a commit of your own",
                            )
                        ]
                    )
                return repo_file.path
        return None

    def _problems(self) -> dict[tuple[str, str, str], SpecProblem]:
        try:
            load_repository(self.root, extra_nodes=self.extra_nodes)
        except SpecError as exc:
            return {_problem_key(p): p for p in exc.problems}
        return {}

    def _validated(self, target: str, content: bytes | None) -> None:
        """Load the repository with ``target`` changed; raise SpecError with every problem the
        change adds. Problems that were there before stay someone else's (and are not blamed on
        this edit); problems in ``target`` itself are always this edit's."""
        path = self.root / target
        before_bytes = path.read_bytes() if path.is_file() else None
        before = self._problems()
        made_dir = not path.parent.exists()
        try:
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            after = self._problems()
        finally:
            # commit_files writes the change itself; until then the work tree is as it was
            if before_bytes is None:
                path.unlink(missing_ok=True)
                if made_dir:
                    with contextlib.suppress(OSError):
                        path.parent.rmdir()
            else:
                path.write_bytes(before_bytes)
        added = [
            problem for key, problem in after.items() if problem.file == target or key not in before
        ]
        if added:
            verb = "removing" if content is None else "writing"
            raise SpecError(
                added,
                hint=f"{verb} {self._relative(target)} would leave the repository with these "
                "problems, so nothing was committed",
            )

    def _commit(
        self, target: str, content: bytes | None, message: str, author: Author
    ) -> tuple[str, bool]:
        before = _head(self.checkout_dir)
        sha = commit_files(
            self.checkout_dir,
            {self._relative(target): content},
            message,
            author.name,
            author.email,
            push=self.push,
            branch=self.branch,
        )
        return sha, sha != before


def _head(checkout_dir: Path) -> str | None:
    try:
        return run_git(checkout_dir, ["rev-parse", "--verify", "--quiet", "HEAD"])
    except git.GitCommandError:  # an empty repository has no HEAD yet
        return None


def read_documents(root: Path, kind: Kind) -> list[dict[str, Any]]:
    """Every ``kind`` document under ``root`` as written in Git (``kind:`` left out), by id.

    Raw documents rather than models: a listing shows what the files say even while another file
    of the repository is invalid."""
    found: dict[str, dict[str, Any]] = {}
    for repo_file in repository_files(root):
        for kind_read, document in repo_file.documents:
            data = document.data
            if kind_read == kind and isinstance(data, dict) and isinstance(data.get("id"), str):
                found[data["id"]] = {k: v for k, v in data.items() if k != "kind"}
    return [found[key] for key in sorted(found)]
