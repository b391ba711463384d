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
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Protocol

from syncd.errors import SpecError, SpecProblem
from syncd.spec.build_contexts import RemoteTrees, build_of
from syncd.spec.build_contexts import build_context_hash as build_context_hash  # re-exported
from syncd.spec.desired import DesiredDeployment, DesiredState, InstanceSpec
from syncd.spec.models import Definition, Deployment, RepoSpec, SourceLocation
from syncd.spec.render_memo import RenderMemo, depends_on_models_alone
from syncd.spec.templating import resolve_env, secret_names

#: bumped when the canonical form changes, so every deployment rolls out once, knowingly
HASH_FORMAT_VERSION = 1
# pairs whose rendering reads nothing but their models, rendered before (spec/render_memo.py)
_RENDERED = RenderMemo()


class SecretDigests(Protocol):
    """Gives a salted hash of a secret's value (never the value); None when it is unknown."""

    def digest(self, name: str) -> str | None: ...


def render_desired(
    repo: RepoSpec,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretDigests | None = None,
    remote_builds: RemoteTrees | None = None,
) -> DesiredState:
    """Render every deployment of ``repo`` into the instance it wants, with its spec hash.

    ``environ`` resolves ``{{env:NAME}}`` (default: this process's environment). ``secrets``
    gives digests of secret values for the hash; without it (offline plans) the hash covers the
    secret names only. ``remote_builds`` fetches a remote ``repository.url`` at its version
    so its image tag names the commit; without it (validation, offline plans: no network) the
    tag stands for (url, version). Raises SpecError listing every problem (a missing
    environment variable, a build context that is missing or leaves the repository, a remote
    version that does not exist, an unknown definition); RemoteSourceError (retryable) when a
    remote build's repository does not answer.
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
        remembered = _RENDERED.get(deployment, definition)
        if remembered is not None:
            rendered.append(
                DesiredDeployment(
                    deployment=deployment,
                    definition=definition,
                    spec=remembered[0],
                    spec_hash=remembered[1],
                    replicas=max(deployment.replicas, 1),
                )
            )
            continue
        spec, found = render_instance(
            deployment,
            definition,
            repo.root,
            env,
            content_hashes=content_hashes,
            remote_builds=remote_builds,
        )
        problems.extend(found)
        if spec is None:
            continue
        digests = _secret_digests(spec, secrets)
        hashed = spec_hash(spec, digests)
        if depends_on_models_alone(deployment, definition):
            _RENDERED.put(deployment, definition, spec, hashed)
        rendered.append(
            DesiredDeployment(
                deployment=deployment,
                definition=definition,
                spec=spec,
                spec_hash=hashed,
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
    remote_builds: RemoteTrees | None = None,
) -> tuple[InstanceSpec | None, list[SpecProblem]]:
    """Merge one deployment into its definition; returns the spec (None on problems) and the
    problems found."""
    problems: list[SpecProblem] = []
    env = _merge_env(definition.envars, deployment.envars)
    resolved: list[tuple[str, str]] = []
    deployment_keys = {key for key, _ in deployment.envars}
    for key, value in env:
        if "{{" not in value:  # no reference at all (the common case): nothing to resolve
            resolved.append((key, value))
            continue
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

    image, build = build_of(definition, repo_root, problems, content_hashes, remote_builds)
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
    referenced = sorted(
        {name for _, value in spec.env if "{{" in value for name in secret_names(value)}
    )
    document = {
        "format": HASH_FORMAT_VERSION,
        "spec": spec,
        "secrets": {name: secret_digests[name] for name in referenced if name in secret_digests},
    }
    return hashlib.sha256(_encode(document).encode()).hexdigest()


def canonical_json(value: object) -> str:
    """The JSON the spec hash is taken over: ``dataclasses.asdict``'s form (field dicts, tuples as
    lists), keys sorted, no spaces, ASCII only, less the fields left out at their default."""
    return _encode(value)


# --------------------------------------------------------------------------- helpers


def _dataclass_fields(value: object) -> dict[str, object]:
    """A dataclass instance as the encoder writes it: its fields by name (those that
    ``hash_omit_default`` leaves out at their default omitted); the values are encoded in turn.

    The C encoder walks everything else itself (strings, numbers, tuples as lists), so a spec
    is encoded with one Python call per dataclass in it. The JSON, hence every hash, is byte for
    byte the one the former ``asdict``-like walk gave."""
    kind = type(value)
    read = _READERS.get(kind)
    if read is None:
        if not is_dataclass(value) or isinstance(value, type):
            raise TypeError(f"cannot hash a {kind.__name__}")  # a new field type: extend this
        read = _READERS[kind] = _reader(_field_names(kind))
    return read(value)


def _field_names(kind: type) -> tuple[tuple[str, object], ...]:
    """Each field's name, and its default when the field is left out of the hash at that value
    (``metadata={"hash_omit_default": True}``: a field added later that must not change the
    hash of every spec that does not use it); ``_MISSING`` for the others. A field with
    ``metadata={"hash_omit": True}`` (where a file lives, not what it holds) is never hashed."""
    return tuple(
        (f.name, f.default if f.metadata.get("hash_omit_default") else _MISSING)
        for f in fields(kind)
        if not f.metadata.get("hash_omit")
    )


def _reader(names: tuple[tuple[str, object], ...]) -> Callable[[object], dict[str, object]]:
    """One class's fields as a dict, read by a function written for that class (a dict
    display of its attributes: several times quicker than a loop of ``getattr`` per field)."""
    always = ", ".join(f"{name!r}: value.{name}" for name, default in names if default is _MISSING)
    lines = ["def read(value):", f"    plain = {{{always}}}"]
    defaults = {}
    for name, default in names:
        if default is not _MISSING:
            defaults[name] = default
            lines += [
                f"    if value.{name} != defaults[{name!r}]:",
                f"        plain[{name!r}] = value.{name}",
            ]
    lines.append("    return plain")
    namespace: dict[str, Any] = {"defaults": defaults}
    exec(compile("\n".join(lines), "<hash fields>", "exec"), namespace)  # noqa: S102 (field names of our dataclasses)
    read: Callable[[object], dict[str, object]] = namespace["read"]
    return read


_READERS: dict[type, Callable[[object], dict[str, object]]] = {}
_MISSING = object()
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_dataclass_fields
)
# The C encoder ``_CANONICAL.encode`` builds anew on every call, made once (a tenth of a
# spec's hash); no check for cycles: a spec holds none.
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_CANONICAL_CHUNKS = (
    _C_ENCODER(
        None,
        _dataclass_fields,
        json.encoder.encode_basestring_ascii,
        None,
        ":",
        ",",
        True,
        False,
        True,
    )
    if _C_ENCODER is not None
    else None
)


def _encode(value: object) -> str:
    if _CANONICAL_CHUNKS is None:
        return _CANONICAL.encode(value)
    return "".join(_CANONICAL_CHUNKS(value, 0))


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
        for name in secret_names(value) if "{{" in value else ():
            digest = secrets.digest(name)
            if digest is not None:
                digests[name] = digest
    return digests


def _problem(where: SourceLocation | None, path: str, message: str) -> SpecProblem:
    if where is None:
        return SpecProblem(file="<unknown>", line=1, column=1, path=path, message=message)
    return SpecProblem(
        file=where.file, line=where.line, column=where.column, path=path, message=message
    )
