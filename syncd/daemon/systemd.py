"""The systemd notify protocol (READY=1, WATCHDOG=1, STATUS=...) over ``$NOTIFY_SOCKET``.

A dozen lines of socket code instead of the ``sdnotify`` package: the protocol is one datagram per
message, and sdnotify 0.3 connects once at construction and swallows every error with a bare
``except:`` (KeyboardInterrupt included), encoding STATUS text as latin-1. Here each message
opens its own socket, so a restarted manager or a late ``$NOTIFY_SOCKET`` just works, and a
failure is logged at debug level. Outside systemd (no
``$NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("syncd.daemon.systemd")


def notify(*assignments: str) -> bool:
    """Send ``KEY=VALUE`` lines to systemd; False when not under systemd or on a send error."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not assignments:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    message = "\n".join(assignments).encode("utf-8", "replace")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.debug("systemd notify failed: %s", exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """How often to send WATCHDOG=1: half of WatchdogSec, or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 1_000_000 / 2, 0.5)
    except ValueError:
        return None


def ready(status: str) -> bool:
    return notify("READY=1", f"STATUS={status}")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def stopping(text: str = "stopping") -> bool:
    return notify("STOPPING=1", f"STATUS={text}")


def reloading(text: str = "reloading the configuration") -> bool:
    return notify("RELOADING=1", f"STATUS={text}")
