"""Overlapped stops on a real engine: old instances that take a second to stop, a rollout that
does not wait for them, and both bounds at every 100 ms sample, counted as docs/apply.md says:
an instance stops counting once the engine delivered its stop signal (its ``kill`` event).

One engine, so that every sample is one list call (several engines are listed one after the
other, and the skew between them is not the rollout's doing)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from syncd.nodes.pool import NodePool
from tests.apply.applykit import TestRepo, apply_repo, deployment, service_definition

# The test service, but it takes a second to shut down after SIGTERM (as a real one finishing
# its work would), so the stops of one batch are still running when the next batch starts.
# (At load 30, beside four engineers' suites, slow health checks once let every stop end first;
# 3 s instead made the old instances of a batch exit together while the next one started, and
# once wedged Debian's dockerd 20.10.24 in libnetwork's known getSvcRecords/processEndpointDelete
# deadlock, moby/moby#46661, fixed upstream after 20.10.24: every later test of that engine hung.)
SLOW_TO_STOP = "trap 'sleep 1; exit 0' TERM; touch /tmp/ready; while :; do sleep 1 & wait; done"


@dataclass(frozen=True)
class Sample:
    listed_from: float  # wall clock just before the list call
    listed_to: float  # and just after it
    containers: tuple[tuple[str, bool, bool], ...]  # (id, running, healthy)


@dataclass
class ListSampler:
    """Lists one engine's containers of a deployment every 100 ms, with wall-clock times."""

    client: docker.APIClient
    deployment_id: str
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            began = time.time()
            listed = self.client.containers(
                all=True, filters={"label": f"io.syncd.deployment={self.deployment_id}"}
            )
            ended = time.time()
            self.samples.append(
                Sample(
                    began,
                    ended,
                    tuple(
                        (c["Id"], c["State"] == "running", "(healthy)" in c["Status"])
                        for c in listed
                    ),
                )
            )
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()


def _signalled_at(client: docker.APIClient, since: float) -> dict[str, float]:
    """Container id -> wall-clock time of its first stop signal (SIGKILL aside) since ``since``."""
    first: dict[str, float] = {}
    events = client.events(
        since=int(since) - 1,
        until=int(time.time()) + 1,
        filters={"event": "kill", "type": "container"},
        decode=True,
    )
    for event in events:
        if event["Actor"]["Attributes"].get("signal") == "9":
            continue
        first.setdefault(event["Actor"]["ID"], int(event["timeNano"]) / 1e9)
    return first


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(6, 2, 1), (4, 1, 0), (4, 0, 1)])
def test_bounds_hold_at_every_sample_while_stops_overlap(
    engines, tmp_path: Path, replicas: int, surge: int, unavailable: int
) -> None:
    node = engines.nodes[0]
    repo = TestRepo(tmp_path / "repo", [node])
    strategy = {"type": "RollingUpdate", "maxSurge": surge, "maxUnavailable": unavailable}
    definition = service_definition(command=["sh", "-c", SLOW_TO_STOP], stopGracePeriod="5s")
    client = engines.docker(node.id).api
    with NodePool([node]) as pool:
        repo.write([deployment("depl_ovl", replicas, version="1", strategy=strategy)], [definition])
        assert apply_repo(repo, pool)[1].ok
        began = time.time()
        repo.write([deployment("depl_ovl", replicas, version="2", strategy=strategy)], [definition])
        sampler = ListSampler(client, "depl_ovl")
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        try:
            _, report = apply_repo(repo, pool)
        finally:
            sampler.stop()
            thread.join(timeout=10)
    assert report.ok, report.results
    signalled = _signalled_at(client, began)
    assert len(signalled) >= replicas  # every old instance got its stop signal
    assert len(sampler.samples) > 10
    overlapping = 0
    for sample in sampler.samples:
        # counted out of the surge bound once signalled before the list call ended; out of the
        # serving count only when signalled before it began (both: in the rollout's favour by
        # at most one list call, never against it)
        counted = [
            c for c in sample.containers if c[1] and signalled.get(c[0], 1e18) > sample.listed_to
        ]
        serving = [
            c
            for c in sample.containers
            if c[1] and c[2] and signalled.get(c[0], 1e18) > sample.listed_from
        ]
        assert len(counted) <= replicas + surge, sample
        assert len(serving) >= replicas - unavailable, sample
        running = [c for c in sample.containers if c[1]]
        if len(running) > replicas + surge:  # only the stopping ones can make up the difference
            overlapping += 1
    # the stops did overlap the rollout: more containers ran than the bound allows instances
    assert overlapping > 0
