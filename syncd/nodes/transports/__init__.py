"""One transport per scheme (docker-py's ``transport/`` idea): each makes the docker-py client
for a parsed ``NodeEndpoint``, and this module holds the one table of per-transport limits.

* ``unix``: the engine's socket on this host (``unix.py``);
* ``tcp``: HTTP, or HTTPS with client certificates checked against the node's CA (``tcp.py``);
* ``ssh``: ``docker system dial-stdio`` through paramiko, host key checked (``ssh.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.nodes.transports import tcp, unix
from syncd.nodes.transports.client import Connection, agree_api_version
from syncd.spec.endpoints import NodeEndpoint, Scheme


@dataclass(frozen=True)
class TransportLimits:
    """How much one node's transport takes at once. None: no bound of ours (urllib3 opens a new
    connection per concurrent request on unix and tcp)."""

    concurrent_calls: int | None
    concurrent_stats_reads: int | None


#: Over ssh every call is a channel through one connection and sshd allows 10 sessions per
#: connection (MaxSessions), so calls wait for one of 8 slots; stats reads, each held open up to a
#: second by the engine, came in bursts of 8 that sshd partly refused (bench/bench_stats.py): 4.
LIMITS: dict[Scheme, TransportLimits] = {
    "unix": TransportLimits(concurrent_calls=None, concurrent_stats_reads=None),
    "tcp": TransportLimits(concurrent_calls=None, concurrent_stats_reads=None),
    "ssh": TransportLimits(concurrent_calls=8, concurrent_stats_reads=4),
}


def limits_of(endpoint: NodeEndpoint) -> TransportLimits:
    """The limits of the endpoint's transport."""
    return LIMITS[endpoint.scheme]


def _open_ssh(
    endpoint: NodeEndpoint, node_id: str, *, connect_timeout: float, call_timeout: float
) -> Connection:
    # paramiko and cryptography load with the first ssh node, not in every daemon
    from syncd.nodes.transports import ssh

    return ssh.open_client(
        endpoint, node_id, connect_timeout=connect_timeout, call_timeout=call_timeout
    )


_OPENERS = {"unix": unix.open_client, "tcp": tcp.open_client, "ssh": _open_ssh}


def open_client(
    endpoint: NodeEndpoint, node_id: str, *, connect_timeout: float, call_timeout: float
) -> Connection:
    """The endpoint's docker-py client, not yet agreed on an API version
    (``agree_api_version`` is the first call). An ssh transport is connected on return.

    Raises NodeUnreachable, HostKeyError or NodeError for what the transport finds (no socket,
    a missing TLS file, a refused host key); docker-py's own errors pass through, for the
    caller to translate with every other call."""
    opener = _OPENERS[endpoint.scheme]
    return opener(endpoint, node_id, connect_timeout=connect_timeout, call_timeout=call_timeout)


__all__ = [
    "LIMITS",
    "Connection",
    "TransportLimits",
    "agree_api_version",
    "limits_of",
    "open_client",
]
