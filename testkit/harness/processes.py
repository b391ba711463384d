"""Processes the harness starts and stops: by the pid they wrote, never by name.

A pid is ours only while it runs and its command line names the harness directory, which
guards against a pid the kernel has since given to someone else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

STOP_TIMEOUT_S = 20.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_is_ours(pid: int, marker: str) -> bool:
    """The pid runs and its command line mentions our directory (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def stop_pid(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns once the process has fully exited."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if wait_exit(pid, timeout_s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_exit(pid, 5.0)


def wait_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        if is_zombie(pid):
            # Our child (started by this process): reap it. A Go program's main thread shows as
            # a zombie while its other threads still exit, so the wait blocks until it is done.
            try:
                os.waitpid(pid, 0)
                return True
            except ChildProcessError:
                pass  # someone else's child: its parent reaps it; wait until it is gone
        time.sleep(0.05)
    return False


def is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


#: what an engine or the harness's sshd leaves running (``/proc/PID/comm``, cut at 15 bytes)
ENGINE_PROGRAMS = ("dockerd", "containerd", "docker-proxy", "runc", "sshd")


def pids_mentioning(marker: str) -> list[int]:
    """Engine-side processes whose command line names our directory: containerd and the shims
    dockerd started, an sshd. Never a shell or tool that merely has the directory among its
    arguments (``timeout 60 python -m testkit.harness down --dir DIR``, the shell running it):
    stopping those would stop the caller."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if pid_is_ours(pid, marker) and program_of(pid).startswith(ENGINE_PROGRAMS):
            found.append(pid)
    return found


def program_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].encode().decode("unicode_escape")
        if target.startswith(prefix):
            mounts.append(target)
    return sorted(mounts, key=len, reverse=True)


def tail(log: Path, lines: int = 8) -> str:
    """The last lines of a log, for an error raised before ``down`` removes the file."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def which(tool: str) -> str | None:
    # sbin is not on every user's PATH
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")


#: The environment of every engine a test, a bench or the demo starts. No registry is reachable
#: here, and a pull must not even try: through this proxy (a closed loopback port) it fails at
#: once, without the engine resolving a registry's name through the host's DNS server.
OFFLINE_ENGINE_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
}
#: what an engine logs when it went for the network anyway (a name lookup, a registry dial)
REACHED_OUT = ("dial tcp: lookup ", 'registry-1.docker.io/v2/": dial tcp')


def engine_environment(**extra: str) -> dict[str, str]:
    """This process's environment with OFFLINE_ENGINE_ENV (and ``extra``) over it."""
    return {**os.environ, **OFFLINE_ENGINE_ENV, **extra}


def reached_out(log: Path, since: int = 0) -> list[str]:
    """Lines of an engine's log, from byte ``since`` on, showing it tried to reach beyond
    loopback (there should be none)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if any(mark in line for mark in REACHED_OUT)]


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=env,
        )
    return proc.pid


def ping_unix(sock_path: Path, timeout_s: float = 2.0) -> bool:
    """GET /_ping over the engine's unix socket; True when it answers OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(str(sock_path))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and reply.rstrip().endswith(b"OK")
