"""Checks beyond the JSON Schema: the meaning of one deployment or definition document.

Every check returns SpecProblems located in the document they concern; nothing here raises, so one
run reports every problem of the repository. Per-document checks run on schema-valid documents
only (their models exist); cross-file checks (``syncd.spec.reference_checks``) run on all of them.
Node and Swarm documents are checked in ``syncd.spec.node_checks``.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from syncd.errors import SpecProblem
from syncd.spec import templating
from syncd.spec.loading import Document, JsonPath
from syncd.spec.models import Definition, Deployment, NodeSpec, SwarmClusterSpec
from syncd.spec.traffic_checks import routed_port_problems, strategy_problems

Model = TypeVar("Model", Deployment, Definition, NodeSpec, SwarmClusterSpec)

# Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; 63 keeps a name usable as a hostname.
ID_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
ID_MAX_LENGTH = 63
# A remote Git URL: scheme://... or scp-like user@host:path.
_REMOTE_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|[\w.-]+@[\w.-]+:)")
_PERCENT = re.compile(r"^([0-9]+)%$")


@dataclass(frozen=True)
class Loaded(Generic[Model]):
    """A model together with the document it was read from (for positions)."""

    model: Model
    document: Document


@dataclass(frozen=True)
class Rejected:
    """A document that declares an id but failed its own checks (schema, quantities).

    A reference to that id is then not "not found": it points at the document's own error.
    """

    kind: str  # "Deployment", "Definition" or "Node"
    id: str
    problem: SpecProblem  # the document's first problem


# --------------------------------------------------------------------------- helpers


def id_problems(document: Document, value: str, what: str) -> list[SpecProblem]:
    """An id must be usable in a Docker container name (the schema says so too)."""
    if ID_PATTERN.fullmatch(value) and len(value) <= ID_MAX_LENGTH:
        return []
    return [
        document.problem(
            ("id",),
            f"{what} id {value!r} cannot name a Docker container: start with a letter or digit, "
            f"use only letters, digits, '_', '.', '-', at most {ID_MAX_LENGTH} characters",
        )
    ]


def template_problems(document: Document, path: JsonPath, value: str) -> list[SpecProblem]:
    """Malformed ``{{env:NAME}}`` / ``{{secret:NAME}}`` references in one value."""
    if "{{" not in value:  # most values: no reference at all, so none is malformed
        return []
    return [document.problem(path, problem.message) for problem in templating.problems(value)]


def is_zero(value: int | str) -> bool:
    """0, "0%" and "00%" all mean none."""
    if isinstance(value, int):
        return value == 0
    match = _PERCENT.match(value)
    return match is not None and int(match.group(1)) == 0


def is_remote_url(url: str) -> bool:
    """True for a Git URL (https://, ssh://, git@host:path); False for a path in the repo."""
    return bool(_REMOTE_URL.match(url))


def _inside(relative: str) -> str | None:
    """Normalised form of a relative POSIX path, or None when it is absolute or escapes upward."""
    if relative.startswith("/") or relative.startswith("\\") or re.match(r"^[A-Za-z]:", relative):
        return None
    normal = posixpath.normpath(relative)
    if normal == ".." or normal.startswith("../"):
        return None
    return normal


# --------------------------------------------------------------------------- deployments


def check_deployment(deployment: Deployment, document: Document) -> list[SpecProblem]:
    """Meaning of one deployment: replica bounds, strategy, templates."""
    problems = id_problems(document, deployment.id, "deployment")
    problems.extend(strategy_problems(deployment, document))
    data = document.data
    scaling = deployment.auto_scaling
    if scaling is not None:
        if scaling.min_replicas > scaling.max_replicas:
            problems.append(
                document.problem(
                    ("autoScaling", "minReplicas"),
                    f"minReplicas {scaling.min_replicas} is above maxReplicas {scaling.max_replicas}",
                )
            )
        else:
            effective = max(deployment.replicas, 1)  # the reference treats 0 as 1
            written = "replicas" in data
            if not scaling.min_replicas <= effective <= scaling.max_replicas:
                if not written:
                    shown = "replicas (1 when omitted)"
                elif deployment.replicas == 0:
                    shown = "replicas 0 (run as 1)"
                else:
                    shown = f"replicas {deployment.replicas}"
                problems.append(
                    document.problem(
                        ("replicas",) if written else ("autoScaling",),
                        f"{shown} is outside autoScaling's range "
                        f"[{scaling.min_replicas}, {scaling.max_replicas}]",
                    )
                )
    strategy = deployment.strategy
    if (
        strategy.type == "RollingUpdate"
        and is_zero(strategy.max_surge)
        and is_zero(strategy.max_unavailable)
    ):
        problems.append(
            document.problem(
                ("strategy", "maxSurge"),
                "maxSurge and maxUnavailable are both 0: a rolling update could never replace an "
                "instance; allow at least one surge (maxSurge: 1) or one unavailable instance",
            )
        )
    for key, value in deployment.envars:
        problems.extend(template_problems(document, ("envars", key), value))
    return problems


# --------------------------------------------------------------------------- definitions


def _repository_problems(
    definition: Definition, document: Document, root: Path | None
) -> list[SpecProblem]:
    """A local build stays inside the repository (and exists, when ``root`` is given); a remote
    one uses a Git URL scheme. buildContext is relative to url, containerFile to buildContext."""
    source = definition.repository
    if source is None:
        return []
    base = ("repository",)
    url = source.url
    remote = is_remote_url(url)
    if url.lower().startswith("file:"):
        return [
            document.problem(
                (*base, "url"),
                f"{url!r}: a file: URL may point outside the repository; "
                "write a path relative to the repository root (./services/api)",
            )
        ]
    if remote:
        scheme = urlsplit(url).scheme.lower() if "://" in url else "ssh"
        if scheme not in {"https", "http", "ssh", "git", "git+ssh"}:
            return [
                document.problem(
                    (*base, "url"),
                    f"unsupported URL scheme {scheme!r}: use https://, ssh://, git://, "
                    "git@host:path or a path inside this repository",
                )
            ]
        # a commit sha, a tag or a branch name; nothing git could read as an option
        version = source.version
        if version is not None and (
            not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*", version) or ".." in version
        ):
            return [
                document.problem(
                    (*base, "version"),
                    f"version {version!r} is not a full commit sha, a tag or a branch name: "
                    "pin a 40-character commit sha or a tag (a branch moves)",
                )
            ]
    directory = "." if remote else _inside(url)
    if directory is None:
        return [
            document.problem(
                (*base, "url"),
                f"{url!r} leaves the repository: a local url is a path relative to the "
                "repository root that stays inside it (./services/api)",
            )
        ]
    where = "checkout" if remote else "repository"
    context = _inside(posixpath.join(directory, source.build_context))
    if context is None:
        return [
            document.problem(
                (*base, "buildContext"),
                f"buildContext {source.build_context!r} leaves the {where}: "
                "write a path relative to url that stays inside it",
            )
        ]
    if _inside(source.container_file) is None:
        return [
            document.problem(
                (*base, "containerFile"),
                f"containerFile {source.container_file!r} leaves the build context: "
                "write a path relative to buildContext that stays inside it",
            )
        ]
    if remote or root is None:
        return []
    # A local build: the context and the Dockerfile must exist, and no symlink may lead out.
    container_file = posixpath.normpath(posixpath.join(context, source.container_file))
    context_field = "buildContext" if "buildContext" in document.data["repository"] else "url"
    real_root = Path(os.path.realpath(root))
    for field_name, relative, is_context in (
        (context_field, context, True),
        ("containerFile", container_file, False),
    ):
        target = root / relative
        real = Path(os.path.realpath(target))
        if real != real_root and real_root not in real.parents:
            message = f"{relative!r} is a symlink that leaves the repository (to {real})"
        elif is_context and not target.is_dir():
            message = f"build context {relative!r} is not a directory in the repository"
        elif not is_context and not target.is_file():
            message = f"container file {relative!r} does not exist in the repository"
        else:
            continue
        return [document.problem((*base, field_name), message)]
    return []


def check_definition(
    definition: Definition, document: Document, root: Path | None = None
) -> list[SpecProblem]:
    """Meaning of one definition: ports, envars, build paths (checked on disk when ``root``)."""
    problems = id_problems(document, definition.id, "definition")
    seen_keys: dict[str, int] = {}
    for index, (key, value) in enumerate(definition.envars):
        if key in seen_keys:
            problems.append(
                document.problem(
                    ("envars", index, "key"),
                    f"envar {key!r} is set twice (also envars[{seen_keys[key]}])",
                )
            )
        seen_keys.setdefault(key, index)
        problems.extend(template_problems(document, ("envars", index, "value"), value))
    host_ports: dict[tuple[int, str], int] = {}
    for index, port in enumerate(definition.ports):
        claim = (port.host, port.protocol)
        if claim in host_ports:
            problems.append(
                document.problem(
                    ("ports", index, "host"),
                    f"host port {port.host}/{port.protocol} is already published by "
                    f"ports[{host_ports[claim]}]: each host port can be bound once",
                )
            )
        host_ports.setdefault(claim, index)
        problems.extend(routed_port_problems(document, definition, index, port))
    targets: dict[str, int] = {}
    for index, volume in enumerate(definition.volumes):
        if volume.target in targets:
            problems.append(
                document.problem(
                    ("volumes", index, "target"),
                    f"{volume.target!r} is already mounted by volumes[{targets[volume.target]}]",
                )
            )
        targets.setdefault(volume.target, index)
    problems.extend(_label_problems(definition, document))
    problems.extend(_repository_problems(definition, document, root))
    return problems


def _label_problems(definition: Definition, document: Document) -> list[SpecProblem]:
    """Labels are not templated: a ``{{secret:NAME}}`` there would reach the node as written
    (and a label is readable by anyone who can list containers on the engine), so a reference
    in a label value is refused rather than resolved."""
    problems: list[SpecProblem] = []
    for key, value in definition.labels:
        for kind, name in templating.references(value):
            if kind == "secret":
                reason = (
                    f"label {key!r} refers to secret {name!r}: labels are visible to anyone "
                    "with access to the engine and are never resolved; pass the secret as an "
                    f"envar instead (envars: {{KEY: '{{{{secret:{name}}}}}'}})"
                )
            else:
                reason = (
                    f"label {key!r} refers to {{{{env:{name}}}}}: labels are never resolved, "
                    "the node would get the text as written; write the value itself"
                )
            problems.append(document.problem(("labels", key), reason))
    return problems
