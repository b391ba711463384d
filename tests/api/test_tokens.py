"""The API tokens file: format, refusals, constant-time lookup, reload on change, and what the
daemon and the API do with a bad file (exit 2 at start; old tokens kept on a bad change; 503,
never 500, when there is nothing to authenticate with)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml

from syncd.daemon.api import DeploySvcApi
from syncd.daemon.http import HttpServer
from syncd.daemon.tokens import (
    TokenStore,
    TokensUnavailable,
    authenticate,
    load_tokens,
    parse_tokens,
)
from syncd.errors import ConfigError
from syncd.source.editing import RepoEditor
from tests.api.conftest import Api
from tests.daemon.helpers import free_port, syncd

A = "a" * 32
B = "b" * 32


def write_tokens(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    # a new mtime whatever the file system's clock granularity: the store sees every write
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    return path


def test_names_tokens_comments_and_blank_lines():
    tokens = parse_tokens(f"# team tokens\n\nalice {A}\n  bob\t{B}   # ci\n", "tokens")
    assert [(t.name, t.token) for t in tokens] == [("alice", A.encode()), ("bob", B.encode())]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (f"alice {A} extra\n", 1, "expected NAME TOKEN (3 field(s) found)"),
        ("\nalice\n", 2, "expected NAME TOKEN (1 field(s) found)"),
        ("alice tiny123\n", 1, "the token of alice is shorter than 16 characters"),
        (f"alice {A}\nalice {B}\n", 2, "alice is named twice"),
    ],
)
def test_bad_lines_are_config_errors_naming_file_and_line(text, line, says):
    with pytest.raises(ConfigError) as caught:
        parse_tokens(text, "tokens")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.message) == ("tokens", line, says)
    assert caught.value.exit_code == 2
    # the token itself is never echoed
    assert A not in str(caught.value) and "tiny123" not in str(caught.value)


def test_every_bad_line_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_tokens(f"alice short\nbob {B}\ncarol\n", "tokens")
    assert [p.line for p in caught.value.problems] == [1, 3]


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (f"Bearer {A}", "alice"),
        (f"bearer   {B} ", "bob"),
        (f"Basic {A}", None),
        (f"Bearer {A[:-1]}", None),
        ("Bearer ", None),
        (None, None),
        ("", None),
    ],
)
def test_authenticate(header, name):
    tokens = parse_tokens(f"alice {A}\nbob {B}\n", "tokens")
    assert authenticate(tokens, header) == name


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o604, 0o602, 0o610])
def test_a_tokens_file_its_group_or_others_can_access_is_refused(tmp_path, mode):
    path = write_tokens(tmp_path / "tokens", f"alice {A}\n", mode)
    with pytest.raises(ConfigError) as caught:
        load_tokens(path)
    assert "open to its group or others" in caught.value.problems[0].message
    assert caught.value.hint == f"chmod 600 {path}"
    path.chmod(0o600)
    assert load_tokens(path)[0].name == "alice"


def test_a_missing_tokens_file_says_which(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_tokens(tmp_path / "nope")
    assert caught.value.problems[0].file == str(tmp_path / "nope")
    assert "cannot read the API tokens file" in caught.value.problems[0].message


def test_the_store_reads_the_file_again_when_it_changes(tmp_path):
    path = write_tokens(tmp_path / "tokens", f"alice {A}\n")
    store = TokenStore(path)
    assert [t.name for t in store.load()] == ["alice"]
    write_tokens(path, f"bob {B}\nalice {A}\n")
    assert [t.name for t in store.tokens()] == ["bob", "alice"]


def test_a_bad_change_keeps_the_old_tokens_and_logs_why_once(tmp_path, caplog):
    path = write_tokens(tmp_path / "tokens", f"alice {A}\n")
    store = TokenStore(path)
    store.load()
    write_tokens(path, f"alice {A}\nbob tiny123\n")
    with caplog.at_level(logging.ERROR, logger="syncd.daemon.tokens"):
        assert [t.name for t in store.tokens()] == ["alice"]
        assert [t.name for t in store.tokens()] == ["alice"]
    refusals = [r.getMessage() for r in caplog.records]
    assert len(refusals) == 1, refusals
    assert f"{path}:2:1" in refusals[0] and "keeping the tokens read before" in refusals[0]
    assert "tiny123" not in refusals[0]

    # made readable by others: refused on this read too, the old tokens stay
    write_tokens(path, f"bob {B}\n", 0o644)
    assert [t.name for t in store.tokens()] == ["alice"]
    path.unlink()
    assert [t.name for t in store.tokens()] == ["alice"]

    write_tokens(path, f"bob {B}\n")
    assert [t.name for t in store.tokens()] == ["bob"]


def test_a_store_that_never_read_a_good_file_is_unavailable(tmp_path):
    path = write_tokens(tmp_path / "tokens", "alice short\n")
    store = TokenStore(path)
    with pytest.raises(ConfigError):
        store.load()
    with pytest.raises(TokensUnavailable) as caught:
        store.tokens()
    assert f"{path}:1:1" in caught.value.message
    assert caught.value.retryable


def test_the_api_answers_503_with_the_reason_not_500_without_usable_tokens(
    tmp_path, server: HttpServer
):
    """The store is handed over unread (as a caller other than ``daemon_api`` might): every
    request, an unauthenticated one included, is a 503 that says why."""
    path = write_tokens(tmp_path / "tokens", "alice short\n")
    editor = RepoEditor(tmp_path, "main", push=False)
    DeploySvcApi(
        TokenStore(path),
        editor,
        deployments_root=lambda: None,
        status_of=dict,
    ).register(server)
    host, port = server.address
    api = Api(f"http://{host}:{port}", tmp_path, editor)
    for token in (None, A):
        status, body = api.call("POST", "/deploy-svc/deployments", {}, token=token)
        assert status == 503
        assert "no usable API tokens" in body["error"]
        assert "shorter than 16 characters" in body["error"]
    write_tokens(path, f"alice {A}\n")
    assert api.call("POST", "/deploy-svc/deployments", {}, token=A) == (
        200,
        {"deployments": []},
    )


@pytest.mark.parametrize(
    ("text", "mode", "says"),
    [
        ("alice short\n", 0o600, ":1:1: $: the token of alice is shorter than 16 characters"),
        (f"alice {A}\n", 0o644, ":1:1: $: the API tokens file is open to its group or others"),
    ],
)
def test_the_daemon_does_not_start_with_a_bad_tokens_file(tmp_path, text, mode, says):
    """A config error (exit 2, FILE:LINE), so systemd stops restarting it, rather than a daemon
    that answers every API call with an error."""
    tokens = write_tokens(tmp_path / "tokens", text, mode)
    config = tmp_path / "syncd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "repo": {"url": str(tmp_path / "nowhere.git"), "branch": "main"},
                "stateDir": str(tmp_path / "state"),
                "listen": f"127.0.0.1:{free_port()}",
                "api": {"tokensFile": str(tokens)},
                "nodes": [],
            }
        )
    )
    done = syncd("daemon", "--config", str(config), timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{tokens}{says}" in done.stderr
    assert "Traceback" not in done.stderr
