"""The API tokens file: format, refusals, constant-time lookup, reload on change."""

from __future__ import annotations

import os

import pytest

from syncd.daemon.api import TokenStore, authenticate, load_tokens, parse_tokens
from syncd.errors import UsageError

A = "a" * 32
B = "b" * 32


def test_names_tokens_comments_and_blank_lines():
    tokens = parse_tokens(f"# team tokens\n\nalice {A}\n  bob\t{B}   # ci\n", "tokens")
    assert [(t.name, t.token) for t in tokens] == [("alice", A.encode()), ("bob", B.encode())]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"alice {A} extra\n", "tokens:1: expected NAME TOKEN (3 field(s) found)"),
        ("\nalice\n", "tokens:2: expected NAME TOKEN (1 field(s) found)"),
        ("alice short\n", "tokens:1: the token of alice is shorter than 16 characters"),
        (f"alice {A}\nalice {B}\n", "tokens:2: alice is named twice"),
    ],
)
def test_bad_lines_are_named(text, says):
    with pytest.raises(UsageError) as caught:
        parse_tokens(text, "tokens")
    assert caught.value.message == says
    assert A not in caught.value.message


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


def test_a_tokens_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"alice {A}\n")
    path.chmod(0o644)
    with pytest.raises(UsageError, match="readable or writable by others"):
        load_tokens(path)
    path.chmod(0o600)
    assert load_tokens(path)[0].name == "alice"


def test_a_missing_tokens_file_says_which(tmp_path):
    with pytest.raises(UsageError, match="cannot read the API tokens file .*nope"):
        load_tokens(tmp_path / "nope")


def test_the_store_reads_the_file_again_when_it_changes(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"alice {A}\n")
    path.chmod(0o600)
    store = TokenStore(path)
    assert [t.name for t in store.tokens()] == ["alice"]
    path.write_text(f"bob {B}\nalice {A}\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert [t.name for t in store.tokens()] == ["bob", "alice"]
