"""Every page without a browser: valid HTML, the token asked when configured, no secret shown."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlencode

import html5lib
import pytest
import yaml

from tests.daemon.helpers import DEFINITION, wait_for

from .conftest import DB_SECRET, PAGE_TOKEN, WEBHOOK_SECRET, secret_files

PAGES = ["/", "/nodes", "/plan", "/deployments/depl_sleeper", "/deployments/nope", "/login"]


def assert_valid_html(text: str, where: str) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        parser.parse(text)
    except html5lib.html5parser.ParseError as exc:
        pytest.fail(f"{where} is not valid HTML: {exc}\n{text[:2000]}")


def with_secret(version: str, key: str) -> str:
    """depl_sleeper with a secret in its env under ``key``."""
    body = {
        "id": "depl_sleeper",
        "definitionId": "def_sleeper",
        "replicas": 2,
        "envars": {"VERSION": version, key: "{{secret:db-password}}"},
    }
    return yaml.safe_dump(body, sort_keys=False)


def test_pages_are_valid_html_and_show_no_secret(start_page_daemon, tmp_path):
    daemon = start_page_daemon(**secret_files(tmp_path))
    auth = {"Authorization": f"Bearer {PAGE_TOKEN}"}
    # A rollout of a secret env (its record on the Deployment page), then a head the rollback
    # guard refuses that moves the secret (its would-be change on the Plan page).
    applied = daemon.repo.commit(
        {"deployments/sleeper.yaml": with_secret("v2", "DB_PASSWORD")}, "Add the password"
    )
    wait_for(
        lambda: any(r["to"]["commit"] == applied for r in daemon.rollouts("depl_sleeper")),
        90,
        "the rollout of the secret env recorded",
    )
    daemon.push_unrelated_head(
        {
            "definitions/sleeper.yaml": DEFINITION,
            "deployments/sleeper.yaml": with_secret("v3", "DATABASE_PASSWORD"),
        },
        "Rewrite history",
    )
    wait_for(
        lambda: 'id="would-depl_sleeper"' in daemon.get("/plan", auth)[1],
        60,
        "the refused head's would-be change",
    )
    seen = [json.dumps(daemon.rollouts("depl_sleeper"))]
    for path in PAGES:
        for shown in (path, f"{path}?fragment=main"):
            status, body, headers = daemon.get(shown, auth)
            assert status in (200, 404), (shown, status, body[:500])
            assert headers["Content-Type"].startswith("text/html")
            if "fragment" not in shown:
                assert_valid_html(body, shown)
            seen.append(body)
    status, state, _ = daemon.get("/ui/state.json", auth)
    assert status == 200
    snapshot = json.loads(state)
    assert [d["id"] for d in snapshot["deployments"]] == ["depl_sleeper"]
    seen.append(state)
    for path in ("/static/web.css", "/static/live.js"):
        assert daemon.get(path)[0] == 200
    plan_page = daemon.get("/plan", auth)[1]
    assert "(secret db-password)" in plan_page  # the change is shown, its value masked
    for body in seen:
        assert PAGE_TOKEN not in body
        assert WEBHOOK_SECRET not in body
        assert DB_SECRET not in body


def test_the_token_is_required_when_configured(start_page_daemon, tmp_path):
    daemon = start_page_daemon(**secret_files(tmp_path))
    for path in ("/", "/nodes", "/plan", "/deployments/depl_sleeper"):
        status, body, _ = daemon.get(path)
        assert status == 401 and "Sign in" in body, path
        assert daemon.get(path, {"Authorization": "Bearer wrong-token-0123456789"})[0] == 401
        assert daemon.get(path, {"Authorization": f"Bearer {PAGE_TOKEN}"})[0] == 200
    status, body, _ = daemon.get("/ui/state.json")
    assert status == 401 and json.loads(body)["error"] == "missing or wrong bearer token"
    # the login form sets a cookie for the browser; a wrong token gets the form again
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/login", urlencode({"token": "nope", "next": "/plan"}), form)
    refused = conn.getresponse()
    assert refused.status == 401 and "not one this daemon accepts" in refused.read().decode()
    conn.request("POST", "/login", urlencode({"token": PAGE_TOKEN, "next": "//evil/"}), form)
    accepted = conn.getresponse()
    accepted.read()
    conn.close()
    assert accepted.status == 303
    assert accepted.getheader("Location") == "/"  # never sends a visitor elsewhere
    cookie = accepted.getheader("Set-Cookie").split(";", 1)[0]
    assert "HttpOnly" in accepted.getheader("Set-Cookie")
    assert daemon.get("/plan", {"Cookie": cookie})[0] == 200
    # the rollout history through the API: its token, and a body in the API's shape
    status, body = daemon.post("/deploy-svc/rollouts", {"deploymentId": "depl_sleeper"})
    assert status == 401
    bearer = {"Authorization": f"Bearer {PAGE_TOKEN}"}
    status, body = daemon.post("/deploy-svc/rollouts", {"deployment": "depl_sleeper"}, bearer)
    assert status == 400 and "unknown field(s) deployment" in body["error"]  # type: ignore[index]
    status, body = daemon.post("/deploy-svc/rollouts", {}, bearer)
    assert status == 200 and isinstance(body["rollouts"], list)  # type: ignore[index]


def test_without_tokens_or_loopback_access_the_page_says_how_to_turn_it_on(start_page_daemon):
    daemon = start_page_daemon()
    status, body, _ = daemon.get("/")
    assert status == 404
    assert "web.openOnLoopback" in body
    assert daemon.get("/healthz")[0] == 200  # the rest of the listener is unaffected
