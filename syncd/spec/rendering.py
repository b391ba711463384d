"""Rendering a repository into its desired state, and hashing what needs a new container.

``render_desired`` merges every deployment into its definition and produces one
``InstanceSpec`` per deployment (types in ``syncd.spec.desired``). ``spec_hash`` hashes exactly
the fields that need a new container: a change in replicas, autoscaling, strategy, target
regions, name or description is not a rollout, so none of those is in the ``InstanceSpec``.

Secrets are never resolved here: ``{{secret:NAME}}`` stays in the env, and only a salted digest
of each secret's value (from a ``SecretDigests`` provider) enters the hash, so that a changed
secret rolls the deployment out without its value reaching any output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from syncd.errors import SpecError, SpecProblem
from syncd.spec.desired import BuildSpec, DesiredDeployment, DesiredState, InstanceSpec
from syncd.spec.models import Definition, Deployment, RepoSpec, SourceLocation
from syncd.spec.templating import resolve_env, secret_names

#: bumped when the canonical form changes, so every deployment rolls out once, knowingly
HASH_FORMAT_VERSION = 1


class SecretDigests(Protocol):
    """Gives a salted hash of a secret's value (never the value); None when it is unknown."""

    def digest(self, name: str) -> str | None: ...


def render_desired(
    repo: RepoSpec,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretDigests | None = None,
) -> DesiredState:
    """Render every deployment of ``repo`` into the instance it wants, with its spec hash.

    ``environ`` resolves ``{{env:NAME}}`` (default: this process's environment). ``secrets``
    gives digests of secret values for the hash; without it (offline plans) the hash covers the
    secret names only. Raises SpecError listing every problem (a missing environment variable,
    a build context that is missing or leaves the repository, an unknown definition).
    """
    env = os.environ if environ is None else environ
    problems: list[SpecProblem] = []
    rendered: list[DesiredDeployment] = []
    definitions = {definition.id: definition for definition in repo.definitions}
    content_hashes: dict[tuple[str, str], str] = {}  # one walk per build context per render
    for deployment in repo.deployments:
        definition = definitions.get(deployment.definition_id)
        if definition is None:
            problems.append(
                _problem(
                    deployment.source,
                    "$.definitionId",
                    f"unknown definition {deployment.definition_id!r}: add definitions/"
                    f"{deployment.definition_id}.yaml or fix the id",
                )
            )
            continue
        spec, found = render_instance(
            deployment, definition, repo.root, env, content_hashes=content_hashes
        )
        problems.extend(found)
        if spec is None:
            continue
        digests = _secret_digests(spec, secrets)
        rendered.append(
            DesiredDeployment(
                deployment=deployment,
                definition=definition,
                spec=spec,
                spec_hash=spec_hash(spec, digests),
                replicas=max(deployment.replicas, 1),
            )
        )
    if problems:
        raise SpecError(problems, hint="fix the files named above and run syncd validate")
    return DesiredState(revision=repo.revision, deployments=tuple(rendered), nodes=repo.nodes)


def render_instance(
    deployment: Deployment,
    definition: Definition,
    repo_root: Path,
    environ: Mapping[str, str],
    *,
    content_hashes: dict[tuple[str, str], str] | None = None,
) -> tuple[InstanceSpec | None, list[SpecProblem]]:
    """Merge one deployment into its definition; returns the spec (None on problems) and the
    problems found."""
    problems: list[SpecProblem] = []
    env = _merge_env(definition.envars, deployment.envars)
    resolved: list[tuple[str, str]] = []
    deployment_keys = {key for key, _ in deployment.envars}
    for key, value in env:
        new_value, missing = resolve_env(value, environ)
        for name in missing:
            if key in deployment_keys:
                where, path = deployment.source, f"$.envars.{key}"
            else:
                where, path = (
                    definition.source,
                    f"$.envars[{_definition_index(definition, key)}].value",
                )
            problems.append(
                _problem(
                    where,
                    path,
                    f"environment variable {name} is not set (referenced as {{{{env:{name}}}}} "
                    f"by envar {key}): set it in syncd's environment or change the value",
                )
            )
        resolved.append((key, new_value))

    image, build = _image(definition, repo_root, problems, content_hashes)
    if problems or image is None:
        return None, problems
    spec = InstanceSpec(
        image=image,
        build=build,
        command=definition.command,
        env=tuple(resolved),
        resources=deployment.resources,
        ports=definition.ports,
        health_check=definition.health_check,
        network=definition.network,
        volumes=definition.volumes,
        labels=definition.labels,
        stop_grace_s=definition.stop_grace_s,
        stop_signal=definition.stop_signal,
    )
    return spec, []


