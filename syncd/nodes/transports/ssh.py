"""ssh://: docker-py's paramiko adapter, with our host-key policy and identity file.

docker-py's ``SSHHTTPAdapter`` reads ``~/.ssh/config`` and the system known_hosts, and connects
inside its constructor. syncd instead checks the host key against the node's own known_hosts
file (or ``~/.ssh/known_hosts``), never accepts an unknown or changed key, takes the identity
file from the node spec, and ignores agents and default key files so a node is reached with
exactly the credentials its YAML names.

docker-py has no public hook for any of that: ``VerifiedSSHAdapter`` overrides the two
methods of ``SSHHTTPAdapter`` that build and connect the paramiko client
(``_create_paramiko_client``, ``_connect``), the only docker-py internals this package touches
besides the API version (``client.agree_api_version``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import paramiko
from docker.transport.sshconn import SSHHTTPAdapter

from syncd.errors import HostKeyError, NodeError, NodeUnreachable
from syncd.nodes.transports.client import Connection, new_api_client
from syncd.spec.endpoints import NodeEndpoint

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


#: mounted on the client for every request; docker-py's own ssh adapter uses the same prefix
ADAPTER_PREFIX = "http+docker://ssh"


def known_hosts_file(endpoint: NodeEndpoint) -> Path:
    """The known_hosts file a node's host key is checked against."""
    configured = endpoint.ssh.known_hosts if endpoint.ssh and endpoint.ssh.known_hosts else None
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
        endpoint: NodeEndpoint,
        node_id: str,
        *,
        connect_timeout: float,
        call_timeout: float,
        max_pool_size: int = 10,
    ) -> None:
        self._endpoint = endpoint
        self._node_id = node_id
        self._connect_timeout = connect_timeout
        # docker-py hands the url only to the two methods below (which read the endpoint instead)
        # and to its shell-out mode, which we never use.
        super().__init__(
            endpoint.url, timeout=call_timeout, pool_connections=1, max_pool_size=max_pool_size
        )

    def is_alive(self) -> bool:
        """False once the paramiko transport has died (sshd restarted, network cut)."""
        transport = self.ssh_client.get_transport() if self.ssh_client else None
        return transport is not None and transport.is_active()

    # docker-py calls this from its constructor; we replace its ~/.ssh/config reading entirely.
    def _create_paramiko_client(self, base_url: str) -> None:
        endpoint = self._endpoint
        hostname, port = str(endpoint.host), int(endpoint.port or 22)
        known_hosts = known_hosts_file(endpoint)
        client = paramiko.SSHClient()
        if not known_hosts.is_file():
            raise HostKeyError(
                f"node {self._node_id}: known_hosts file {known_hosts} does not exist, so the "
                f"host key of {host_key_name(hostname, port)} cannot be checked",
                hint="add the host's key with ssh-keyscan after checking its fingerprint",
            )
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(RefuseUnknownHosts())
        identity = endpoint.ssh.identity_file if endpoint.ssh else None
        self.ssh_client = client
        self.ssh_params: dict[str, Any] = {
            "hostname": hostname,
            "port": port,
            "username": endpoint.user or "root",
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
        known_hosts = known_hosts_file(self._endpoint)
        try:
            self.ssh_client.connect(**self.ssh_params)
        except paramiko.BadHostKeyException as error:
            raise HostKeyError(
                f"node {self._node_id}: host key of {name} does not match {known_hosts} "
                f"(it offered {_fingerprint(error.key)}): refused",
                hint="if the host was reinstalled, verify and update its line in known_hosts",
            ) from None
        except paramiko.AuthenticationException as error:
            raise NodeError(
                f"node {self._node_id}: ssh authentication to {name} failed: {error}",
                hint="check ssh.identityFile in the node's YAML and the host's authorized_keys",
            ) from None
        except UnknownHostKey as error:
            raise HostKeyError(
                f"node {self._node_id}: host {name} is not in {known_hosts} (it offered "
                f"{_fingerprint(error.key)}): refused, unknown host keys are never accepted",
                hint=f"add its key to {known_hosts} after checking the fingerprint",
            ) from None
        except paramiko.SSHException as error:
            raise NodeUnreachable(self._node_id, f"ssh to {name}: {error}") from None
        except (OSError, EOFError) as error:
            raise NodeUnreachable(self._node_id, f"ssh to {name}: {error}") from None


def open_client(
    endpoint: NodeEndpoint, node_id: str, *, connect_timeout: float, call_timeout: float
) -> Connection:
    """A client whose requests go through a VerifiedSSHAdapter (ssh connected on return).

    docker-py builds its own SSH adapter inside ``APIClient.__init__`` from the url; we build the
    client on a placeholder tcp URL (no connection is made when a version is given) and mount
    ours the way docker-py mounts its own (``Session.mount``, public in requests)."""
    adapter = VerifiedSSHAdapter(
        endpoint, node_id, connect_timeout=connect_timeout, call_timeout=call_timeout
    )
    api = new_api_client("tcp://127.0.0.1:9", call_timeout=call_timeout)
    api.mount(ADAPTER_PREFIX, adapter)
    api.base_url = ADAPTER_PREFIX
    return Connection(api, is_alive=adapter.is_alive)
