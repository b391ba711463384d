"""The Deploy Svc API against a real bare Git repository and the daemon's HTTP listener."""

from __future__ import annotations

import json
import socket
import threading

import pytest
import yaml

from syncd.daemon.api import DeploymentStatus
from tests.api.conftest import ALICE_TOKEN, BOB_TOKEN, commits, git, show

WEB = {"id": "depl_web", "definitionId": "def_web", "replicas": 2}


@pytest.mark.parametrize(
    "token", [None, "", "wrong-token-wrong-token", ALICE_TOKEN[:-1], ALICE_TOKEN + "x"]
)
def test_no_or_wrong_token_is_refused_with_401(api, token):
    before = commits(api.remote)
    status, body = api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB}, token=token)
    assert status == 401
    assert set(body) == {"error"}
    assert commits(api.remote) == before


def test_a_basic_auth_header_is_not_a_bearer_token(api):
    status, _ = api.call("POST", "/deploy-svc/deployments", {}, token=None)
    assert status == 401
    request_status, _ = api.call("POST", "/deploy-svc/deployments", {}, token=f"{ALICE_TOKEN}")
    assert request_status == 200


def test_saving_commits_the_file_as_the_token_name_and_triggers_a_pass(api):
    deployment = {
        "replicas": 2,
        "definitionId": "def_web",
        "id": "depl_web",
        "envars": {"LOG_LEVEL": "debug", "FLAG": "true"},
        "strategy": {"maxSurge": 1, "type": "RollingUpdate"},
    }
    status, body = api.call("PUT", "/deploy-svc/deployment", {"deployment": deployment})
    assert (status, body) == (200, {})
    assert commits(api.remote)[0] == "Save deployment depl_web"
    author = git(api.remote, "log", "-1", "--format=%an <%ae>", "main")
    assert author == "alice <alice@syncd.invalid>"
    text = show(api.remote, "deployments/depl_web.yaml")
    assert yaml.safe_load(text) == deployment
    # the reference's key order, whatever order the body had
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "id",
        "definitionId",
        "replicas",
        "strategy",
        "envars",
    ]
    assert text.splitlines()[4:6] == ["  type: RollingUpdate", "  maxSurge: 1"]
    assert api.triggered == [git(api.remote, "rev-parse", "main")]


def test_saving_the_same_deployment_again_makes_no_commit(api):
    api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB})
    before = commits(api.remote)
    status, _ = api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB}, token=BOB_TOKEN)
    assert status == 200
    assert commits(api.remote) == before
    assert len(api.triggered) == 1


@pytest.mark.parametrize(
    ("deployment", "says"),
    [
        ({**WEB, "replica": 3}, "did you mean 'replicas'"),
        ({**WEB, "definitionId": "def_nope"}, "def_nope"),
        ({**WEB, "resources": {"cpu": "lots"}}, "cpu"),
        ({**WEB, "autoScaling": {"minReplicas": 3, "maxReplicas": 5}, "replicas": 9}, "replicas"),
        ({"definitionId": "def_web", "id": "../escape"}, "id"),
    ],
)
def test_an_invalid_deployment_gets_400_with_the_problems_and_no_commit(api, deployment, says):
    before = commits(api.remote)
    status, body = api.call("PUT", "/deploy-svc/deployment", {"deployment": deployment})
    assert status == 400
    assert set(body) == {"error"}
    assert says in body["error"]
    assert commits(api.remote) == before
    assert api.triggered == []


@pytest.mark.parametrize(
    ("method", "path", "raw", "says"),
    [
        ("PUT", "/deploy-svc/deployment", b"{not json", "not valid JSON"),
        ("PUT", "/deploy-svc/deployment", b"[]", "JSON object"),
        ("PUT", "/deploy-svc/deployment", b'{"deployment": 3}', "deployment"),
        ("PUT", "/deploy-svc/deployment", b'{"deployment": {}, "x": 1}', "unknown field"),
        ("DELETE", "/deploy-svc/deployment", b'{"id": "depl_web"}', "deploymentId"),
    ],
)
def test_a_bad_body_gets_400(api, method, path, raw, says):
    status, body = api.call(method, path, None, raw=raw)
    assert status == 400
    assert says in body["error"]


def test_a_body_over_the_cap_gets_413_before_it_is_read(api):
    # The server answers from the Content-Length alone, so send only the headers.
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"PUT /deploy-svc/deployment HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {ALICE_TOKEN}\r\n".encode()
            + f"Content-Length: {2 * 1024 * 1024}\r\n\r\n".encode()
        )
        answer = connection.makefile("rb").read()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert "limit" in json.loads(payload)["error"]