def spec_hash(spec: InstanceSpec, secret_digests: Mapping[str, str]) -> str:
    """sha256 hex over the canonical JSON of ``spec`` and the digests of the secrets it uses.

    Only digests of secrets the spec references count (others cannot change the container).
    """
    referenced = sorted({name for _, value in spec.env for name in secret_names(value)})
    document = {
        "format": HASH_FORMAT_VERSION,
        "spec": _plain(spec),
        "secrets": {name: secret_digests[name] for name in referenced if name in secret_digests},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


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


def _plain(value: object) -> object:
    """What ``dataclasses.asdict`` gives (field dicts, sequences as lists), without its deep
    copies: ten times faster, and the JSON, hence every hash, is byte for byte the same."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {
            name: _plain(getattr(value, name))
            for name, default in _field_names(type(value))
            if default is _MISSING or getattr(value, name) != default
        }
    raise TypeError(f"cannot hash a {type(value).__name__}")  # a new field type: extend this


@cache
def _field_names(kind: type) -> tuple[tuple[str, object], ...]:
    """Each field's name, and its default when the field is left out of the hash at that value
    (``metadata={"hash_omit_default": True}``: a field added later that must not change the
    hash of every spec that does not use it); ``_MISSING`` for the others."""
    return tuple(
        (f.name, f.default if f.metadata.get("hash_omit_default") else _MISSING)
        for f in fields(kind)
    )


_MISSING = object()


def _merge_env(
    definition_env: tuple[tuple[str, str], ...], deployment_env: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """Definition keys in their order with deployment values winning, then the new keys."""
    overrides = dict(deployment_env)
    merged = [(key, overrides.get(key, value)) for key, value in definition_env]
    seen = {key for key, _ in definition_env}
    merged.extend((key, value) for key, value in deployment_env if key not in seen)
    return merged


def _definition_index(definition: Definition, key: str) -> int:
    return next(i for i, (k, _) in enumerate(definition.envars) if k == key)


def _secret_digests(spec: InstanceSpec, secrets: SecretDigests | None) -> dict[str, str]:
    if secrets is None:
        return {}
    digests: dict[str, str] = {}
    for _, value in spec.env:
        for name in secret_names(value):
            digest = secrets.digest(name)
            if digest is not None:
                digests[name] = digest
    return digests


_TAG_UNSAFE = re.compile(r"[^a-z0-9._-]")


def _image(
    definition: Definition,
    repo_root: Path,
    problems: list[SpecProblem],
    content_hashes: dict[tuple[str, str], str] | None,
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
    if _is_remote(repository.url):
        # Docker builds a remote Git context itself ("URL#REF:DIR"); its content is not ours to
        # read, so the reference (url, version, dir, file) stands in for the content.
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


def _is_remote(url: str) -> bool:
    return "://" in url or url.startswith("git@")


def _local_context(
    definition: Definition, repo_root: Path, problems: list[SpecProblem]
) -> str | None:
    """The build context as a posix path relative to the repo root, checked to stay inside it."""
    assert definition.repository is not None
    repository = definition.repository
    root = repo_root.resolve()
    candidate = (root / repository.url / repository.build_context).resolve()
    if not candidate.is_relative_to(root):
        problems.append(
            _problem(
                definition.source,
                "$.repository.buildContext",
                f"build context {repository.url}/{repository.build_context} leaves the "
                "repository: use a path inside it",
            )
        )
        return None
    if not candidate.is_dir():
        problems.append(
            _problem(
                definition.source,
                "$.repository.url",
                f"build context {candidate.relative_to(root).as_posix() or '.'} is not a "
                "directory in the repository",
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
                f"{candidate.relative_to(root).as_posix() or '.'}",
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
