"""A real multi-node test environment: three Docker engines, TLS on one, sshd in front of another.

Used by the pytest session fixture (tests/conftest.py), the bench scripts (testkit/bench.py) and
by hand::

    python -m testkit.harness up --dir /tmp/syncd-h     # or scripts/harness.sh up /tmp/syncd-h
    python -m testkit.harness env --dir /tmp/syncd-h    # shell exports for the running harness
    python -m testkit.harness down --dir /tmp/syncd-h

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
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.harness.base_image import BASE_IMAGE, base_image_tar
from testkit.harness.credentials import write_ssh, write_tls
from testkit.harness.processes import (
    engine_environment,
    free_port,
    mounts_under,
    pid_is_ours,
    pids_mentioning,
    ping_unix,
    read_pid,
    spawn,
    stop_pid,
    tail,
    which,
)
from testkit.harness.proxy_image import PROXY_IMAGE, proxy_image_tar

NODE_IDS = ("node-a", "node-b", "node-c")
ZONES = {"node-a": "z1", "node-b": "z2", "node-c": "z3"}
CLUSTER = "test"
SSH_NODE = "node-b"
TLS_NODE = "node-c"
READY_TIMEOUT_S = 60.0


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
            pid = read_pid(self.engine(node_id).pid_file)
            if pid is None or not pid_is_ours(pid, marker):
                return False
            if not ping_unix(self.engine(node_id).socket):
                return False
        sshd_pid = read_pid(self.root / "ssh" / "sshd.pid")
        return sshd_pid is not None and pid_is_ours(sshd_pid, marker)

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
        write_tls(self.root / "tls")
        for node_id in NODE_IDS:
            self._start_engine(node_id, tcp_port if node_id == TLS_NODE else None)
        sshd_config = write_ssh(self.root / "ssh", ssh_port, self.engine(SSH_NODE).socket)
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
        missing = [tool for tool in ("dockerd", "sshd", "ssh-keygen", "busybox") if not which(tool)]
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
            which("dockerd") or "dockerd",
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
        spawn(argv, paths.log, env=engine_environment())

    def _wait_and_import(self, node_id: str) -> None:
        paths = self.engine(node_id)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ping_unix(paths.socket):
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"dockerd for {node_id} did not answer /_ping within {READY_TIMEOUT_S:.0f}s; "
                    f"the end of {paths.log}:\n{tail(paths.log)}"
                )
            time.sleep(0.2)
        import docker

        client = docker.DockerClient(base_url=paths.url, timeout=60)
        try:
            for image, make_tar in ((BASE_IMAGE, base_image_tar), (PROXY_IMAGE, proxy_image_tar)):
                try:
                    client.images.get(image)
                    continue
                except docker.errors.ImageNotFound:
                    pass
                repository, tag = image.rsplit(":", 1)
                client.api.import_image_from_data(make_tar(), repository=repository, tag=tag)
                client.images.get(image)  # proves the import landed
        finally:
            client.close()

    def _start_sshd(self, config: Path) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        sshd = which("sshd") or "/usr/sbin/sshd"
        check = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise HarnessError(f"sshd refused {config}: {check.stderr.strip()}")
        # -D keeps it in the foreground of its own session so we own its pid; -E logs to a file.
        spawn(
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
                    f"sshd did not listen on 127.0.0.1:{port}; the end of {log}:\n{tail(log)}"
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
            "proxy_image": PROXY_IMAGE,
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
        pid = read_pid(self.engine(node_id).pid_file)
        if pid is not None and pid_is_ours(pid, str(self.root)):
            stop_pid(pid)

    def start_engine(self, node_id: str) -> None:
        """Start one stopped engine again on the same socket (and TLS port) and wait for it."""
        if ping_unix(self.engine(node_id).socket):
            return
        state = self.read_state() or {}
        node: dict[str, Any] = next((n for n in state.get("nodes", []) if n["id"] == node_id), {})
        tcp_url = node.get("transports", {}).get("tcp", {}).get("url")
        self._start_engine(node_id, int(tcp_url.rsplit(":", 1)[1]) if tcp_url else None)
        self._wait_and_import(node_id)

    # ---------------------------------------------------------------- down

    def down(self) -> None:
        """Stop sshd and the engines by pid, unmount leftovers and remove DIR's contents."""
        if not self.root.exists():
            return
        marker = str(self.root)
        pids = [read_pid(self.root / "ssh" / "sshd.pid")]
        pids += [read_pid(self.engine(node_id).pid_file) for node_id in NODE_IDS]
        live = [pid for pid in pids if pid is not None and pid_is_ours(pid, marker)]
        # dockerd waits each container's own stop timeout (10 s) on SIGTERM: kill them first.
        with ThreadPoolExecutor(len(NODE_IDS)) as pool:
            list(pool.map(self._kill_containers, NODE_IDS))
        with ThreadPoolExecutor(max(1, len(live))) as pool:
            list(pool.map(stop_pid, live))
        # containerd and shims started by an engine that died without cleaning up after itself
        for pid in pids_mentioning(marker):
            stop_pid(pid, timeout_s=5)
        for mount in mounts_under(self.root):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)

    def _kill_containers(self, node_id: str) -> None:
        paths = self.engine(node_id)
        if not ping_unix(paths.socket, timeout_s=1.0):
            return
        import docker

        client = docker.DockerClient(base_url=paths.url, timeout=10)
        try:
            for container in client.containers.list():
                with contextlib.suppress(docker.errors.APIError):  # exited meanwhile
                    container.kill()
        except (docker.errors.DockerException, OSError, ValueError):
            # the engine is going away anyway; SIGKILL follows if it hangs (a wedged engine
            # answers its ping but times out here: requests' ReadTimeout is an OSError)
            pass
        finally:
            client.close()

    # ---------------------------------------------------------------- env

    def env_lines(self) -> Iterator[str]:
        """Shell exports for a person driving the harness by hand (``eval "$(... env)"``)."""
        state = self.read_state()
        if state is None:
            raise HarnessError(
                f"no harness in {self.root}: run `python -m testkit.harness up` first"
            )
        yield f"export SYNCD_HARNESS_DIR={self.root}"
        for node in state["nodes"]:
            var = node["id"].upper().replace("-", "_")
            yield f"export {var}_DOCKER_HOST={node['transports']['unix']['url']}"
        yield f"export DOCKER_HOST={state['nodes'][0]['transports']['unix']['url']}"
