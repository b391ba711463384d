"""One ssh connection per Git host for the daemon's fetches (OpenSSH connection sharing).

Without it every ``git fetch`` over ssh pays a new handshake (key exchange, host key check,
public-key authentication): most of a webhook pass's wait. With ``ControlMaster=auto`` the first
fetch leaves a master connection behind a unix socket and later fetches open a session on it.

The master is a process of its own that outlives the git (and the ssh) that started it, so:

- ``ControlPersist`` bounds how long it stays after its last session: a daemon killed with
  SIGKILL leaves no master for ever;
- the daemon ends its masters when it stops (``close``: ``ssh -O exit`` for each socket);
- a socket left by a master that died is no problem: ssh (``ControlMaster=auto``) finds nobody
  listening, removes it and becomes the master itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# A unix socket path holds at most 104 bytes with its NUL on the BSDs and macOS (108 on Linux).
# ssh binds the master at "<ControlPath>.<16 random characters>" and renames it into place, and
# ``%C`` is 40 hex digits; a credentials prefix adds 9 ("<8 hex>-").
_SUN_PATH_MAX = 103
_SSH_TEMPORARY_SUFFIX = len(".") + 16
_CONTROL_NAME_LENGTH = 9 + 40
MAX_CONTROL_DIR_LENGTH = _SUN_PATH_MAX - _SSH_TEMPORARY_SUFFIX - len("/") - _CONTROL_NAME_LENGTH

#: how long ``ssh -O exit`` may take per master at shutdown
EXIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SshSharing:
    """Where the masters' sockets live and how long an idle master stays."""

    control_dir: Path
    persist_s: int

    @classmethod
    def for_state_dir(cls, state_dir: Path, persist_s: int) -> SshSharing | None:
        """Sharing with its sockets in a private directory that belongs to ``state_dir``; None
        (every fetch connects anew, as before) when no such directory can be made safely."""
        directory = control_dir_for(Path(state_dir))
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("ssh connection sharing is off: cannot create %s (%s)", directory, exc)
            return None
        problem = _unsafe_directory(directory)
        if problem is not None:
            log.warning("ssh connection sharing is off: %s %s", directory, problem)
            return None
        return cls(directory, max(1, int(persist_s)))

    def options(self, ssh_key: Path | None, known_hosts: Path | None) -> list[str]:
        """ssh ``-o`` arguments for a connection shared under these credentials."""
        # Sessions on a master are not authenticated again, nor is the host key checked again:
        # a master is shared only by connections with the same key and known_hosts file.
        credentials = hashlib.sha256(f"{ssh_key}\0{known_hosts}".encode()).hexdigest()[:8]
        control_path = _ssh_escaped(str(self.control_dir)) + f"/{credentials}-%C"
        return [
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={control_path}",
            "-o",
            f"ControlPersist={self.persist_s}s",
            # A master behind a dead network would hold every later fetch until its timeout;
            # this ends it after about 45 s and the next fetch connects anew.
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "ServerAliveCountMax=3",
        ]

    def sockets(self) -> list[Path]:
        """The control sockets in the directory now (masters alive or left by a dead one)."""
        try:
            entries = list(self.control_dir.iterdir())
        except OSError:
            return []
        return sorted(path for path in entries if _is_socket(path))

    def close(self) -> None:
        """End every master (``ssh -O exit``) and remove the sockets and the then empty
        directory; sessions on them end too. A socket nobody listens on any more is removed."""
        for socket_path in self.sockets():
            try:
                subprocess.run(
                    [
                        "ssh",
                        "-O",
                        "exit",
                        "-o",
                        f"ControlPath={_ssh_escaped(str(socket_path))}",
                        "syncd-ssh-master",  # unused: the path names the master
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=EXIT_TIMEOUT_S,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                log.warning("could not end the ssh master at %s: %s", socket_path, exc)
            # The master removes its socket as it exits, maybe after ssh -O returned.
            socket_path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: someone else's file, left alone
            self.control_dir.rmdir()  # an empty directory under /tmp is litter


def control_dir_for(state_dir: Path) -> Path:
    """``STATE_DIR/ssh`` when that path is short enough for the sockets, else a directory of
    this user's named for the state dir (two daemons never share or end each other's masters):
    ``/run/user/UID/syncd-HASH`` (private to the user, emptied at logout) or
    ``/tmp/syncd-UID-HASH``."""
    state_dir = state_dir.absolute()
    beside = state_dir / "ssh"
    if len(os.fsencode(beside)) <= MAX_CONTROL_DIR_LENGTH:
        return beside
    uid = os.getuid()
    digest = hashlib.sha256(os.fsencode(state_dir)).hexdigest()[:12]
    runtime = Path(f"/run/user/{uid}")
    if runtime.is_dir() and _unsafe_directory(runtime) is None:
        return runtime / f"syncd-{digest}"
    return Path(f"/tmp/syncd-{uid}-{digest}")


def _unsafe_directory(directory: Path) -> str | None:
    """Why ``directory`` must not hold our sockets (another user could reach or replace them)."""
    try:
        info = os.lstat(directory)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory (a symlink or a file)"
    if info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to this user"
    if info.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(info.st_mode):o}; want 700)"
    return None


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _ssh_escaped(path: str) -> str:
    # ssh expands %-tokens in ControlPath: a literal % in a directory name is written %%.
    return path.replace("%", "%%")
