"""The systemd notify protocol, against a real datagram socket standing in for systemd."""

from __future__ import annotations

import socket

from syncd.daemon import systemd


def test_notify_sends_one_datagram(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert systemd.ready("synced abc1234")
        assert receiver.recv(4096) == b"READY=1\nSTATUS=synced abc1234"
        assert systemd.watchdog()
        assert receiver.recv(4096) == b"WATCHDOG=1"


def test_abstract_socket(monkeypatch):
    name = f"syncd-test-{id(monkeypatch)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.status("fetching")
        assert receiver.recv(4096) == b"STATUS=fetching"


def test_outside_systemd_everything_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert systemd.ready("x") is False
    assert systemd.watchdog_interval_s() is None


def test_watchdog_interval_is_half_of_watchdogsec(monkeypatch):
    import os

    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval_s() == 60.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert systemd.watchdog_interval_s() is None
