"""How long each page and JSON endpoint of the web page takes for 1,000 deployments on 100 nodes.

Run by hand (not in CI, not a timed test)::

    .venv/bin/python bench/bench_web.py [--deployments 1000] [--nodes 100] [--runs 5]

The daemon is a stand-in holding what a real one holds after a pass at that size (the status of
the pass, the observed state, the plan: the same generated repository as ``bench_plan.py``, every
replica running at its target hash), served by the real listener and ``WebPage`` over loopback.
Prints the median and the worst of ``--runs`` requests per page, and the body size.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import make_repo  # noqa: E402

from syncd.daemon.config import DaemonSettings, RepoSettings  # noqa: E402
from syncd.daemon.head_preview import HeadPreviews, RefusedHead  # noqa: E402
from syncd.daemon.history import PER_DEPLOYMENT, RolloutHistory, RolloutRecord  # noqa: E402
from syncd.daemon.http import HttpServer  # noqa: E402
from syncd.daemon.web import WebPage  # noqa: E402
from syncd.errors import SourceError, SpecProblem  # noqa: E402
from syncd.plan.planner import plan  # noqa: E402
from syncd.spec.rendering import render_desired  # noqa: E402
from syncd.state import ObservedState  # noqa: E402
from syncd.status.model import (  # noqa: E402
    DeploymentStatus,
    InstanceStatus,
    NodeStatus,
    SyncStatus,
)
from testkit.simulated import steady_state  # noqa: E402

PAGES = ["/", "/?fragment=main", "/nodes", "/plan", "/deployments/depl-00500", "/ui/state.json"]
REFUSED = "b" * 40  # a branch head the rollback guard refused, planned: the Plan page's top


class _OpenAccess:
    off = False

    def allows(self, request: object) -> bool:
        return True


def stand_in(deployments: int, nodes: int) -> SimpleNamespace:
    repo = make_repo(deployments, nodes)
    desired = render_desired(repo, environ={})
    observed = steady_state(desired)
    the_plan = plan(desired, observed)
    now = datetime.now(UTC)
    by_deployment: dict[str, list[InstanceStatus]] = {}
    for instance in observed.instances:
        by_deployment.setdefault(instance.deployment_id, []).append(
            InstanceStatus.from_observed(instance)
        )
    status = SyncStatus(
        commit="a" * 40,
        commit_subject="Bench commit",
        last_pass_at=now,
        deployments=tuple(
            DeploymentStatus(
                id=d.id,
                definition_id=d.deployment.definition_id,
                status="OK",
                details=f"{d.replicas} of {d.replicas} replicas running and healthy.",
                desired_replicas=d.replicas,
                ready_replicas=d.replicas,
                updated_replicas=d.replicas,
                instances=tuple(by_deployment.get(d.id, ())),
                updated_at=now,
            )
            for d in desired.deployments
        ),
        nodes=tuple(
            NodeStatus(n.id, n.url, True, engine_version="27.0", last_seen=now, cluster=n.cluster)
            for n in desired.nodes
        ),
        head_commit=REFUSED,
    )

    def no_commit(sha: str) -> None:
        raise SourceError("no checkout in the bench")

    settings = DaemonSettings(repo=RepoSettings(url="/nonexistent"))
    # A full history: every deployment's last rollouts (the page shows one deployment's).
    history = RolloutHistory(None, total=deployments * PER_DEPLOYMENT)
    for number in range(PER_DEPLOYMENT):
        for d in desired.deployments:
            history.add(
                RolloutRecord(
                    d.id,
                    "rollout",
                    "reverted" if number % 4 == 0 else "succeeded",
                    f"rolling-update {d.replicas} replicas",
                    "RollingUpdate",
                    "a" * 40,
                    started_at=time.time() - 60 * (PER_DEPLOYMENT - number) - 30,
                    finished_at=time.time() - 60 * (PER_DEPLOYMENT - number),
                    to_spec_hash=d.spec_hash,
                    from_spec_hash="f" * 64,
                    from_commit="e" * 40,
                    reason="exited with code 3: boom" if number % 4 == 0 else "",
                )
            )
    previews = HeadPreviews(settings, sync=None)  # type: ignore[arg-type]
    why = SpecProblem("(commit)", 1, 1, "$", "commit bbbbbbbbbbbb is not a descendant of ...")
    # what the head would change: every deployment created anew (1,000 pending rows)
    would_be = plan(desired, ObservedState(nodes=observed.nodes, instances=()))
    previews.current = RefusedHead(REFUSED, (why,), time.time(), plan=would_be)
    reconciler = SimpleNamespace(
        observed=observed,
        last_plan=the_plan,
        plan_error=None,
        passes=1,
        last_pass_at=time.time(),
        last_pass_s=0.5,
        rollouts_in_progress=dict,
        history=history,
        previews=previews,
    )
    return SimpleNamespace(
        last_status=status,
        reconciler=reconciler,
        settings=settings,
        good=SimpleNamespace(desired=desired, sha="a" * 40),
        source=SimpleNamespace(commit_info=no_commit, checkout_dir=Path("/nonexistent")),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    daemon = stand_in(args.deployments, args.nodes)
    server = HttpServer("127.0.0.1:0")
    WebPage(daemon, access=_OpenAccess()).register(server)  # type: ignore[arg-type]
    server.start()
    try:
        print(f"{args.deployments} deployments on {args.nodes} nodes, {args.runs} runs each")
        print(f"{'page':28} {'median ms':>10} {'worst ms':>10} {'KiB':>8}")
        for path in PAGES:
            samples = []
            size = 0
            for _ in range(args.runs):
                conn = http.client.HTTPConnection(*server.address, timeout=60)
                started = time.perf_counter()
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                samples.append((time.perf_counter() - started) * 1000)
                conn.close()
                assert response.status == 200, (path, response.status, body[:300])
                size = len(body)
            print(
                f"{path:28} {statistics.median(samples):10.1f} {max(samples):10.1f} "
                f"{size / 1024:8.0f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
