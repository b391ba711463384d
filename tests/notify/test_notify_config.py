"""The ``notifications`` block of the daemon's config: typed, defaults, mistakes located."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.daemon.config import load_config
from syncd.errors import SpecError


def load(tmp_path, block: str):
    path = tmp_path / "syncd.yaml"
    path.write_text("repo: {url: /srv/d.git}\nnotifications:\n" + block)
    return load_config(path).notifications


def test_commit_statuses_and_alerts_are_typed(tmp_path):
    settings = load(
        tmp_path,
        "  commitStatus:\n"
        "    - {provider: github, repository: ops/deployments, tokenFile: gh.token}\n"
        "    - provider: gitlab\n"
        "      repository: group/sub/project\n"
        "      tokenFile: /etc/syncd/gl.token\n"
        "      baseUrl: https://gitlab.example.com/\n"
        "      contexts: perRepository\n"
        "      context: syncd-eu\n"
        "  alerts:\n"
        "    - {type: slack, urlFile: slack.url, events: [failed, reverted]}\n"
        "    - {type: webhook, url: 'https://alerts.example.com/syncd'}\n"
        "  maxPerMinute: 10\n"
        "  timeout: 5s\n",
    )
    github, gitlab = settings.commit_statuses
    assert (github.base_url, github.token_file, github.per_deployment, github.context) == (
        "https://api.github.com",
        tmp_path / "gh.token",
        True,
        "syncd",
    )
    assert (gitlab.base_url, gitlab.per_deployment, gitlab.context) == (
        "https://gitlab.example.com",
        False,
        "syncd-eu",
    )
    assert gitlab.token_file == Path("/etc/syncd/gl.token")
    slack, hook = settings.alerts
    assert (slack.url_file, slack.events) == (tmp_path / "slack.url", {"failed", "reverted"})
    assert hook.events == {"error", "failed", "reverted", "recovered"}
    assert (settings.max_per_minute, settings.timeout_s, settings.queue_limit) == (10, 5.0, 1000)
    assert settings.enabled


def test_no_block_means_no_notifications(tmp_path):
    path = tmp_path / "syncd.yaml"
    path.write_text("repo: {url: /srv/d.git}\n")
    assert not load_config(path).notifications.enabled


@pytest.mark.parametrize(
    ("block", "line", "words"),
    [
        (
            "  commitStatus:\n    - {provider: bitbucket, repository: a/b, tokenFile: t}\n",
            4,
            "provider",
        ),
        (
            "  commitStatus:\n    - {provider: github, repository: nameonly, tokenFile: t}\n",
            4,
            "owner/name",
        ),
        ("  commitStatus:\n    - {provider: github, repository: a/b}\n", 4, "tokenFile"),
        ("  alerts:\n    - {type: slack}\n", 4, "url or urlFile"),
        ("  alerts:\n    - {type: slack, url: 'https://x', urlFile: f}\n", 4, "url or urlFile"),
        ("  alerts:\n    - {type: webhook, url: 'ftp://x'}\n", 4, "http"),
        ("  alerts:\n    - {type: webhook, url: 'https://x', events: [exploded]}\n", 4, "events"),
        ("  maxAge: soon\n", 3, "duration"),
    ],
)
def test_mistakes_are_located(tmp_path, block, line, words):
    with pytest.raises(SpecError) as caught:
        load(tmp_path, block)
    (problem,) = caught.value.problems
    assert problem.line == line, problem
    assert words in str(problem)
