"""What ``syncd plan`` and ``syncd apply`` share: their common options, the daemon config they
can borrow settings from, loading and rendering a repository with the secrets apply uses, and
the nodes one run contacts (``--node``, the config's ``onlyNodes``).

Both commands must compute the same spec hashes and see the same nodes as the daemon, or a plan
shows rollouts that apply would not do; one copy of this code keeps them from drifting apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from syncd.errors import SpecError, UsageError

if TYPE_CHECKING:
    from syncd.nodes.pool import NodePool
    from syncd.spec.desired import DesiredState
    from syncd.spec.models import NodeSpec, RepoSpec
    from syncd.spec.rendering import SecretDigests
    from syncd.spec.secrets import SecretProvider
    from syncd.state import ObservedState

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------- options


def repo_option(help_text: str) -> Callable[[F], F]:
    """``--repo DIR`` (default the current folder), passed as ``repo_path``."""
    return click.option(
        "--repo",
        "repo_path",
        type=click.Path(file_okay=False, path_type=Path),
        default=".",
        show_default=True,
        help=help_text,
    )


def config_option(help_text: str) -> Callable[[F], F]:
    """``--config FILE``: a daemon config file, passed as ``config_file``."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=help_text,
    )


def node_option() -> Callable[[F], F]:
    """``--node ID`` (repeatable), passed as ``node_ids``."""
    return click.option(
        "--node",
        "node_ids",
        multiple=True,
        metavar="ID",
        help="Contact only these nodes (repeatable); the others count as unreachable.",
    )


def secrets_options(dir_help: str, identity_help: str) -> Callable[[F], F]:
    """``--secrets-dir DIR`` and ``--age-identity FILE``, the two secret sources."""
    secrets_dir = click.option(
        "--secrets-dir", type=click.Path(file_okay=False, path_type=Path), help=dir_help
    )
    age_identity = click.option(
        "--age-identity", type=click.Path(dir_okay=False, path_type=Path), help=identity_help
    )
    return lambda function: secrets_dir(age_identity(function))


def allow_mass_prune_option(help_text: str) -> Callable[[F], F]:
    """``--allow-mass-prune``, the flag that lifts the planner's half-of-everything guard."""
    return click.option("--allow-mass-prune", is_flag=True, help=help_text)


# --------------------------------------------------------------------------- the daemon config


@dataclass(frozen=True)
class LiveSettings:
    """The settings a live run uses: the command line's, else the daemon config's."""

    secrets_dir: Path | None = None
    age_identity: Path | None = None
    extra_nodes: tuple[NodeSpec, ...] = ()
    only_nodes: frozenset[str] | None = None
    allow_mass_prune: bool = False
    concurrency: int | None = None
    progress_deadline_s: float | None = None
    owner: str | None = None  # the config's owner key; else derived from the checkout

    def owner_for(self, repo_path: Path) -> str:
        """The owner a plan of the checkout at ``repo_path`` is made for (syncd/source/owner.py)."""
        from syncd.source.owner import checkout_owner

        return checkout_owner(repo_path, self.owner)


def live_settings(
    config_file: Path | None,
    *,
    secrets_dir: Path | None,
    age_identity: Path | None,
    allow_mass_prune: bool,
) -> LiveSettings:
    """Merge the command line over the daemon config at ``config_file`` (read through
    :func:`syncd.daemon.config.load_config`); without a file, the command line alone."""
    if config_file is None:
        return LiveSettings(
            secrets_dir=secrets_dir, age_identity=age_identity, allow_mass_prune=allow_mass_prune
        )
    from syncd.daemon.config import load_config

    config = load_config(config_file)
    return LiveSettings(
        secrets_dir=secrets_dir or config.secrets.dir,
        age_identity=age_identity or config.secrets.age_identity,
        extra_nodes=config.nodes,
        only_nodes=config.only_nodes,
        allow_mass_prune=allow_mass_prune or config.allow_mass_prune,
        concurrency=config.concurrency,
        progress_deadline_s=config.progress_deadline_s,
        owner=config.owner,
    )


# --------------------------------------------------------------------------- loading


