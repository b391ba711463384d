"""The load phase: one revision's files checked, rendered with their spec hashes, and joined by
the config's nodes. Every caller loads through :func:`load_revision`, the offline preview too,
so a plan, an apply and the daemon compute the same hashes from the same files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import SpecError
from syncd.spec.cache import ParseCache
from syncd.spec.collector import collector_paused
from syncd.spec.desired import DesiredState
from syncd.spec.file_source import RepoFiles
from syncd.spec.models import RepoSpec, SwarmClusterSpec
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from syncd.spec.secrets import SecretProvider
from syncd.sync.revisions import Revision
from syncd.sync.settings import SyncSettings


@dataclass(frozen=True)
class LoadedRevision:
    """A revision that validated: its model, its desired state (the repository's nodes then the
    config's), and the provider apply reads secret values from (None: rendered without)."""

    revision: Revision
    repo: RepoSpec
    desired: DesiredState
    secrets: SecretProvider | None
    # The Swarm clusters this pass is about: the repository's, narrowed to a shard's clusters
    # by shard_of like the nodes, so a daemon never observes or prunes another shard's Swarm.
    swarms: tuple[SwarmClusterSpec, ...] = ()


def load_revision(
    revision: Revision,
    settings: SyncSettings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cache: ParseCache | None = None,
    secrets: SecretProvider | None = None,
    read_secrets: bool = True,
    invalid_hint: str | None = None,
    files: RepoFiles | None = None,
) -> LoadedRevision:
    """Load and render ``revision``; raises SpecError listing every problem.

    ``files``: where its files are read from when not from the directory ``revision.root``
    (a commit read straight from Git, ``source.commit_files``; its ``root`` is the revision's).

    ``environ`` resolves ``{{env:NAME}}`` (default this process's). Secrets come from
    ``secrets`` when given, else from ``settings``' secrets directory and age identity; with
    ``read_secrets=False`` (offline previews) spec hashes cover secret names only.
    ``invalid_hint`` replaces the hint of the SpecError (what the caller's user should do).

    A node id both in the repository and in the config is refused by ``load_repository``
    (a problem on the repository's node file), so the config's nodes are simply appended.
    """
    settings = settings or SyncSettings()
    try:
        # A pass's data holds no cycles: no collector walks while it is built (spec/collector.py).
        with collector_paused():
            repo = load_repository(
                files if files is not None else revision.root,
                revision=revision.sha,
                extra_nodes=settings.extra_nodes,
                cache=cache,
            )
            if secrets is None and read_secrets:
                secrets = SecretProvider(
                    secrets_dir=settings.secrets_dir,
                    repo_root=revision.root,
                    age_identity=settings.age_identity,
                )
            # None for offline previews (their settings are the defaults): they fetch nothing.
            remote_builds = settings.remote_builds
            desired = render_desired(
                repo, environ=environ, secrets=secrets, remote_builds=remote_builds
            )
    except SpecError as error:
        if invalid_hint is not None:
            error.hint = invalid_hint
        raise
    if remote_builds is not None:
        remote_builds.keep_only(
            {
                Path(d.spec.build.root).name
                for d in desired.deployments
                if d.spec.build and d.spec.build.root
            }
        )
    if settings.extra_nodes:
        desired = dataclasses.replace(desired, nodes=(*desired.nodes, *settings.extra_nodes))
    return LoadedRevision(revision, repo, desired, secrets, tuple(repo.swarms))