def test_status_and_details_sent_back_are_ignored(api):
    listed = {**WEB, "status": "OK", "details": "all good"}
    status, _ = api.call("PUT", "/deploy-svc/deployment", {"deployment": listed})
    assert status == 200
    assert yaml.safe_load(show(api.remote, "deployments/depl_web.yaml")) == WEB


def test_a_missing_id_gets_one_generated_like_the_original(api):
    status, _ = api.call(
        "PUT", "/deploy-svc/deployment", {"deployment": {"definitionId": "def_web"}}
    )
    assert status == 200
    files = git(api.remote, "ls-tree", "--name-only", "main", "deployments/").splitlines()
    assert len(files) == 1
    assert (
        files[0].startswith("deployments/depl_") and len(files[0]) == len("deployments/depl_") + 15
    )


def test_two_concurrent_saves_both_land(api):
    results: list[tuple[int, object]] = []

    def save(deployment_id: str, token: str) -> None:
        deployment = {**WEB, "id": deployment_id}
        results.append(api.call("PUT", "/deploy-svc/deployment", {"deployment": deployment}, token))

    threads = [
        threading.Thread(target=save, args=("depl_one", ALICE_TOKEN)),
        threading.Thread(target=save, args=("depl_two", BOB_TOKEN)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [(200, {}), (200, {})]
    subjects = commits(api.remote)
    assert {"Save deployment depl_one", "Save deployment depl_two"} <= set(subjects[:2])
    assert show(api.remote, "deployments/depl_one.yaml")
    assert show(api.remote, "deployments/depl_two.yaml")


def test_a_save_lands_on_top_of_a_commit_pushed_meanwhile(api, tmp_path):
    api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB})  # the API's clone exists now
    human = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", "main", str(api.remote), str(human))
    (human / "deployments" / "depl_human.yaml").write_text(
        "id: depl_human\ndefinitionId: def_web\n"
    )
    git(human, "add", ".")
    git(human, "commit", "-q", "-m", "a human commit")
    git(human, "push", "-q", "origin", "main")
    status, _ = api.call("PUT", "/deploy-svc/deployment", {"deployment": {**WEB, "replicas": 3}})
    assert status == 200
    assert commits(api.remote)[:2] == ["Save deployment depl_web", "a human commit"]


def test_remove_commits_the_removal(api):
    api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB})
    api.triggered.clear()
    status, body = api.call(
        "DELETE", "/deploy-svc/deployment", {"deploymentId": "depl_web"}, BOB_TOKEN
    )
    assert (status, body) == (200, {})
    assert commits(api.remote)[0] == "Remove deployment depl_web"
    assert git(api.remote, "ls-tree", "--name-only", "main", "deployments/") == ""
    assert git(api.remote, "log", "-1", "--format=%an", "main") == "bob"
    assert len(api.triggered) == 1


def test_removing_an_unknown_deployment_gets_400(api):
    before = commits(api.remote)
    status, body = api.call("DELETE", "/deploy-svc/deployment", {"deploymentId": "depl_ghost"})
    assert (status, body) == (400, {"error": "deployment depl_ghost not found"})
    assert commits(api.remote) == before


def test_list_shows_the_deployments_with_status_and_details(api):
    api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB})
    api.call("PUT", "/deploy-svc/deployment", {"deployment": {**WEB, "id": "depl_api"}})
    api.statuses["depl_web"] = DeploymentStatus("Error", "health check failed: exit 1")
    status, body = api.call("POST", "/deploy-svc/deployments", {})
    assert status == 200
    assert body == {
        "deployments": [
            {**WEB, "id": "depl_api", "status": "Pending", "details": ""},
            {**WEB, "status": "Error", "details": "health check failed: exit 1"},
        ]
    }


def test_the_wrong_method_is_405(api):
    status, body = api.call("GET", "/deploy-svc/deployment", None, raw=b"")
    assert status == 405
    assert "error" in body


def test_a_remote_that_cannot_be_reached_is_a_503_with_the_reason(api):
    """Git refusing the edit is a condition to retry, not a bug: 503, nothing committed."""
    moved = api.remote.with_name("moved.git")
    api.remote.rename(moved)
    try:
        status, body = api.call("PUT", "/deploy-svc/deployment", {"deployment": WEB})
    finally:
        moved.rename(api.remote)
    assert status == 503, body
    assert "remote.git" in body["error"]  # the reason: Git could not reach the repository
    assert api.triggered == []
    assert "Save deployment depl_web" not in commits(api.remote)
