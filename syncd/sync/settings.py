"""The settings one pass runs with, decided once: from the daemon config, the command line, or
both (the command line wins), with the defaults written in one place.

The sync layer sits below the daemon, so it reads the config through the small protocol below
instead of importing ``syncd.daemon.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from syncd.apply.report import DEFAULT_CONCURRENCY, DEFAULT_PROGRESS_DEADLINE_S, ApplyOptions
from syncd.spec.models import NodeSpec

if TYPE_CHECKING:  # GitPython comes with it: an offline preview never fetches a build repository
    from syncd.source.remote_builds import RemoteBuildCache


class _Secrets(Protocol):
    @property
    def dir(self) -> Path | None: ...
    @property
    def age_identity(self) -> Path | None: ...


class SyncConfig(Protocol):
    """The part of a daemon config (``syncd.daemon.config.DaemonSettings``) a pass reads."""

    @property
    def secrets(self) -> _Secrets: ...
    @property
    def nodes(self) -> tuple[NodeSpec, ...]: ...
    @property
    def only_nodes(self) -> frozenset[str] | None: ...
    @property
    def allow_mass_prune(self) -> bool: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def progress_deadline_s(self) -> float: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def shard(self) -> str | None: ...


@dataclass(frozen=True)
class SyncSettings:
    """What a pass needs besides the revision: secrets, the config's nodes, the node filter,
    the planner's guard and the apply knobs."""

    secrets_dir: Path | None = None
    age_identity: Path | None = None
    extra_nodes: tuple[NodeSpec, ...] = ()  # the config's nodes, next to the repository's
    only_nodes: frozenset[str] | None = None  # the config's onlyNodes: None contacts all
    allow_mass_prune: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    progress_deadline_s: float = DEFAULT_PROGRESS_DEADLINE_S
    # Whose containers this pass plans for (io.syncd.owner; syncd/source/owner.py). None plans
    # every managed container as its own: only tests of the unscoped planner leave it unset.
    owner: str | None = None
    # The shard of the repository's shards.yaml this pass applies (syncd/spec/shards.py): only
    # its clusters' nodes and deployments. None: every cluster (an unsharded daemon, the CLI).
    shard: str | None = None
    # The Git repository that knows which commits are newer than the one applied (the daemon's
    # clone, the CLI's checkout): instances written from a newer one are left alone. None: no
    # history to ask, nothing counts as newer.
    history_dir: Path | None = None
    # Where builds from another Git repository (a definition's repository.url) are fetched to,
    # by commit: the daemon's stateDir/remote-builds, the CLI's user cache. None: such builds
    # are tagged by (url, version) and not fetched (tests of the pure layers).
    remote_builds: RemoteBuildCache | None = None

    @classmethod
    def of(
        cls,
        config: SyncConfig | None = None,
        *,
        secrets_dir: Path | None = None,
        age_identity: Path | None = None,
        allow_mass_prune: bool = False,
        concurrency: int | None = None,
        progress_deadline_s: float | None = None,
        owner: str | None = None,
        history_dir: Path | None = None,
        remote_builds: RemoteBuildCache | None = None,
    ) -> SyncSettings:
        """The command line's values (None: not given) over ``config``'s, over the defaults.
        ``owner`` is the identity the caller derived (``syncd.source.owner``) from its source;
        ``history_dir`` the clone or checkout it loads revisions from; ``remote_builds`` the
        cache its remote builds are fetched to."""
        if config is None:
            return cls(
                secrets_dir=secrets_dir,
                age_identity=age_identity,
                allow_mass_prune=allow_mass_prune,
                concurrency=concurrency or DEFAULT_CONCURRENCY,
                progress_deadline_s=progress_deadline_s or DEFAULT_PROGRESS_DEADLINE_S,
                owner=owner,
                history_dir=history_dir,
                remote_builds=remote_builds,
            )
        return cls(
            secrets_dir=secrets_dir or config.secrets.dir,
            age_identity=age_identity or config.secrets.age_identity,
            extra_nodes=tuple(config.nodes),
            only_nodes=config.only_nodes,
            allow_mass_prune=allow_mass_prune or config.allow_mass_prune,
            concurrency=concurrency or config.concurrency,
            progress_deadline_s=progress_deadline_s or config.progress_deadline_s,
            owner=owner,
            shard=config.shard,
            history_dir=history_dir,
            remote_builds=remote_builds,
        )

    def apply_options(self, *, concurrency: int | None = None) -> ApplyOptions:
        """The apply engine's options for this pass (``concurrency`` overrides, e.g. 1 for one
        deployment's rollout job)."""
        return ApplyOptions(
            concurrency=concurrency or self.concurrency,
            progress_deadline_s=self.progress_deadline_s,
        )
