"""What a client can take from the listener (issue 17, items 3, 4 and 10): silent clients are
dropped, open connections are capped below the descriptor limit, bad bodies are 4xx, webhook
bodies are never buffered, webhook secret files must be their owner's alone."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from syncd.daemon.api import DeploySvcApi
from syncd.daemon.config import HttpLimits
from syncd.daemon.http import HttpServer, Response
from syncd.daemon.tokens import TokenStore
from syncd.daemon.webhooks import SecretFileRefused, read_secret_file

from .helpers import DEFINITION, deployment, wait_for

TOKEN = "api-token-0123456789abcdef"


@pytest.fixture
def api_listener(tmp_path: Path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"ci {TOKEN}\n")
    tokens.chmod(0o600)
    store = TokenStore(tokens)
    store.load()
    server = HttpServer("127.0.0.1:0", limits=HttpLimits(client_timeout_s=1.0))
    # The editor is never reached: every body here is refused before it would commit.
    DeploySvcApi(store, editor=None, deployments_root=lambda: None, status_of=lambda: {}).register(
        server
    )  # type: ignore[arg-type]
    server.route("GET", "/healthz", lambda request: Response.json(200, {"status": "ok"}))
    server.start()
    yield server
    server.stop()


def send(server: HttpServer, method: str, path: str, body: bytes, headers: dict) -> tuple:
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_deeply_nested_json_body_is_a_400_with_a_reason(api_listener):
    deep = b"[" * 50_000 + b"]" * 50_000
    status, body = send(
        api_listener, "PUT", "/deploy-svc/deployment", deep, {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 400, body
    assert b"nested too deeply" in body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/deploy-svc/deployment"),
        ("POST", "/deploy-svc/deployments"),
        ("DELETE", "/deploy-svc/deployment"),
    ],
)
@pytest.mark.parametrize(
    "body",
    [b"{", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"deployment": []}', b'{"deploymentId": 7}'],
)
def test_every_api_handler_turns_bad_input_into_a_4xx(api_listener, method, path, body):
    status, payload = send(api_listener, method, path, body, {"Authorization": f"Bearer {TOKEN}"})
    if method == "POST" and body in (b'{"deployment": []}', b'{"deploymentId": 7}'):
        assert status == 200  # the listing ignores fields it does not take
    else:
        assert 400 <= status < 500, (status, payload)


def test_a_silent_client_holds_no_thread_and_is_dropped_after_the_timeout(api_listener):
    threads_before = threading.active_count()
    silent = [socket.create_connection(api_listener.address) for _ in range(40)]
    try:
        # 40 silent clients, 16 worker threads: a request still gets an answer at once.
        assert send(api_listener, "GET", "/healthz", b"", {})[0] == 200
        assert threading.active_count() <= threads_before + 1
        silent[0].settimeout(5)
        started = time.monotonic()
        assert silent[0].recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 4
    finally:
        for sock in silent:
            sock.close()


def test_connections_over_the_cap_close_the_oldest_silent_one(tmp_path):
    server = HttpServer("127.0.0.1:0", limits=HttpLimits(max_connections=8, client_timeout_s=30))
    server.route("GET", "/healthz", lambda request: Response.json(200, {"status": "ok"}))
    server.start()
    try:
        silent = [socket.create_connection(server.address) for _ in range(20)]
        try:
            assert send(server, "GET", "/healthz", b"", {})[0] == 200
            silent[0].settimeout(5)
            assert silent[0].recv(1) == b""  # the oldest made room
        finally:
            for sock in silent:
                sock.close()
    finally:
        server.stop()


def test_a_webhook_secret_file_open_to_others_is_refused(tmp_path):
    secret = tmp_path / "github.secret"
    secret.write_text("shared-secret\n")
    secret.chmod(0o600)
    assert read_secret_file(secret) == b"shared-secret"
    for mode in (0o640, 0o604, 0o660):
        secret.chmod(mode)
        with pytest.raises(SecretFileRefused, match="chmod 600"):
            read_secret_file(secret)


# ----------------------------------------------------------------- a real daemon under load


def _raise_own_descriptor_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_1100_idle_connections_under_1024_descriptors_and_a_webhook_flood(
    repo, make_config, engines, tmp_path
):
    import subprocess
    import sys

    _raise_own_descriptor_limit(4096)
    secret = tmp_path / "github.secret"
    secret.write_text("the-shared-secret\n")
    secret.chmod(0o600)
    repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(1),
        },
        "v1",
    )
    config = make_config(webhook={"githubSecretFile": str(secret)})
    import yaml

    port = int(yaml.safe_load(config.read_text())["listen"].rsplit(":", 1)[1])
    status_file = tmp_path / "state" / "status.json"
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "syncd", "daemon", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        # systemd's default LimitNOFILE
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)),
    )
    idle: list[socket.socket] = []
    try:
        wait_for(status_file.exists, 90, "the first status file")

        def healthz() -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().status
            finally:
                conn.close()

        for _ in range(1100):
            with contextlib.suppress(OSError):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        written = status_file.stat().st_mtime_ns
        assert healthz() == 200
        wait_for(lambda: status_file.stat().st_mtime_ns > written, 30, "the status file rewritten")
        for sock in idle:
            sock.close()
        idle.clear()

        # 16 concurrent unauthenticated 4 MiB webhooks (under the 5 MiB cap): read and dropped
        # while the signature is computed, never held whole.
        before = _rss_kib(daemon.pid)
        body = b"x" * (4 * 1024 * 1024)
        wrong = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
        results: list[int] = []

        def flood() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", "/webhook", body=body, headers={"X-Hub-Signature-256": wrong})
                results.append(conn.getresponse().status)
            finally:
                conn.close()

        threads = [threading.Thread(target=flood) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        grown_mib = (_rss_kib(daemon.pid) - before) / 1024
        assert results == [401] * 16
        assert grown_mib < 32, f"the daemon grew by {grown_mib:.0f} MiB"
        # over the cap: refused from the Content-Length, before a byte of it is read
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/webhook")
        conn.putheader("Content-Length", str(24 * 1024 * 1024))
        conn.putheader("X-Hub-Signature-256", wrong)
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        for sock in idle:
            sock.close()
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
    output = (tmp_path / "daemon.log").read_text()
    assert "Too many open files" not in output
    assert "Traceback" not in output, output[-3000:]
