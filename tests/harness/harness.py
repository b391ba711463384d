"""A real multi-node test environment: three Docker engines, TLS on one, sshd in front of another.

Used by the pytest session fixture (tests/conftest.py) and by hand::

    python -m tests.harness up --dir /tmp/syncd-h     # or scripts/harness.sh up /tmp/syncd-h
    python -m tests.harness env --dir /tmp/syncd-h    # shell exports for the running harness
    python -m tests.harness down --dir /tmp/syncd-h

Layout of DIR (keep it short: unix socket paths are limited to 108 bytes)::

    node-a/ node-b/ node-c/   docker.sock, docker.pid, dockerd.log, data/, exec/
    tls/                      ca.pem, server-{cert,key}.pem, client-{cert,key}.pem
    ssh/                      host key, user key (id_ed25519), authorized_keys, known_hosts,
                              sshd_config, sshd.pid, sshd.log
    harness.json              what is running and how to reach it (see ``describe``)

Every process is started in its own session and stopped by the pid it wrote, never by name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_IDS = ("node-a", "node-b", "node-c")
ZONES = {"node-a": "z1", "node-b": "z2", "node-c": "z3"}
CLUSTER = "test"
BASE_IMAGE = "syncd-test/busybox:latest"
# fmt: off
BUSYBOX_APPLETS = (
    "sh", "httpd", "wget", "sleep", "echo", "cat", "ls", "mkdir", "rm", "touch", "kill", "nc",
    "true", "false", "env", "ps", "top", "yes", "dd", "head", "tail", "grep",
)
# fmt: on
SSH_NODE = "node-b"
TLS_NODE = "node-c"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


class HarnessError(RuntimeError):
    """The harness could not start or stop; the message names the log file to read."""


@dataclass(frozen=True)
class EnginePaths:
    node_id: str
    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "docker.pid"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- processes


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_is_ours(pid: int, marker: str) -> bool:
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


def _stop_pid(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns once the process has fully exited."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if _wait_exit(pid, timeout_s):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_exit(pid, 5.0)


def _wait_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        if _is_zombie(pid):
            # Our child (started by this process): reap it. A Go program's main thread shows as
            # a zombie while its other threads still exit, so the wait blocks until it is done.
            try:
                os.waitpid(pid, 0)
                return True
            except ChildProcessError:
                pass  # someone else's child: its parent reaps it; wait until it is gone
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line names our directory: containerd and shims dockerd started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if _pid_is_ours(int(entry.name), marker):
            found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].encode().decode("unicode_escape")
        if target.startswith(prefix):
            mounts.append(target)
    return sorted(mounts, key=len, reverse=True)


def _tail(log: Path, lines: int = 8) -> str:
    """The last lines of a log, for an error raised before ``down`` removes the file."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _which(tool: str) -> str | None:
    # sbin is not on every user's PATH
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")


def _spawn(argv: list[str], log: Path) -> int:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    return proc.pid


# --------------------------------------------------------------------------- TLS and SSH material


