"""unix://: the engine's socket on this host (permissions on the socket are the credentials)."""

from __future__ import annotations

import os

from syncd.errors import NodeUnreachable
from syncd.nodes.transports.client import Connection, new_api_client
from syncd.spec.endpoints import NodeEndpoint


def open_client(
    endpoint: NodeEndpoint, node_id: str, *, connect_timeout: float, call_timeout: float
) -> Connection:
    """A client on the engine's socket; NodeUnreachable when no socket is there (yet)."""
    socket_path = str(endpoint.socket_path)
    if not os.path.exists(socket_path):
        raise NodeUnreachable(node_id, f"no engine socket at {socket_path}")
    api = new_api_client(f"unix://{socket_path}", call_timeout=call_timeout)
    return Connection(api)
