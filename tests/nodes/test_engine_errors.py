"""Exceptions from docker-py, requests and urllib3 become syncd's by type, with the innermost
cause as the reason: no message text decides anything."""

from __future__ import annotations

import ssl

import docker
import pytest
import requests
import urllib3

from syncd.errors import (
    InstanceFailed,
    InstanceMisconfigured,
    NodeError,
    NodeUnreachable,
    RolloutFailed,
    TlsHandshakeFailed,
)
from syncd.nodes.engine_errors import ssl_reason, translated, transport_reason


def _wrapped_like_requests(inner: BaseException) -> requests.exceptions.ConnectionError:
    """requests' ConnectionError(MaxRetryError(reason=NewConnectionError from the socket's)), as
    urllib3 2 and requests raise them."""
    try:
        try:
            raise inner
        except BaseException as socket_error:
            raise urllib3.exceptions.NewConnectionError(
                None, f"Failed to establish a new connection: {socket_error}"
            ) from socket_error
    except urllib3.exceptions.NewConnectionError as new_connection:
        retries = urllib3.exceptions.MaxRetryError(None, "/v1.41/info", reason=new_connection)
    return requests.exceptions.ConnectionError(retries)


def test_a_refused_connection_is_unreachable_with_the_sockets_words():
    error = _wrapped_like_requests(ConnectionRefusedError(111, "Connection refused"))
    with pytest.raises(NodeUnreachable) as caught, translated("n1", "tcp://h:1", "listing"):
        raise error
    assert caught.value.retryable
    assert str(caught.value) == "node n1 is unreachable: listing: [Errno 111] Connection refused"
    assert transport_reason(error) == "[Errno 111] Connection refused"


def test_an_engine_refusal_keeps_the_engines_message():
    response = requests.Response()
    response.status_code = 500
    refusal = docker.errors.APIError("500 Server Error", response, explanation="disk full")
    with pytest.raises(NodeError) as caught, translated("n1", "unix:///s", "creating x"):
        raise refusal
    assert type(caught.value) is NodeError and not caught.value.retryable
    assert str(caught.value) == "node n1: creating x failed: disk full"


def test_a_certificate_problem_is_not_an_unreachable_node():
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "self-signed certificate in certificate chain"
    handshake = requests.exceptions.SSLError(urllib3.exceptions.SSLError(verify))
    handshake.__cause__ = verify
    with pytest.raises(TlsHandshakeFailed) as caught, translated("n3", "tcp://h:2376", "info"):
        raise handshake
    assert not isinstance(caught.value, NodeUnreachable)
    assert (
        ssl_reason(handshake)
        == "certificate verify failed: self-signed certificate in certificate chain"
    )
    assert "TLS handshake with tcp://h:2376 failed: certificate verify failed" in str(caught.value)


def test_syncd_errors_pass_through_untouched():
    original = NodeUnreachable("n1", "no engine socket at /s")
    with pytest.raises(NodeUnreachable) as caught, translated("n1", "unix:///s", "connecting"):
        raise original
    assert caught.value is original


@pytest.mark.parametrize(
    ("cause", "problems", "reverted", "retryable"),
    [
        (InstanceFailed("exited with code 3"), "", True, True),
        (InstanceMisconfigured("envar DSN: secret 'db' not found"), "", True, False),
        (InstanceFailed("health check failed"), "web-0: gone", False, True),
    ],
)
def test_a_rollout_failure_takes_retryable_from_its_cause(cause, problems, reverted, retryable):
    failure = RolloutFailed("depl_web", cause, problems=problems)
    assert (failure.reverted, failure.retryable, failure.cause) == (reverted, retryable, cause)
    expected = f"{cause.message}; revert incomplete: {problems}" if problems else cause.message
    assert failure.reason == str(failure) == expected