def _write_tls(tls_dir: Path) -> None:
    """A CA, a server cert for 127.0.0.1/localhost and a client cert, all signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    tls_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("syncd-test-ca"))
        .issuer_name(name("syncd-test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]) -> tuple:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server_cert = leaf(
        "127.0.0.1",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_key, client_cert = leaf("syncd-test-client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pem = serialization.Encoding.PEM
    (tls_dir / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tls_dir / "server-cert.pem").write_bytes(server_cert.public_bytes(pem))
    (tls_dir / "client-cert.pem").write_bytes(client_cert.public_bytes(pem))
    for filename, key in (("server-key.pem", server_key), ("client-key.pem", client_key)):
        path = tls_dir / filename
        path.write_bytes(key_pem(key))
        path.chmod(0o600)


def _write_ssh(ssh_dir: Path, port: int, docker_socket: Path) -> Path:
    """Host key, user key, authorized_keys, known_hosts and an sshd_config; returns the config."""
    ssh_dir.mkdir(parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    for key_name in ("host_ed25519", "id_ed25519"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"syncd-test-{key_name}", "-f"]
            + [str(ssh_dir / key_name)],
            check=True,
        )
    (ssh_dir / "authorized_keys").write_text((ssh_dir / "id_ed25519.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    host_pub = (ssh_dir / "host_ed25519.pub").read_text().split()
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = ssh_dir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {ssh_dir / 'host_ed25519'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                # DIR usually lives under /tmp (world-writable), which StrictModes refuses.
                "StrictModes no",
                "UsePAM no",
                f"AuthorizedKeysFile {ssh_dir / 'authorized_keys'}",
                f"PidFile {ssh_dir / 'sshd.pid'}",
                f"SetEnv DOCKER_HOST=unix://{docker_socket}",
                # sshd's default MaxSessions (10 channels per connection) stays: as on a real node
                "MaxStartups 100:30:200",
                "LogLevel INFO",
                "",
            ]
        )
    )
    return config


# --------------------------------------------------------------------------- the base image


def base_image_tar() -> bytes:
    """A busybox rootfs: /bin/busybox, the applets tests use, an empty /tmp and a /www page."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("www", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        page = b"syncd-test\n"
        info = tarfile.TarInfo("www/index.html")
        info.size, info.mode = len(page), 0o644
        tar.addfile(info, io.BytesIO(page))
    return buffer.getvalue()


# --------------------------------------------------------------------------- the harness


