"""ssh:// transport: docker-py's paramiko adapter, with our host-key policy and identity file.

docker-py's ``SSHHTTPAdapter`` reads ``~/.ssh/config`` and the system known_hosts, and connects
inside its constructor. syncd instead checks the host key against the node's own known_hosts
file (or ``~/.ssh/known_hosts``), never accepts an unknown or changed key, takes the identity
file from the node spec, and ignores agents and default key files so a node is reached with
exactly the credentials its YAML names.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

import docker
import paramiko
from docker.transport.sshconn import SSHHTTPAdapter

from syncd.errors import HostKeyError, NodeError, NodeUnreachable
from syncd.spec.models import NodeSpec

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def known_hosts_file(node: NodeSpec) -> Path:
    """The known_hosts file a node's host key is checked against."""
    configured = node.ssh.known_hosts if node.ssh and node.ssh.known_hosts else None
    return Path(os.path.expanduser(configured or DEFAULT_KNOWN_HOSTS))


def host_key_name(hostname: str, port: int) -> str:
    """How OpenSSH (and paramiko) name a host in known_hosts: ``[host]:port`` unless port 22."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


class UnknownHostKey(paramiko.SSHException):
    """The server's key is not in known_hosts (raised by RefuseUnknownHosts)."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"server {hostname} not found in known_hosts")
        self.hostname = hostname
        self.key = key


class RefuseUnknownHosts(paramiko.RejectPolicy):
    """paramiko's RejectPolicy, raising an exception we can tell apart from other SSH failures."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise UnknownHostKey(hostname, key)


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class VerifiedSSHAdapter(SSHHTTPAdapter):
    """docker-py's SSH adapter with a RejectPolicy over one known_hosts file and one identity."""

    def __init__(
        self,
        node: NodeSpec,
        *,
        connect_timeout: float,
        call_timeout: float,
        max_pool_size: int = 10,
    ) -> None:
        self._node = node
        self._connect_timeout = connect_timeout
        super().__init__(
            node.url, timeout=call_timeout, pool_connections=1, max_pool_size=max_pool_size
        )

    # docker-py calls this from its constructor; we replace its ~/.ssh/config reading entirely.
    def _create_paramiko_client(self, base_url: str) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if not parsed.hostname:
            raise NodeError(
                f"node {self._node.id}: {base_url!r} names no host",
                hint="write the url as ssh://user@host:port",
            )
        port = parsed.port or 22
        known_hosts = known_hosts_file(self._node)
        client = paramiko.SSHClient()
        if not known_hosts.is_file():
            raise HostKeyError(
                f"node {self._node.id}: known_hosts file {known_hosts} does not exist, so the "
                f"host key of {host_key_name(parsed.hostname, port)} cannot be checked",
                hint="add the host's key with ssh-keyscan after checking its fingerprint",
            )
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(RefuseUnknownHosts())
        identity = self._node.ssh.identity_file if self._node.ssh else None
        self.ssh_client = client
        self.ssh_params: dict[str, Any] = {
            "hostname": parsed.hostname,
            "port": port,
            "username": parsed.username or "root",
            "timeout": self._connect_timeout,
            "banner_timeout": self._connect_timeout,
            "auth_timeout": self._connect_timeout,
            "channel_timeout": self._connect_timeout,
        }
        if identity:
            self.ssh_params.update(
                key_filename=os.path.expanduser(identity), look_for_keys=False, allow_agent=False
            )

    def _connect(self) -> None:
        if self.ssh_client is None:
            return
        hostname = str(self.ssh_params["hostname"])
        port = int(self.ssh_params["port"])
        name = host_key_name(hostname, port)
        known_hosts = known_hosts_file(self._node)
        try:
            self.ssh_client.connect(**self.ssh_params)
        except paramiko.BadHostKeyException as error:
            raise HostKeyError(
                f"node {self._node.id}: host key of {name} does not match {known_hosts} "
                f"(it offered {_fingerprint(error.key)}): refused",
                hint="if the host was reinstalled, verify and update its line in known_hosts",
            ) from None
        except paramiko.AuthenticationException as error:
            raise NodeError(
                f"node {self._node.id}: ssh authentication to {name} failed: {error}",
                hint="check ssh.identityFile in the node's YAML and the host's authorized_keys",
            ) from None
        except UnknownHostKey as error:
            raise HostKeyError(
                f"node {self._node.id}: host {name} is not in {known_hosts} (it offered "
                f"{_fingerprint(error.key)}): refused, unknown host keys are never accepted",
                hint=f"add its key to {known_hosts} after checking the fingerprint",
            ) from None
        except paramiko.SSHException as error:
            raise NodeUnreachable(self._node.id, f"ssh to {name}: {error}") from None
        except (OSError, EOFError) as error:
            raise NodeUnreachable(self._node.id, f"ssh to {name}: {error}") from None


def ssh_api_client(
    node: NodeSpec, *, version: str, connect_timeout: float, call_timeout: float
) -> docker.APIClient:
    """An APIClient whose requests go through a VerifiedSSHAdapter (connected on return).

    docker-py builds its own SSH adapter inside ``APIClient.__init__``; we build the client on a
    placeholder URL (no connection is made when ``version`` is given) and mount ours the way
    docker-py mounts its own.
    """
    adapter = VerifiedSSHAdapter(node, connect_timeout=connect_timeout, call_timeout=call_timeout)
    api = docker.APIClient(base_url="tcp://127.0.0.1:9", version=version, timeout=call_timeout)
    api._unmount("http://", "https://")
    api._custom_adapter = adapter
    api.mount("http+docker://ssh", adapter)
    api.base_url = "http+docker://ssh"
    return api
