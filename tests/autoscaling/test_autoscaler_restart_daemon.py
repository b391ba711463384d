"""A daemon started over a state dir that says depl_sleeper was autoscaled to 3 a moment ago
resumes at 3 on a harness engine, though Git says 1 and nothing runs yet: the count and its
window are read back from stateDir/autoscaling.json, not rebuilt from what runs."""

from __future__ import annotations

import time

from syncd.daemon.autoscaler import baseline_digest
from syncd.daemon.config import load_config
from syncd.daemon.loop import Daemon
from syncd.daemon.persist import AUTOSCALING_FILE, write_state
from syncd.plan.autoscaling import Baseline
from syncd.spec.models import AutoScaling
from tests.daemon.conftest import isolated_git_config, make_config, repo  # noqa: F401 (fixtures)
from tests.daemon.helpers import DEFINITION, deployment

SCALING = {"minReplicas": 1, "maxReplicas": 3, "cpuThreshold": 50}


def test_a_restarted_daemon_resumes_the_autoscaled_count(engines, repo, make_config) -> None:  # noqa: F811
    repo.commit(
        {
            "definitions/def_sleeper.yaml": DEFINITION,
            "deployments/depl_sleeper.yaml": deployment(1, autoScaling=SCALING),
        }
    )
    settings = load_config(make_config())
    baseline = Baseline(1, AutoScaling(min_replicas=1, max_replicas=3, cpu_threshold=50))
    recently = time.time() - 10  # well inside the default 300 s window
    write_state(
        settings.state_dir / AUTOSCALING_FILE,
        {
            "deployments": {
                "depl_sleeper": {
                    "baseline": baseline_digest(baseline),
                    "count": 3,
                    "recommendations": [[recently, 3]],
                    "scaleChanges": [[recently, 2]],
                }
            }
        },
    )
    daemon = Daemon(settings)
    assert daemon.run_once() == 0
    running = [
        c
        for node in engines.nodes
        for c in engines.docker(node.id).containers.list(
            filters={"label": "io.syncd.deployment=depl_sleeper"}
        )
    ]
    assert len(running) == 3, "resumed at the saved count, not Git's 1"
