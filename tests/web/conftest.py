"""The page of a running daemon: a real ``syncd daemon`` process on the harness engines, a bare
repository it follows, and helpers to read its pages."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.daemon_process import DaemonProcess
from tests.daemon.conftest import config_writer
from tests.daemon.helpers import DEFINITION, DeploymentsRepo, deployment, wait_for
from tests.source.gitrepos import git

# Known secrets: written to the tokens file, used as a webhook secret and as a deployment's
# secret env value; no page may show one.
PAGE_TOKEN = "page-token-0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-fedcba9876543210"
DB_SECRET = "db-secret-5f4e3d2c1b0a9988"


@pytest.fixture(autouse=True)
def isolated_git_config(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("gitconfig")
    (home / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@dataclass
class RunningDaemon:
    port: int
    repo: DeploymentsRepo
    process: DaemonProcess
    state_dir: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read().decode(), dict(response.getheaders())
        finally:
            conn.close()

    def post(
        self, path: str, body: object, headers: dict[str, str] | None = None
    ) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, json.dumps(body), headers=headers or {})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rollouts(self, deployment_id: str) -> list[dict]:
        """The daemon's recorded rollouts of ``deployment_id`` (the API; needs PAGE_TOKEN in
        ``api.tokensFile``: ``secret_files`` puts it there)."""
        status, body = self.post(
            "/deploy-svc/rollouts",
            {"deploymentId": deployment_id},
            {"Authorization": f"Bearer {PAGE_TOKEN}"},
        )
        assert status == 200, body
        assert isinstance(body, dict)
        return body["rollouts"]

    def wait_running(self, deployment_id: str, replicas: int, timeout: float = 90) -> None:
        """Wait until the status shows ``deployment_id`` OK with every replica ready: a first
        pass can finish with a replica still starting on a loaded machine, and a plan made
        then would replace it as failed rather than roll it."""

        def running() -> bool:
            status, body, _ = self.get("/api/status")
            if status != 200:
                return False
            found = [d for d in json.loads(body)["deployments"] if d["id"] == deployment_id]
            return (
                bool(found)
                and found[0]["status"] == "OK"
                and (found[0]["readyReplicas"] == replicas)
            )

        wait_for(running, timeout, f"{deployment_id} OK with {replicas} ready")

    def push_unrelated_head(self, files: dict[str, str], message: str) -> str:
        """Force-push a commit that does not descend from the applied one (a history rewrite):
        the rollback guard refuses it, whatever its files say. Returns its sha."""
        work = self.repo.work
        git(work, "checkout", "-q", "--orphan", "rewritten")
        git(work, "rm", "-rq", "--cached", ".")
        for rel, content in files.items():
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git(work, "add", rel)
        git(work, "commit", "-q", "-m", message)
        git(work, "push", "-qf", "origin", "rewritten:main")
        return git(work, "rev-parse", "HEAD")


def secret_files(tmp_path: Path) -> dict[str, object]:
    """A tokens file (the page's and the API's), a webhook secret file and a secrets dir
    holding ``db-password`` (mode 600), as config keys."""
    tokens = tmp_path / "page-tokens"
    tokens.write_text(f"viewer {PAGE_TOKEN}\n")
    tokens.chmod(0o600)
    hook = tmp_path / "github.secret"
    hook.write_text(WEBHOOK_SECRET + "\n")
    hook.chmod(0o600)
    secrets = tmp_path / "secrets.d"
    secrets.mkdir(mode=0o700)
    (secrets / "db-password").write_text(DB_SECRET + "\n")
    (secrets / "db-password").chmod(0o600)
    return {
        "web": {"tokensFile": str(tokens)},
        "api": {"tokensFile": str(tokens)},
        "webhook": {"githubSecretFile": str(hook)},
        "secrets": {"dir": str(secrets)},
    }


@pytest.fixture
def start_page_daemon(tmp_path: Path, engines) -> Iterator[Callable[..., RunningDaemon]]:
    """Start a daemon over a repo with ``depl_sleeper`` (2 replicas); config keys override."""
    started: list[DaemonProcess] = []

    def start(replicas: int = 2, **overrides: object) -> RunningDaemon:
        repo = DeploymentsRepo(tmp_path)
        repo.commit(
            {
                "definitions/sleeper.yaml": DEFINITION,
                "deployments/sleeper.yaml": deployment(replicas=replicas),
            },
            "Add the sleeper",
        )
        make = config_writer(tmp_path, repo, engines, poll_interval="1s", max_attempts=2)
        config = make(**overrides)
        import yaml

        port = int(yaml.safe_load(config.read_text())["listen"].rsplit(":", 1)[1])
        process = DaemonProcess(config, tmp_path / "daemon.log").start()
        started.append(process)
        running = RunningDaemon(port, repo, process, tmp_path / "state")

        def passed() -> bool:
            try:
                return running.get("/api/status")[0] == 200
            except OSError:
                return False

        wait_for(passed, timeout=90, what="the daemon's first pass")
        return running

    yield start
    for process in started:
        process.stop()
