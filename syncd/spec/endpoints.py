"""A node's address, parsed once: the scheme, where the engine listens, and the credential files.

A node's YAML says ``url: ssh://deploy@web-1:22`` plus optional ``tls`` or ``ssh`` sections. The
validator parses that into a ``NodeEndpoint`` while it can still point at the file and line
(``parse_endpoint`` lists every problem); the driver and its transports only read the endpoint's
fields and never look at the URL string again (docker-py ``utils.parse_host`` does the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Scheme = Literal["unix", "tcp", "ssh"]
SCHEMES: tuple[Scheme, ...] = ("unix", "tcp", "ssh")
DEFAULT_SSH_PORT = 22
#: which YAML field a problem is about: the url itself, or a credentials section
EndpointField = Literal["url", "tls", "ssh"]


@dataclass(frozen=True)
class TlsFiles:
    """Paths on the control host, never key material."""

    ca_cert: str
    client_cert: str
    client_key: str


@dataclass(frozen=True)
class SshFiles:
    """Paths on the control host, never key material."""

    identity_file: str | None = None
    known_hosts: str | None = None  # None: the system/user known_hosts


@dataclass(frozen=True)
class NodeEndpoint:
    """Where and how to reach one engine. Exactly the fields of its scheme are set:

    * ``unix``: ``socket_path``;
    * ``tcp``: ``host``, ``port`` and, for HTTPS with client certificates, ``tls``;
    * ``ssh``: ``user``, ``host``, ``port`` (22 when omitted) and optional ``ssh`` files.
    """

    scheme: Scheme
    host: str | None = None
    port: int | None = None
    user: str | None = None
    socket_path: str | None = None
    tls: TlsFiles | None = None
    ssh: SshFiles | None = None

    @property
    def url(self) -> str:
        """The endpoint as a URL, for messages and labels (never parsed again)."""
        if self.scheme == "unix":
            return f"unix://{self.socket_path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{host}:{self.port}"

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class EndpointProblem:
    """One reason a node's url (or its credentials section) cannot be used."""

    field: EndpointField
    message: str

    def __str__(self) -> str:
        return self.message


class InvalidEndpoint(ValueError):
    """A url that names no usable engine; ``problems`` says what to fix, field by field."""

    def __init__(self, url: str, problems: list[EndpointProblem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.url = url
        self.problems = tuple(problems)


def parse_endpoint(
    url: str, *, tls: TlsFiles | None = None, ssh: SshFiles | None = None
) -> NodeEndpoint:
    """``unix:///path``, ``tcp://host:port`` or ``ssh://user@host[:port]`` as a NodeEndpoint.

    Raises InvalidEndpoint listing every problem (a bad port, a missing host or user, TLS files
    on a node that is not tcp://, ssh files on one that is not ssh://)."""
    problems: list[EndpointProblem] = []

    def problem(message: str, field: EndpointField = "url") -> None:
        problems.append(EndpointProblem(field, message))

    parts = urlsplit(url)
    scheme = parts.scheme
    try:
        port = parts.port
    except ValueError:
        problem(f"{url!r}: the port must be a number from 1 to 65535")
        port = None
    if port == 0:
        problem(f"{url!r}: port 0 is not a port")
    if scheme == "unix":
        if not parts.path.startswith("/") or parts.netloc:
            problem(
                f"{url!r}: a unix url names an absolute socket path: unix:///var/run/docker.sock"
            )
    elif scheme == "tcp":
        if not parts.hostname or parts.path not in ("", "/") or (port is None and not problems):
            problem(f"{url!r}: write tcp://HOST:PORT (e.g. tcp://10.0.0.5:2376)")
    elif scheme == "ssh":
        if not parts.hostname or not parts.username or parts.path not in ("", "/"):
            problem(f"{url!r}: write ssh://USER@HOST:PORT (e.g. ssh://deploy@web-1:22)")
    else:
        problem(
            f"{url!r}: unsupported scheme: use unix:///path/docker.sock, tcp://host:port or "
            "ssh://user@host:port"
        )
    if tls is not None and scheme != "tcp":
        problem("tls applies to tcp:// nodes only", "tls")
    if ssh is not None and scheme != "ssh":
        problem("ssh applies to ssh:// nodes only", "ssh")
    if problems:
        raise InvalidEndpoint(url, problems)
    if scheme == "unix":
        return NodeEndpoint(scheme="unix", socket_path=parts.path)
    if scheme == "tcp":
        return NodeEndpoint(scheme="tcp", host=parts.hostname, port=port, tls=tls)
    return NodeEndpoint(
        scheme="ssh",
        host=parts.hostname,
        port=port or DEFAULT_SSH_PORT,
        user=parts.username,
        ssh=ssh,
    )
