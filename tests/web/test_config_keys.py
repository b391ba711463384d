"""The page's and the listener's config keys (``web:``, ``http:``)."""

from __future__ import annotations

import resource

import pytest

from syncd.daemon.config import HttpLimits, load_config
from syncd.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "syncd.yaml"
    path.write_text("repo: {url: /srv/deployments.git}\n" + text)
    return path


def test_defaults_keep_the_page_closed_and_the_limits_set(tmp_path):
    settings = load_config(write(tmp_path, ""))
    assert settings.web.enabled and not settings.web.open_on_loopback
    assert settings.web.tokens_file is None
    assert settings.http == HttpLimits()
    assert settings.webhook.max_body_bytes == 5 * 1024 * 1024


def test_web_and_http_keys_load(tmp_path):
    settings = load_config(
        write(
            tmp_path,
            "web: {openOnLoopback: true, tokensFile: page-tokens}\n"
            "http: {threads: 4, maxConnections: 64, reserveDescriptors: 100,"
            " clientTimeout: 3s, backlog: 256}\n",
        )
    )
    assert settings.web.open_on_loopback
    assert settings.web.tokens_file == tmp_path / "page-tokens"
    assert settings.http == HttpLimits(
        threads=4, max_connections=64, reserve_descriptors=100, client_timeout_s=3.0, backlog=256
    )


@pytest.mark.parametrize(
    "text",
    [
        "web: {openOnLoopbak: true}\n",
        "http: {threads: 0}\n",
        "http: {clientTimeout: soon}\n",
        "webhook: {maxBodyBytes: 104857600}\n",
    ],
)
def test_bad_keys_are_refused_with_their_line(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.problems[0].line == 2


def test_the_connection_cap_leaves_the_reserve_free():
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = HttpLimits(max_connections=100_000, reserve_descriptors=256)
    if soft != resource.RLIM_INFINITY:
        assert limits.connection_cap() == max(8, soft - 256)
    assert HttpLimits(max_connections=16).connection_cap() <= 16
