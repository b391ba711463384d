"""``syncd daemon --config FILE [--once]``: follow the Git repo and keep the nodes matching it."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click


@click.command("daemon")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    envvar="SYNCD_CONFIG",
    help="The daemon's YAML config (schemas/config.schema.json).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Run one pass (fetch, validate, plan, apply, status), wait for its rollouts, exit: "
    "non-zero when anything failed.",
)
def command(config_path: Path, once: bool) -> None:
    """Follow the configured Git branch and keep every node matching it.

    Fetches on a timer, on a push to a local repository and on a webhook; heals drift every
    reconcile interval; writes the status file, git notes and metrics. SIGTERM stops between
    steps and exits 0; SIGHUP reloads the config and syncs now. A second daemon on the same
    state directory is refused (exit 3).

    \b
    Examples:
      syncd daemon --config /etc/syncd/config.yaml
      syncd daemon --config ./syncd.yaml --once && syncd deployment list
    """
    from syncd.daemon.config import load_config
    from syncd.daemon.logs import setup_logging
    from syncd.daemon.loop import Daemon

    settings = load_config(config_path)
    setup_logging(settings.log.format, settings.log.level)
    daemon = Daemon(settings)
    code = daemon.run_once() if once else daemon.run()
    if daemon.abandoned_rollouts:
        # Python would join the rollout threads at exit, outwaiting shutdownTimeout; what they
        # leave half done the next start converges (labels are the state).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