def load_repo(
    root: Path,
    *,
    revision: str | None = None,
    extra_nodes: Sequence[NodeSpec] = (),
    invalid_hint: str | None = None,
) -> RepoSpec:
    """The checked repository at ``root``; ``invalid_hint`` replaces the hint of its SpecError."""
    from syncd.spec.repository import load_repository

    try:
        return load_repository(root, revision=revision, extra_nodes=extra_nodes)
    except SpecError as error:
        if invalid_hint is not None:
            error.hint = invalid_hint
        raise


def render(
    repo: RepoSpec,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretDigests | None = None,
    extra_nodes: Sequence[NodeSpec] = (),
    invalid_hint: str | None = None,
) -> DesiredState:
    """``repo`` rendered with its spec hashes; ``extra_nodes`` (the config's) join its nodes."""
    from syncd.spec.rendering import render_desired

    try:
        desired = render_desired(repo, environ=environ, secrets=secrets)
    except SpecError as error:
        if invalid_hint is not None:
            error.hint = invalid_hint
        raise
    if extra_nodes:  # load_repository refuses an id declared in both
        desired = dataclasses.replace(desired, nodes=(*desired.nodes, *extra_nodes))
    return desired


@dataclass(frozen=True)
class LiveDesired:
    """A repository loaded and rendered with the secret provider apply reads values from."""

    repo: RepoSpec
    desired: DesiredState
    secrets: SecretProvider


def load_live(
    root: Path,
    settings: LiveSettings,
    *,
    revision: str | None = None,
    invalid_hint: str | None = None,
) -> LiveDesired:
    """Load and render ``root`` as apply (and the daemon) does, so that spec hashes include the
    digests of the secrets ``settings`` can read and match the running containers' labels."""
    from syncd.spec.secrets import SecretProvider

    repo = load_repo(
        root, revision=revision, extra_nodes=settings.extra_nodes, invalid_hint=invalid_hint
    )
    secrets = SecretProvider(
        secrets_dir=settings.secrets_dir, repo_root=root, age_identity=settings.age_identity
    )
    desired = render(
        repo, secrets=secrets, extra_nodes=settings.extra_nodes, invalid_hint=invalid_hint
    )
    return LiveDesired(repo, desired, secrets)


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class NodeSelection:
    """The declared nodes and the ones this run contacts: those named by ``--node``, else
    those in the config's ``onlyNodes``, else all. The others count as unreachable, so nothing
    is placed on or removed from them."""

    nodes: tuple[NodeSpec, ...]
    node_ids: tuple[str, ...] = ()
    only_nodes: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        nodes: Sequence[NodeSpec],
        node_ids: Sequence[str] = (),
        only_nodes: frozenset[str] | None = None,
    ) -> NodeSelection:
        """Raises UsageError naming any ``--node`` id that no node declares."""
        known = {node.id for node in nodes}
        unknown = [node_id for node_id in dict.fromkeys(node_ids) if node_id not in known]
        if unknown:
            raise UsageError(
                f"unknown node(s) {', '.join(unknown)}: declared are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        return cls(tuple(nodes), tuple(node_ids), only_nodes)

    def left_out(self, node_id: str) -> str | None:
        """Why ``node_id`` is not contacted, or None when it is."""
        if self.node_ids:  # the command line wins over the config
            return None if node_id in self.node_ids else "not contacted (--node)"
        if self.only_nodes is not None and node_id not in self.only_nodes:
            return "not contacted: not in onlyNodes"
        return None

    @property
    def contacted(self) -> tuple[NodeSpec, ...]:
        return tuple(node for node in self.nodes if self.left_out(node.id) is None)

    def open_pool(self) -> NodePool:
        """A pool of the contacted nodes; the caller closes it."""
        from syncd.nodes.pool import NodePool

        return NodePool(list(self.contacted))

    def observe(self, pool: NodePool) -> ObservedState:
        """What ``pool`` sees, with every node left out marked unreachable and its instances
        unseen."""
        from syncd.state import NodeFacts, ObservedState

        observed = pool.observe()
        reasons = {node.id: self.left_out(node.id) for node in self.nodes}
        skipped = {
            node_id: NodeFacts(node_id, reachable=False, error=reason)
            for node_id, reason in reasons.items()
            if reason is not None
        }
        if not skipped:
            return observed
        return ObservedState(
            nodes={**observed.nodes, **skipped},
            instances=tuple(i for i in observed.instances if i.node_id not in skipped),
        )
