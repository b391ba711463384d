"""The desired state: every deployment rendered into the exact instance it wants on a node.

Rendering merges a deployment into its definition (deployment ``envars`` override the
definition's), resolves ``{{env:NAME}}`` from the daemon's environment, keeps ``{{secret:NAME}}``
references unresolved (secrets are read at the last moment, by apply) and hashes what needs a new
container. The functions that build these live in ``syncd.spec.rendering``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.spec.models import (
    Definition,
    Deployment,
    HealthCheck,
    NodeSpec,
    PortMapping,
    Resources,
    Strategy,
    VolumeMount,
)


@dataclass(frozen=True)
class BuildSpec:
    """An image built from a context inside the Git checkout, tagged by the context's content;
    or, for a remote ``repository.url``, inside that repository's commit, tagged by the commit."""

    context: str  # directory relative to the repository root (a remote build: to ``root``)
    container_file: str  # relative to the context
    content_hash: str  # sha256 over the context's files, or over (url, commit, context, file)
    image_tag: str  # e.g. "syncd-build/def_webapp:3f2a9c1b07e4"
    # A remote build's files (source/remote_builds.py). Never hashed: where the cache lives is
    # not what runs, and the commit is already in content_hash and the tag.
    root: str | None = field(default=None, metadata={"hash_omit": True})


@dataclass(frozen=True)
class InstanceSpec:
    """Everything that goes into one container. Its hash is the deployment's spec hash."""

    image: str
    build: BuildSpec | None
    command: tuple[str, ...] | None
    # (key, value) with {{env:..}} resolved and {{secret:NAME}} left in place
    env: tuple[tuple[str, str], ...]
    resources: Resources
    ports: tuple[PortMapping, ...]
    health_check: HealthCheck | None
    network: str | None
    volumes: tuple[VolumeMount, ...]
    labels: tuple[tuple[str, str], ...]
    # Left out of the hash at their defaults, so specs that do not set them keep their hash.
    stop_grace_s: float | None = field(default=None, metadata={"hash_omit_default": True})
    stop_signal: str | None = field(default=None, metadata={"hash_omit_default": True})

    def display_env(self) -> tuple[tuple[str, str], ...]:
        """Env as every output shows it: secret references read ``(secret NAME)``."""
        from syncd.spec.templating import mask_secrets

        return tuple((key, mask_secrets(value)) for key, value in self.env)


@dataclass(frozen=True)
class DesiredDeployment:
    deployment: Deployment
    definition: Definition
    spec: InstanceSpec
    spec_hash: str  # hex sha256 of the canonical InstanceSpec (+ secret value digests)
    replicas: int  # effective count (the reference treats 0 as 1)

    @property
    def id(self) -> str:
        return self.deployment.id

    @property
    def strategy(self) -> Strategy:
        return self.deployment.strategy


@dataclass(frozen=True)
class DesiredState:
    revision: str | None
    deployments: tuple[DesiredDeployment, ...]
    nodes: tuple[NodeSpec, ...]

    def deployment(self, deployment_id: str) -> DesiredDeployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)
