"""The daemon and a remote build's repository that does not answer: the commit is not refused
for good (the remote's outage is not the commit's fault); it is loaded again at the next pass
and applied once the Git server answers, its files fetched into stateDir/remote-builds."""

from __future__ import annotations

from pathlib import Path

from syncd.daemon.config import load_config
from syncd.daemon.loop import Daemon
from testkit.harness.processes import free_port
from tests.daemon.conftest import config_writer, isolated_git_config  # noqa: F401 (fixtures)
from tests.daemon.helpers import DeploymentsRepo
from tests.source.git_daemon import app_repo, git_server
from tests.source.gitrepos import git

DEFINITION = """\
id: def_remote
repository:
  url: "{url}"
  version: v1
  buildContext: service
  containerFile: Containerfile
  internalPorts: []
network: none
"""
DEPLOYMENT = "id: depl_remote\ndefinitionId: def_remote\nreplicas: 1\n"


def test_an_unreachable_remote_is_retried_not_refused(engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served = tmp_path / "served"
    served.mkdir()
    app = app_repo(served)
    port = free_port()
    repo = DeploymentsRepo(tmp_path)
    sha = repo.commit(
        {
            "definitions/def_remote.yaml": DEFINITION.format(url=f"git://127.0.0.1:{port}/app.git"),
            "deployments/depl_remote.yaml": DEPLOYMENT,
        }
    )
    make_config = config_writer(tmp_path, repo, engines, poll_interval="30s", max_attempts=2)
    daemon = Daemon(load_config(make_config()))
    daemon.settings.trees_dir.mkdir(parents=True)
    commits = daemon.reconciler.commits
    commits.sync()  # the pass's fetch of the deployments repository
    assert commits.state.head == sha

    commits.evaluate(sha)  # the Git server is not up yet
    assert daemon.good is None and commits.invalid is None, "not refused: tried again later"
    assert commits.new_head() == sha
    assert commits.state.error is not None
    assert "definitions/def_remote.yaml:1: $.repository.url" in commits.state.error
    assert "Connection refused" in commits.state.error  # git's own words

    with git_server(served, port):
        commits.evaluate(sha)
    assert daemon.good is not None and daemon.good.sha == sha
    (built,) = daemon.good.loaded.desired.deployments
    assert built.spec.build is not None
    remote_builds = daemon.settings.state_dir / "remote-builds"
    assert built.spec.build.root == str(remote_builds / git(app.work, "rev-parse", "v1"))
