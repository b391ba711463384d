"""tcp://: HTTP, or HTTPS with client certificates when the node names TLS files.

The engine's certificate is checked against the node's CA; the files are paths on the control
host and must exist (a missing one is named, not reported as an unreachable node)."""

from __future__ import annotations

import os

import docker

from syncd.errors import NodeError
from syncd.nodes.transports.client import Connection, new_api_client
from syncd.spec.endpoints import NodeEndpoint, TlsFiles


def open_client(
    endpoint: NodeEndpoint, node_id: str, *, connect_timeout: float, call_timeout: float
) -> Connection:
    """A client over HTTP, or HTTPS with the node's client certificate and CA."""
    tls = tls_config(endpoint.tls, node_id) if endpoint.tls is not None else False
    api = new_api_client(
        f"tcp://{_host(endpoint)}:{endpoint.port}", call_timeout=call_timeout, tls=tls
    )
    return Connection(api)


def tls_config(files: TlsFiles, node_id: str) -> docker.tls.TLSConfig:
    """docker-py's TLS settings for the node's files; NodeError naming a file that is missing."""
    for what, path in (
        ("CA certificate", files.ca_cert),
        ("client certificate", files.client_cert),
        ("client key", files.client_key),
    ):
        if not os.path.isfile(os.path.expanduser(path)):
            raise NodeError(
                f"node {node_id}: TLS {what} {path} does not exist",
                hint="fix the tls file paths in the node's YAML (paths on the control host)",
            )
    return docker.tls.TLSConfig(
        client_cert=(os.path.expanduser(files.client_cert), os.path.expanduser(files.client_key)),
        ca_cert=os.path.expanduser(files.ca_cert),
        verify=True,
    )


def _host(endpoint: NodeEndpoint) -> str:
    host = str(endpoint.host)
    return f"[{host}]" if ":" in host else host