class Harness:
    """Three engines and an sshd in ``root``; ``up`` is idempotent, ``down`` stops by pid."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    @property
    def state_file(self) -> Path:
        return self.root / "harness.json"

    def engine(self, node_id: str) -> EnginePaths:
        return EnginePaths(node_id, self.root / node_id)

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    # ---------------------------------------------------------------- liveness

    def is_live(self) -> bool:
        """Every engine answers /_ping and sshd runs: the description in harness.json is true."""
        state = self.read_state()
        if state is None:
            return False
        marker = str(self.root)
        for node_id in NODE_IDS:
            pid = _read_pid(self.engine(node_id).pid_file)
            if pid is None or not _pid_is_ours(pid, marker):
                return False
            if not _ping_unix(self.engine(node_id).socket):
                return False
        sshd_pid = _read_pid(self.root / "ssh" / "sshd.pid")
        return sshd_pid is not None and _pid_is_ours(sshd_pid, marker)

    # ---------------------------------------------------------------- up

    def up(self) -> dict[str, Any]:
        """Start everything (a no-op when already live) and return the harness.json content."""
        if self.is_live():
            state = self.read_state()
            assert state is not None
            return state
        if self.root.exists() and any(self.root.iterdir()):
            self.down()  # a half-started or dead harness: start clean
        self._check_prerequisites()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        started = time.monotonic()
        tcp_port, ssh_port = free_port(), free_port()
        while ssh_port == tcp_port:
            ssh_port = free_port()
        _write_tls(self.root / "tls")
        for node_id in NODE_IDS:
            self._start_engine(node_id, tcp_port if node_id == TLS_NODE else None)
        sshd_config = _write_ssh(self.root / "ssh", ssh_port, self.engine(SSH_NODE).socket)
        self._start_sshd(sshd_config)
        with ThreadPoolExecutor(len(NODE_IDS)) as pool:
            list(pool.map(self._wait_and_import, NODE_IDS))
        self._wait_sshd(ssh_port)
        state = self.describe(tcp_port, ssh_port, round(time.monotonic() - started, 2))
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)
        return state

    def _check_prerequisites(self) -> None:
        missing = [
            tool for tool in ("dockerd", "sshd", "ssh-keygen", "busybox") if not _which(tool)
        ]
        if missing:
            raise HarnessError(
                f"{', '.join(missing)} not found: install Debian's docker.io, openssh-server and "
                "busybox-static (scripts/install-system-deps.sh does)"
            )
        if os.geteuid() != 0:
            raise HarnessError("the harness starts dockerd and sshd, which need root")
        # containerd puts its sockets deepest: keep them under the 108-byte unix path limit
        deepest = self.engine("node-a").root / "exec" / "containerd" / "containerd.sock.ttrpc"
        if len(str(deepest)) >= 100:
            raise HarnessError(f"{self.root} is too long for unix socket paths: use a shorter dir")

    def _start_engine(self, node_id: str, tcp_port: int | None) -> None:
        paths = self.engine(node_id)
        paths.root.mkdir(parents=True, exist_ok=True)
        argv = [
            _which("dockerd") or "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--shutdown-timeout=2",
            f"--data-root={paths.root / 'data'}",
            f"--exec-root={paths.root / 'exec'}",
            f"--pidfile={paths.pid_file}",
            "-H",
            paths.url,
        ]
        if tcp_port is not None:
            tls = self.root / "tls"
            argv += [
                "-H",
                f"tcp://127.0.0.1:{tcp_port}",
                "--tlsverify",
                f"--tlscacert={tls / 'ca.pem'}",
                f"--tlscert={tls / 'server-cert.pem'}",
                f"--tlskey={tls / 'server-key.pem'}",
            ]
        _spawn(argv, paths.log)

    def _wait_and_import(self, node_id: str) -> None:
        paths = self.engine(node_id)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ping_unix(paths.socket):
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"dockerd for {node_id} did not answer /_ping within {READY_TIMEOUT_S:.0f}s; "
                    f"the end of {paths.log}:\n{_tail(paths.log)}"
                )
            time.sleep(0.2)
        import docker

        client = docker.DockerClient(base_url=paths.url, timeout=60)
        try:
            try:
                client.images.get(BASE_IMAGE)
                return
            except docker.errors.ImageNotFound:
                pass
            repository, tag = BASE_IMAGE.rsplit(":", 1)
            client.api.import_image_from_data(base_image_tar(), repository=repository, tag=tag)
            client.images.get(BASE_IMAGE)  # proves the import landed
        finally:
            client.close()

    def _start_sshd(self, config: Path) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        sshd = _which("sshd") or "/usr/sbin/sshd"
        check = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise HarnessError(f"sshd refused {config}: {check.stderr.strip()}")
        # -D keeps it in the foreground of its own session so we own its pid; -E logs to a file.
        _spawn(
            [sshd, "-D", "-f", str(config), "-E", str(config.parent / "sshd.log")],
            config.parent / "sshd.out",
        )

    def _wait_sshd(self, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pid_file = self.root / "ssh" / "sshd.pid"
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    if conn.recv(4).startswith(b"SSH-") and pid_file.exists():
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = self.root / "ssh" / "sshd.log"
                raise HarnessError(
                    f"sshd did not listen on 127.0.0.1:{port}; the end of {log}:\n{_tail(log)}"
                )
            time.sleep(0.1)

    def describe(self, tcp_port: int, ssh_port: int, up_seconds: float) -> dict[str, Any]:
        """harness.json: per node its engine files and one node spec per transport."""
        tls = self.root / "tls"
        ssh = self.root / "ssh"
        nodes = []
        for node_id in NODE_IDS:
            paths = self.engine(node_id)
            transports: dict[str, Any] = {"unix": {"id": node_id, "url": paths.url}}
            if node_id == SSH_NODE:
                transports["ssh"] = {
                    "id": node_id,
                    "url": f"ssh://root@127.0.0.1:{ssh_port}",
                    "ssh": {
                        "identity_file": str(ssh / "id_ed25519"),
                        "known_hosts": str(ssh / "known_hosts"),
                    },
                }
            if node_id == TLS_NODE:
                transports["tcp"] = {
                    "id": node_id,
                    "url": f"tcp://127.0.0.1:{tcp_port}",
                    "tls": {
                        "ca_cert": str(tls / "ca.pem"),
                        "client_cert": str(tls / "client-cert.pem"),
                        "client_key": str(tls / "client-key.pem"),
                    },
                }
            nodes.append(
                {
                    "id": node_id,
                    "cluster": CLUSTER,
                    "zone": ZONES[node_id],
                    "socket": str(paths.socket),
                    "pid_file": str(paths.pid_file),
                    "log": str(paths.log),
                    "transports": transports,
                }
            )
        return {
            "dir": str(self.root),
            "base_image": BASE_IMAGE,
            "up_seconds": up_seconds,
            "tcp_port": tcp_port,
            "sshd": {
                "port": ssh_port,
                "pid_file": str(ssh / "sshd.pid"),
                "log": str(ssh / "sshd.log"),
                "engine": SSH_NODE,
            },
            "nodes": nodes,
        }

    # ---------------------------------------------------------------- one engine

    def stop_engine(self, node_id: str) -> None:
        """Stop one engine by pid, as a node going down (its containers stop with it)."""
        pid = _read_pid(self.engine(node_id).pid_file)
        if pid is not None and _pid_is_ours(pid, str(self.root)):
            _stop_pid(pid)

    def start_engine(self, node_id: str) -> None:
        """Start one stopped engine again on the same socket (and TLS port) and wait for it."""
        if _ping_unix(self.engine(node_id).socket):
            return
        state = self.read_state() or {}
        node = next((n for n in state.get("nodes", []) if n["id"] == node_id), {})
        tcp_url = node.get("transports", {}).get("tcp", {}).get("url")
        self._start_engine(node_id, int(tcp_url.rsplit(":", 1)[1]) if tcp_url else None)
        self._wait_and_import(node_id)

    # ---------------------------------------------------------------- down

    def down(self) -> None:
        """Stop sshd and the engines by pid, unmount leftovers and remove DIR's contents."""
        if not self.root.exists():
            return
        marker = str(self.root)
        pids = [_read_pid(self.root / "ssh" / "sshd.pid")]
        pids += [_read_pid(self.engine(node_id).pid_file) for node_id in NODE_IDS]
        live = [pid for pid in pids if pid is not None and _pid_is_ours(pid, marker)]
        # dockerd waits each container's own stop timeout (10 s) on SIGTERM: kill them first.
        with ThreadPoolExecutor(len(NODE_IDS)) as pool:
            list(pool.map(self._kill_containers, NODE_IDS))
        with ThreadPoolExecutor(max(1, len(live))) as pool:
            list(pool.map(_stop_pid, live))
        # containerd and shims started by an engine that died without cleaning up after itself
        for pid in pids_mentioning(marker):
            _stop_pid(pid, timeout_s=5)
        for mount in _mounts_under(self.root):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    def _kill_containers(self, node_id: str) -> None:
        paths = self.engine(node_id)
        if not _ping_unix(paths.socket, timeout_s=1.0):
            return
        import docker

        client = docker.DockerClient(base_url=paths.url, timeout=10)
        try:
            for container in client.containers.list():
                with contextlib.suppress(docker.errors.APIError):  # exited meanwhile
                    container.kill()
        except docker.errors.DockerException:
            pass  # the engine is going away anyway; SIGKILL follows if it hangs
        finally:
            client.close()

    # ---------------------------------------------------------------- env

    def env_lines(self) -> Iterator[str]:
        """Shell exports for a person driving the harness by hand (``eval "$(... env)"``)."""
        state = self.read_state()
        if state is None:
            raise HarnessError(f"no harness in {self.root}: run `python -m tests.harness up` first")
        yield f"export SYNCD_HARNESS_DIR={self.root}"
        for node in state["nodes"]:
            var = node["id"].upper().replace("-", "_")
            yield f"export {var}_DOCKER_HOST={node['transports']['unix']['url']}"
        yield f"export DOCKER_HOST={state['nodes'][0]['transports']['unix']['url']}"


def _ping_unix(sock_path: Path, timeout_s: float = 2.0) -> bool:
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
