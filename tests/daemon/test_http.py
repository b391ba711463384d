"""The listener: webhook signatures of each provider, the body cap, routes, errors."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json

import pytest

from syncd.daemon.http import HttpServer, Response, WebhookSecrets, webhook_handler
from syncd.daemon.triggers import TriggerQueue

GITHUB = b"github-shared-secret"
GITEA = b"gitea-shared-secret"
GITLAB = b"gitlab-token"
BODY = json.dumps({"ref": "refs/heads/main", "after": "f" * 40}).encode()


@pytest.fixture
def listener():
    queue = TriggerQueue()
    secrets = WebhookSecrets(github=GITHUB, gitea=GITEA, gitlab=GITLAB, max_body_bytes=4096)
    server = HttpServer("127.0.0.1:0", poll_interval_s=0.05)
    server.route(
        "POST",
        "/webhook",
        webhook_handler(lambda: secrets, lambda provider: queue.request(f"webhook:{provider}")),
    )
    server.route("GET", "/extra/*", lambda request: Response.json(200, {"path": request.path}))
    server.start()
    yield server, queue
    server.stop()


def post(server, path, body, headers):
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, payload


def github_headers(secret, body):
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}


def gitea_headers(secret, body):
    return {"X-Gitea-Signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}


def gitlab_headers(token, body):
    return {"X-Gitlab-Token": token.decode()}


PROVIDERS = [
    ("github", github_headers, GITHUB),
    ("gitea", gitea_headers, GITEA),
    ("gitlab", gitlab_headers, GITLAB),
]


@pytest.mark.parametrize(("provider", "sign", "secret"), PROVIDERS)
def test_right_signature_triggers_a_fetch(listener, provider, sign, secret):
    server, queue = listener
    status, payload = post(server, "/webhook", BODY, sign(secret, BODY))
    assert status == 202, payload
    trigger = queue.wait(timeout=2)
    assert trigger is not None and trigger.fetch
    assert trigger.reasons == (f"webhook:{provider}",)


@pytest.mark.parametrize(("provider", "sign", "secret"), PROVIDERS)
def test_wrong_signature_is_refused_and_triggers_nothing(listener, provider, sign, secret):
    server, queue = listener
    status, payload = post(server, "/webhook", BODY, sign(b"not-the-secret", BODY))
    assert status == 401
    assert "signature" in json.loads(payload)["error"]
    assert queue.wait(timeout=0.2) is None


def test_a_signature_over_another_body_is_refused(listener):
    server, queue = listener
    status, _ = post(server, "/webhook", BODY + b" ", github_headers(GITHUB, BODY))
    assert status == 401
    assert queue.wait(timeout=0.2) is None


def test_a_provider_with_another_providers_secret_is_refused(listener):
    server, queue = listener
    status, _ = post(server, "/webhook", BODY, gitea_headers(GITHUB, BODY))
    assert status == 401
    assert queue.wait(timeout=0.2) is None


def test_missing_signature_is_refused(listener):
    server, queue = listener
    status, _ = post(server, "/webhook", BODY, {})
    assert status == 401
    assert queue.wait(timeout=0.2) is None


def test_body_over_the_cap_is_413_and_triggers_nothing(listener):
    server, queue = listener
    big = b"x" * 5000
    status, payload = post(server, "/webhook", big, github_headers(GITHUB, big))
    assert status == 413
    assert "limit" in json.loads(payload)["error"]
    assert queue.wait(timeout=0.2) is None


def test_unknown_paths_and_methods(listener):
    server, _ = listener
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/nope")
    response = conn.getresponse()
    assert response.status == 404 and "no such endpoint" in json.loads(response.read())["error"]
    conn.request("GET", "/webhook")
    response = conn.getresponse()
    assert response.status == 405
    response.read()
    conn.request("GET", "/extra/a/b")
    response = conn.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"path": "/extra/a/b"}
    conn.close()


def test_webhook_without_any_secret_configured_is_404():
    queue = TriggerQueue()
    server = HttpServer("127.0.0.1:0", poll_interval_s=0.05)
    server.route("POST", "/webhook", webhook_handler(WebhookSecrets, lambda p: queue.request(p)))
    server.start()
    try:
        status, _ = post(server, "/webhook", BODY, github_headers(GITHUB, BODY))
    finally:
        server.stop()
    assert status == 404
    assert queue.wait(timeout=0.2) is None
