"""The page of a running daemon: a real ``syncd daemon`` process on the harness engines, a bare
repository it follows, and helpers to read its pages."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.daemon_process import DaemonProcess
from tests.daemon.conftest import config_writer
from tests.daemon.helpers import DEFINITION, DeploymentsRepo, deployment, wait_for

# A known secret: written to the tokens file and used as a webhook secret; no page may show it.
PAGE_TOKEN = "page-token-0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-fedcba9876543210"


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

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def secret_files(tmp_path: Path) -> dict[str, object]:
    """A tokens file and a webhook secret file (mode 600), as config keys."""
    tokens = tmp_path / "page-tokens"
    tokens.write_text(f"viewer {PAGE_TOKEN}\n")
    tokens.chmod(0o600)
    hook = tmp_path / "github.secret"
    hook.write_text(WEBHOOK_SECRET + "\n")
    hook.chmod(0o600)
    return {"web": {"tokensFile": str(tokens)}, "webhook": {"githubSecretFile": str(hook)}}


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
