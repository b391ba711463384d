"""GitSource and notes over ssh:// against a real sshd on loopback (deploy key, pinned host key)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from gitrepos import commit_file, git

from syncd.errors import SourceError
from syncd.source.gitrepo import GitSource
from syncd.source.notes import push_notes, write_note


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """An sshd on 127.0.0.1 that accepts one deploy key; stopped by its pid afterwards."""
    directory = tmp_path_factory.mktemp("sshd")
    directory.chmod(0o700)
    _keygen(directory / "host_key")
    _keygen(directory / "deploy_key")
    _keygen(directory / "other_host_key")
    (directory / "authorized_keys").write_text((directory / "deploy_key.pub").read_text())
    port = _free_port()
    host_pub = (directory / "host_key.pub").read_text().split()
    other_pub = (directory / "other_host_key.pub").read_text().split()
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (directory / "wrong_known_hosts").write_text(
        f"[127.0.0.1]:{port} {other_pub[0]} {other_pub[1]}\n"
    )
    pid_file = directory / "sshd.pid"
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_key'}\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPidFile {pid_file}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    done = subprocess.run(
        ["/usr/sbin/sshd", "-f", str(config), "-E", str(directory / "log")], check=False
    )
    if done.returncode != 0:
        pytest.skip("sshd cannot start here")
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield {"port": port, "dir": directory}
    if pid_file.exists():
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def _url(sshd, remote: Path) -> str:
    return f"ssh://root@127.0.0.1:{sshd['port']}{remote}"


def test_clone_fetch_and_push_notes_over_ssh(sshd, remote, work, tmp_path):
    keys = {"ssh_key": sshd["dir"] / "deploy_key", "known_hosts": sshd["dir"] / "known_hosts"}
    source = GitSource(_url(sshd, remote), "main", tmp_path / "co", **keys)
    assert source.sync() == git(remote, "rev-parse", "main")
    newer = commit_file(work, "deployments/b.yaml", "id: b\n")
    git(work, "push", "-q", "origin", "main")
    assert source.sync() == newer

    write_note(source.checkout_dir, newer, "over ssh")
    push_notes(source.checkout_dir, "refs/notes/syncd", **keys)
    assert git(remote, "notes", "--ref=refs/notes/syncd", "show", newer) == "over ssh"


def test_unknown_host_key_is_refused(sshd, remote, tmp_path):
    source = GitSource(
        _url(sshd, remote),
        "main",
        tmp_path / "co",
        ssh_key=sshd["dir"] / "deploy_key",
        known_hosts=sshd["dir"] / "wrong_known_hosts",
    )
    with pytest.raises(SourceError) as caught:
        source.sync()
    assert "Host key verification failed" in caught.value.message
    assert caught.value.retryable
    assert not (tmp_path / "co").exists()


def test_a_key_the_server_does_not_accept_is_refused(sshd, remote, tmp_path):
    stranger = tmp_path / "stranger"
    _keygen(stranger)
    source = GitSource(
        _url(sshd, remote),
        "main",
        tmp_path / "co",
        ssh_key=stranger,
        known_hosts=sshd["dir"] / "known_hosts",
    )
    with pytest.raises(SourceError, match="Permission denied"):
        source.sync()
