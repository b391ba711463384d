"""The pass settings are decided once: command line over the daemon config over the defaults."""

from __future__ import annotations

from pathlib import Path

from syncd.apply.report import DEFAULT_CONCURRENCY, DEFAULT_PROGRESS_DEADLINE_S, ApplyOptions
from syncd.daemon.config import DaemonSettings, parse_config
from syncd.sync import SyncSettings


def config(text: str, tmp_path: Path) -> DaemonSettings:
    body = f"repo: {{url: {tmp_path}}}\n{text}".encode()
    return parse_config(body, "syncd.yaml", base_dir=tmp_path)


def test_defaults_are_the_apply_engines() -> None:
    settings = SyncSettings.of(None)
    assert (settings.concurrency, settings.progress_deadline_s) == (
        DEFAULT_CONCURRENCY,
        DEFAULT_PROGRESS_DEADLINE_S,
    )
    assert (ApplyOptions().concurrency, ApplyOptions().progress_deadline_s) == (
        settings.concurrency,
        settings.progress_deadline_s,
    )
    assert settings.only_nodes is None and settings.extra_nodes == ()


def test_the_config_fills_what_the_command_line_leaves_out(tmp_path: Path) -> None:
    daemon = config(
        "concurrency: 2\nprogressDeadline: 1h30m\nallowMassPrune: true\nonlyNodes: [node-a]\n"
        "secrets: {dir: /etc/syncd/secrets}\n"
        "nodes: [{id: node-x, url: 'tcp://x.invalid:2376', cluster: main}]\n",
        tmp_path,
    )
    settings = SyncSettings.of(daemon)
    assert settings.concurrency == 2
    assert settings.progress_deadline_s == 5400.0
    assert settings.allow_mass_prune is True
    assert settings.only_nodes == frozenset({"node-a"})
    assert settings.secrets_dir == Path("/etc/syncd/secrets")
    assert [n.id for n in settings.extra_nodes] == ["node-x"]


def test_the_command_line_wins(tmp_path: Path) -> None:
    daemon = config("concurrency: 2\nprogressDeadline: 5m\nsecrets: {dir: /a}\n", tmp_path)
    settings = SyncSettings.of(
        daemon, concurrency=8, progress_deadline_s=30.0, secrets_dir=Path("/b")
    )
    assert (settings.concurrency, settings.progress_deadline_s) == (8, 30.0)
    assert settings.secrets_dir == Path("/b")
    options = settings.apply_options()
    assert (options.concurrency, options.progress_deadline_s) == (8, 30.0)
    assert settings.apply_options(concurrency=1).concurrency == 1
