"""End to end: a real daemon pass on the harness engines posts the commit status and sends the
alert to a recording server on 127.0.0.1."""

from __future__ import annotations

import logging

from syncd.daemon.config import load_config
from syncd.daemon.loop import Daemon
from tests.daemon.conftest import config_writer, isolated_git_config, repo  # noqa: F401 (fixtures)
from tests.daemon.helpers import DEFINITION, deployment

# A version that exits at once with a reason on its last line: the rollout fails and is
# reverted (no test may make an engine pull: no registry is reachable).
BROKEN_DEFINITION = DEFINITION.replace("def_sleeper", "def_broken").replace(
    """command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]""",
    """command: ["/bin/sh", "-c", "echo 'boom: bad config'; exit 3"]""",
)


def test_a_daemon_pass_posts_commit_statuses_and_alerts(
    repo,  # noqa: F811
    engines,
    tmp_path,
    recorder,
    token_file,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    sha = repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "definitions/def_broken.yaml": BROKEN_DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(1),
            "deployments/depl_broken.yaml": deployment(1)
            .replace("depl_sleeper", "depl_broken")
            .replace("def_sleeper", "def_broken"),
        },
        "a good and a broken deployment",
    )
    make_config = config_writer(tmp_path, repo, engines, poll_interval="30s", max_attempts=2)
    config = make_config(
        notifications={
            "commitStatus": [
                {
                    "provider": "github",
                    "repository": "ops/deployments",
                    "tokenFile": str(token_file),
                    "baseUrl": recorder.url,
                }
            ],
            "alerts": [{"type": "webhook", "url": recorder.url + "/alerts"}],
        }
    )
    daemon = Daemon(load_config(config))
    daemon.run_once()
    notifier = daemon.status_writer.notifier
    assert notifier is not None and notifier.flush(30)

    statuses = [c for c in recorder.calls if "/statuses/" in c.path]
    assert {c.path for c in statuses} == {f"/repos/ops/deployments/statuses/{sha}"}
    assert all(c.header("Authorization") == "Bearer s3cr3t-token-value" for c in statuses)
    last = {c.body["context"]: c.body["state"] for c in statuses}  # in the order sent
    assert last == {"syncd/depl_sleeper": "success", "syncd/depl_broken": "failure"}
    first_of_sleeper = next(c for c in statuses if c.body["context"] == "syncd/depl_sleeper")
    assert first_of_sleeper.body["state"] == "pending"  # while it was being deployed

    alerts = [c for c in recorder.calls if c.path == "/alerts"]
    # the crashing version is reverted, and the deployment is in Error (a retry is due)
    assert sorted((a.body["event"], a.body["deployment"]) for a in alerts) == [
        ("error", "depl_broken"),
        ("reverted", "depl_broken"),
    ]
    (alert,) = [a for a in alerts if a.body["event"] == "error"]
    assert (alert.body["state"], alert.body["commit"]) == ("Error", sha)
    assert "boom: bad config" in alert.body["details"]  # the reason: the crash's last line
    assert "s3cr3t-token-value" not in caplog.text
