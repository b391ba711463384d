"""The signature policy with real SSH (and GPG, when gpg is installed) signatures."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from gitrepos import GIT_ENV, git

from syncd.errors import SignatureError
from syncd.source.gitrepo import GitSource


def ssh_key(directory, name):
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def signed_commit(work, key, message):
    (work / f"{message}.txt").write_text(message)
    git(work, "add", "-A")
    git(
        work,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "commit",
        "-q",
        "-S",
        "-m",
        message,
    )
    return git(work, "rev-parse", "HEAD")


@pytest.fixture()
def keys(tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir()
    allowed_key = ssh_key(keydir, "alice")
    other_key = ssh_key(keydir, "mallory")
    allowed = keydir / "allowed_signers"
    public = (keydir / "alice.pub").read_text().split()
    allowed.write_text(f'alice@example.test namespaces="git" {public[0]} {public[1]}\n')
    return allowed_key, other_key, allowed


def test_ssh_signed_by_an_allowed_key_passes(work, remote, tmp_path, keys):
    allowed_key, other_key, allowed = keys
    good = signed_commit(work, allowed_key, "good")
    git(work, "push", "-q", "origin", "main")
    source = GitSource(str(remote), "main", tmp_path / "co")
    assert source.sync() == good
    source.verify_signature(good, allowed, None)


def test_ssh_signed_by_another_key_is_refused(work, remote, tmp_path, keys):
    _, other_key, allowed = keys
    bad = signed_commit(work, other_key, "bad")
    git(work, "push", "-q", "origin", "main")
    source = GitSource(str(remote), "main", tmp_path / "co")
    source.sync()
    with pytest.raises(
        SignatureError, match=f"commit {bad[:12]} is not signed by an allowed key"
    ) as caught:
        source.verify_signature(bad, allowed, None)
    assert "No principal matched" in caught.value.message
    assert caught.value.retryable is False


def test_unsigned_head_is_refused(remote, tmp_path, keys):
    _, _, allowed = keys
    source = GitSource(str(remote), "main", tmp_path / "co")
    head = source.sync()
    with pytest.raises(SignatureError, match="is not signed") as caught:
        source.verify_signature(head, allowed, None)
    assert caught.value.retryable is False
    assert "git commit -S" in caught.value.hint


def test_policy_without_keys_or_with_a_missing_file_is_explained(remote, tmp_path):
    source = GitSource(str(remote), "main", tmp_path / "co")
    head = source.sync()
    with pytest.raises(SignatureError, match="needs an allowed signers file or a GPG home"):
        source.verify_signature(head, None, None)
    with pytest.raises(SignatureError, match="does not exist"):
        source.verify_signature(head, tmp_path / "missing", None)


def gpg(home, *args):
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture()
def gpg_homes(tmp_path):
    """Two keyrings, each with its own signing key; their gpg-agents are stopped afterwards."""
    homes = (tmp_path / "signer-gnupg", tmp_path / "stranger-gnupg")
    for home in homes:
        home.mkdir(mode=0o700)
        user_id = f"{home.name} <{home.name}@example.test>"
        gpg(home, "--passphrase", "", "--quick-gen-key", user_id, "ed25519", "sign", "never")
    yield homes
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_gpg_signed_by_a_key_in_the_keyring_passes_and_others_fail(
    work, remote, tmp_path, gpg_homes
):
    signer_home, stranger_home = gpg_homes
    (work / "gpg.txt").write_text("gpg")
    git(work, "add", "-A")
    subprocess.run(
        [
            "git",
            "-c",
            "user.signingkey=signer-gnupg@example.test",
            "commit",
            "-q",
            "-S",
            "-m",
            "gpg",
        ],
        cwd=work,
        check=True,
        env={**os.environ, **GIT_ENV, "GNUPGHOME": str(signer_home)},
    )
    git(work, "push", "-q", "origin", "main")
    source = GitSource(str(remote), "main", tmp_path / "co")
    head = source.sync()
    source.verify_signature(head, None, signer_home)
    with pytest.raises(SignatureError, match="not signed by an allowed key"):
        source.verify_signature(head, None, stranger_home)
