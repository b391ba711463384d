"""ssh connection sharing for the daemon's fetches, against a real sshd on loopback: the first
fetch leaves a master, the next ones reuse it, the daemon's stop ends it, and a socket left by a
master that died does not break the next fetch."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from gitrepos import commit_file, git
from test_source_ssh import sshd  # noqa: F401 -- the real sshd these tests connect to

from syncd.source.gitcommand import ssh_command
from syncd.source.gitrepo import GitSource, is_ssh_url
from syncd.source.notes import push_notes, write_note
from syncd.source.ssh_sharing import MAX_CONTROL_DIR_LENGTH, SshSharing, control_dir_for
from testkit.daemon_process import DaemonProcess


def _url(server, remote: Path) -> str:
    return f"ssh://root@127.0.0.1:{server['port']}{remote}"


def _keys(server) -> dict[str, Path]:
    return {"ssh_key": server["dir"] / "deploy_key", "known_hosts": server["dir"] / "known_hosts"}


def _logins(server) -> int:
    """Connections the sshd authenticated so far (sessions on a master are not counted)."""
    return (server["dir"] / "log").read_text().count("Accepted publickey")


def _master_pid(socket_path: Path) -> int | None:
    """The pid of the master behind ``socket_path`` (``ssh -O check``), None when none answers."""
    done = subprocess.run(
        ["ssh", "-O", "check", "-o", f"ControlPath={socket_path}", "unused"],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Master running \(pid=(\d+)\)", done.stderr)
    return int(found.group(1)) if done.returncode == 0 and found else None


def _running(pid: int) -> bool:
    try:  # a zombie nobody reaped (pid 1 in a container may not) has ended as well
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _wait_until(condition, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting until {what}")
        time.sleep(0.05)


@pytest.fixture()
def sharing(tmp_path: Path):
    shared = SshSharing.for_state_dir(tmp_path / "state", persist_s=60)
    assert shared is not None
    yield shared
    shared.close()  # no master outlives a failed test


def _cloned_through_a_master(server, remote: Path, checkout: Path, sharing: SshSharing):
    """A source cloned over ssh with ``sharing``, its master's socket and the master's pid."""
    source = GitSource(_url(server, remote), "main", checkout, **_keys(server), ssh_sharing=sharing)
    source.sync()
    [socket_path] = sharing.sockets()
    master = _master_pid(socket_path)
    assert master is not None
    return source, socket_path, master


def _push_a_commit(work: Path) -> str:
    newer = commit_file(work, "deployments/b.yaml", "id: b\n")
    git(work, "push", "-q", "origin", "main")
    return newer


def test_a_second_fetch_reuses_the_first_ones_connection(sshd, remote, work, tmp_path, sharing):  # noqa: F811
    source, socket_path, master = _cloned_through_a_master(sshd, remote, tmp_path / "co", sharing)
    logins = _logins(sshd)

    newer = _push_a_commit(work)
    assert source.sync() == newer

    assert _logins(sshd) == logins  # the fetch opened a session, not a connection
    assert sharing.sockets() == [socket_path]
    assert _master_pid(socket_path) == master

    sharing.close()
    assert sharing.sockets() == []
    _wait_until(lambda: not _running(master), "the master exited")


def test_the_notes_push_goes_through_the_fetches_connection(sshd, remote, tmp_path, sharing):  # noqa: F811
    """The daemon writes a note after a pass and pushes it to the same remote: its fetch of
    the remote's notes and its push are sessions on the fetch's master, not new logins."""
    source, socket_path, master = _cloned_through_a_master(sshd, remote, tmp_path / "co", sharing)
    assert source.ssh_sharing is sharing
    logins = _logins(sshd)
    write_note(source.checkout_dir, source.head(), "syncd: applied\n")
    push_notes(source.checkout_dir, **_keys(sshd), sharing=source.ssh_sharing)
    assert _logins(sshd) == logins
    assert _master_pid(socket_path) == master
    pushed = git(remote, "notes", "--ref=syncd", "show", source.head())
    assert pushed.strip() == "syncd: applied"


def test_a_socket_left_by_a_killed_master_does_not_break_the_next_fetch(
    sshd,  # noqa: F811
    remote,
    work,
    tmp_path,
    sharing,
):
    source, socket_path, crashed = _cloned_through_a_master(sshd, remote, tmp_path / "co", sharing)
    os.kill(crashed, signal.SIGKILL)  # no chance to remove its socket
    _wait_until(lambda: not _running(crashed), "the killed master is gone")
    assert socket_path.exists() and _master_pid(socket_path) is None

    newer = _push_a_commit(work)
    assert source.sync() == newer

    replacement = _master_pid(socket_path)
    assert replacement is not None and replacement != crashed


def test_different_credentials_never_share_a_master(sshd, remote, tmp_path, sharing):  # noqa: F811
    keys = _keys(sshd)
    GitSource(_url(sshd, remote), "main", tmp_path / "a", **keys, ssh_sharing=sharing).sync()
    pinned_copy = tmp_path / "known_hosts_copy"
    pinned_copy.write_text(keys["known_hosts"].read_text())
    GitSource(
        _url(sshd, remote),
        "main",
        tmp_path / "b",
        ssh_key=keys["ssh_key"],
        known_hosts=pinned_copy,
        ssh_sharing=sharing,
    ).sync()
    assert len(sharing.sockets()) == 2


def test_the_daemon_ends_its_master_when_it_stops(sshd, remote, tmp_path):  # noqa: F811
    state_dir = tmp_path / "state"
    keys = _keys(sshd)
    config = tmp_path / "syncd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "repo": {
                    "url": _url(sshd, remote),
                    "branch": "main",
                    "sshKey": str(keys["ssh_key"]),
                    "knownHosts": str(keys["known_hosts"]),
                    "pollInterval": "1h",
                },
                "stateDir": str(state_dir),
                "reconcileInterval": "1h",
            }
        )
    )
    control_dir = control_dir_for(state_dir)
    daemon = DaemonProcess(config, tmp_path / "daemon.log").start()
    try:
        _wait_until(lambda: (state_dir / "checkout" / ".git").is_dir(), "the daemon cloned")
        [socket_path] = [p for p in control_dir.iterdir() if p.is_socket()]
        master = _master_pid(socket_path)
        assert master is not None
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert not socket_path.exists() and not control_dir.exists()
    _wait_until(lambda: not _running(master), "the daemon's master exited")


def test_the_ssh_command_shares_only_when_asked_and_keeps_host_keys_strict(tmp_path, sharing):
    keys = {"ssh_key": tmp_path / "key", "known_hosts": tmp_path / "known_hosts"}
    plain = ssh_command(**keys)
    shared = ssh_command(**keys, sharing=sharing)
    assert plain is not None and "ControlMaster" not in plain
    assert shared is not None and shared.startswith(plain)
    assert "StrictHostKeyChecking=yes" in shared and "BatchMode=yes" in shared
    assert f"ControlPath={sharing.control_dir}/" in shared and "ControlPersist=60s" in shared


def test_a_users_own_ssh_command_is_left_alone(monkeypatch, sharing):
    assert ssh_command(None, None, sharing) is not None  # nobody chose one: ssh with sharing
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -F /etc/my-ssh-config")
    assert ssh_command(None, None, sharing) is None


def test_a_long_state_dir_puts_the_sockets_in_a_short_private_directory(tmp_path):
    long_state_dir = tmp_path / ("d" * 80) / "state"
    directory = control_dir_for(long_state_dir)
    assert len(os.fsencode(directory)) <= MAX_CONTROL_DIR_LENGTH
    assert directory != control_dir_for(tmp_path / ("e" * 80) / "state")
    sharing = SshSharing.for_state_dir(long_state_dir, persist_s=60)
    assert sharing is not None and sharing.control_dir == directory
    assert directory.stat().st_mode & 0o777 == 0o700
    directory.rmdir()
    assert control_dir_for(Path("/var/lib/syncd")) == Path("/var/lib/syncd/ssh")


def test_a_directory_open_to_others_is_not_used(tmp_path):
    state_dir = Path("/tmp") / f"syncd-open-{os.getpid()}"
    (state_dir / "ssh").mkdir(parents=True)
    try:
        (state_dir / "ssh").chmod(0o777)
        assert SshSharing.for_state_dir(state_dir, persist_s=60) is None
    finally:
        (state_dir / "ssh").rmdir()
        state_dir.rmdir()


@pytest.mark.parametrize(
    ("url", "over_ssh"),
    [
        ("ssh://git@git.example.com/team/deploy.git", True),
        ("git+ssh://git@git.example.com:2222/team/deploy.git", True),
        ("git@git.example.com:team/deploy.git", True),
        ("https://git.example.com/team/deploy.git", False),
        ("file:///srv/git/deploy.git", False),
        ("/srv/git/deploy.git", False),
    ],
)
def test_only_urls_git_reaches_through_ssh_share_a_connection(url, over_ssh):
    assert is_ssh_url(url) is over_ssh
