"""The one place where docker-py, requests and paramiko exceptions become syncd's, by type.

* the engine did not answer (refused, timed out, host gone, ssh transport down):
  ``NodeUnreachable``, retryable;
* the TLS handshake failed: ``TlsHandshakeFailed`` (certificates to fix, not a node that is down);
* the engine answered with an error: 404 ``ContainerNotFound`` where the caller names a
  container, 409 on create ``NameConflict``, anything else ``NodeError`` with the engine's words.

Decisions read exception types and HTTP status codes only; the texts are only shown.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import docker
import requests
import urllib3

from syncd.errors import NodeError, NodeUnreachable, SyncdError, TlsHandshakeFailed

# Transport-level failures: the engine did not answer. Anything else from docker-py is a refusal.
UNREACHABLE: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    urllib3.exceptions.HTTPError,
    OSError,
    EOFError,
)


def _unreachable() -> tuple[type[BaseException], ...]:
    """UNREACHABLE, with paramiko's SSHException once paramiko is loaded: it loads with the
    first ssh node (syncd.nodes.transports), and nothing raises it before."""
    paramiko = sys.modules.get("paramiko")
    return UNREACHABLE if paramiko is None else (*UNREACHABLE, paramiko.SSHException)


_MAX_REASON = 300


@contextmanager
def translated(node_id: str, endpoint_url: str, action: str) -> Iterator[None]:
    """Run one engine call, turning what docker-py, requests or paramiko raise into our tree.

    ``action`` ("listing containers") starts every message. Raised syncd errors pass through.
    """
    try:
        yield
    except SyncdError:
        raise
    except docker.errors.APIError as error:
        raise NodeError(f"node {node_id}: {action} failed: {engine_message(error)}") from None
    except requests.exceptions.SSLError as error:
        raise TlsHandshakeFailed(
            f"node {node_id}: TLS handshake with {endpoint_url} failed: {ssl_reason(error)}",
            hint="check the node's tls caCert, clientCert and clientKey against the "
            "engine's certificates",
        ) from None
    except (*_unreachable(), docker.errors.DockerException) as error:
        raise NodeUnreachable(node_id, f"{action}: {transport_reason(error)}") from None


def is_status(error: docker.errors.APIError, status: HTTPStatus) -> bool:
    """The engine answered with this HTTP status."""
    return error.status_code == status.value


def engine_message(error: docker.errors.APIError) -> str:
    """The engine's own words for an error response (its JSON "message")."""
    explanation = error.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", errors="replace")
    return str(explanation or error).strip()


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps, outermost first: requests wraps urllib3's MaxRetryError,
    which wraps a NewConnectionError or ReadTimeoutError, which wraps the socket's own error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or _wrapped(current) or current.__context__


def _wrapped(error: BaseException) -> BaseException | None:
    """The exception an error carries as data: urllib3's MaxRetryError keeps it in ``reason``,
    requests' exceptions keep urllib3's as their first argument."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    first = error.args[0] if error.args else None
    return first if isinstance(first, BaseException) else None


def transport_reason(error: BaseException) -> str:
    """A transport failure in one line: the innermost cause ("[Errno 111] Connection refused",
    "timed out"), not the five wrappers around it."""
    innermost = list(_causes(error))[-1]
    text = str(innermost).strip() or type(innermost).__name__
    return text[:_MAX_REASON]


def ssl_reason(error: BaseException) -> str:
    """OpenSSL's reason inside requests' wrappers, e.g. "certificate verify failed: self-signed
    certificate in certificate chain"."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason).lower().replace("_", " ")
    return transport_reason(error)
