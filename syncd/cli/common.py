"""What ``syncd plan`` and ``syncd apply`` share (and ``syncd validate`` its ``--format``):
their common options and the pass settings built from them over the daemon config they can
borrow from.

The pass itself (loading, the nodes one run contacts, planning, applying) is the sync layer's
(``syncd.sync``), the same one the daemon drives, so a plan never shows a rollout that apply
or the daemon would not do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.sync import SyncSettings

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


def format_option(choices: list[str], help_text: str) -> Callable[[F], F]:
    """``--format`` (the first choice by default), passed as ``output_format``."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help_text,
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


# --------------------------------------------------------------------------- settings


def sync_settings(
    config_file: Path | None,
    repo_path: Path,
    *,
    secrets_dir: Path | None = None,
    age_identity: Path | None = None,
    allow_mass_prune: bool = False,
    concurrency: int | None = None,
    progress_deadline_s: float | None = None,
) -> SyncSettings:
    """The pass settings: the command line's values over the daemon config at ``config_file``
    (read through :func:`syncd.daemon.config.load_config`), over the defaults. The owner is
    the config's ``owner``, else derived from the checkout at ``repo_path`` the way a daemon
    following it derives its own, so both plan the same containers as theirs."""
    from syncd.source.owner import checkout_owner
    from syncd.source.remote_builds import RemoteBuildCache, user_cache_dir
    from syncd.sync import SyncSettings

    config = None
    if config_file is not None:
        from syncd.daemon.config import load_config

        config = load_config(config_file)
    return SyncSettings.of(
        config,
        secrets_dir=secrets_dir,
        age_identity=age_identity,
        allow_mass_prune=allow_mass_prune,
        concurrency=concurrency,
        progress_deadline_s=progress_deadline_s,
        owner=checkout_owner(repo_path, config.owner if config is not None else None),
        history_dir=repo_path,
        remote_builds=RemoteBuildCache(
            user_cache_dir(),
            ssh_key=config.repo.ssh_key if config is not None else None,
            known_hosts=config.repo.known_hosts if config is not None else None,
        ),
    )


def parse_duration(text: str) -> float:
    """A command-line duration (``10m``, ``90s``, ``1h30m``, ``500ms``, or plain seconds) as
    seconds, read by the same parser as the config file; UsageError when it is not one."""
    from syncd.spec.quantities import QuantityError
    from syncd.spec.quantities import parse_duration as parse_quantity

    value: str | float = text
    with contextlib.suppress(ValueError):
        value = float(text)  # plain seconds: the config's parser takes them as a number
    try:
        seconds = parse_quantity(value)
    except QuantityError as error:
        raise UsageError(
            error.message, hint="write a positive duration such as 90s, 10m or 1h30m"
        ) from None
    if seconds <= 0:
        raise UsageError(
            f"invalid duration {text!r}: it must be longer than zero",
            hint="write a positive duration such as 90s, 10m or 1h30m",
        )
    return seconds
