"""All nodes at once: one driver (and one client) per node, observed concurrently.

An unreachable node costs at most its timeouts and never holds up the others: each node is
observed in its own worker, the pass waits for all of them up to a deadline, and a node whose
previous observation is still stuck is reported unreachable instead of piling up workers.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from syncd.errors import NodeError
from syncd.nodes.base import NodeDriver
from syncd.nodes.containers import utc_now
from syncd.nodes.docker_node import DockerNode
from syncd.nodes.proxy.base import NodeProxy
from syncd.nodes.proxy.haproxy import HaproxyNode
from syncd.nodes.swarm import SwarmCluster
from syncd.spec.models import NodeSpec, SwarmClusterSpec
from syncd.state import NodeFacts, ObservedInstance, ObservedState, SwarmObservation


class NodePool:
    """One DockerNode per NodeSpec and one SwarmCluster per Swarm, kept across passes;
    ``observe()`` reads them all at once."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        *,
        connect_timeout: float = 3.0,
        call_timeout: float = 15.0,
        facts_ttl: float = 60.0,
        swarms: Sequence[SwarmClusterSpec] = (),
        owner: str | None = None,
    ) -> None:
        ids = [n.id for n in nodes] + [s.id for s in swarms]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise NodeError(f"node ids must be unique: {', '.join(duplicates)} appear twice")
        self.nodes = tuple(nodes)
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self._drivers = {
            n.id: DockerNode(
                n, connect_timeout=connect_timeout, call_timeout=call_timeout, facts_ttl=facts_ttl
            )
            for n in nodes
        }
        self._swarms = {
            s.id: SwarmCluster(s, connect_timeout=connect_timeout, call_timeout=call_timeout)
            for s in swarms
        }
        self._executor = ThreadPoolExecutor(
            max_workers=max(2, 2 * (len(nodes) + len(swarms))), thread_name_prefix="syncd-observe"
        )
        self.owner = owner  # labelled on the containers the pool makes itself (the proxies)
        self._proxies: dict[str, HaproxyNode] = {}
        self._pending: dict[str, Future[tuple[NodeFacts, list[ObservedInstance]]]] = {}
        self._lock = threading.Lock()

    def driver(self, node_id: str) -> NodeDriver:
        """The node's driver; NodeError for an unknown id."""
        return _known(self._drivers, node_id, "node")

    def swarm(self, swarm_id: str) -> SwarmCluster:
        """The backend of one Swarm cluster; NodeError for an unknown id."""
        return _known(self._swarms, swarm_id, "swarm")

    def proxy(self, node_id: str) -> NodeProxy:
        """The node's proxy (HAProxy run by syncd over the node's own engine connection);
        NodeError for an unknown id. One per node, kept across passes."""
        driver = self._drivers.get(node_id)
        if driver is None:
            self.driver(node_id)  # raises the "unknown node" error
        assert driver is not None
        with self._lock:
            if node_id not in self._proxies:
                self._proxies[node_id] = HaproxyNode(
                    node_id, driver.connection, driver.node.proxy, owner=self.owner
                )
            return self._proxies[node_id]

    @property
    def api_calls(self) -> int:
        """Engine API requests made through this pool so far, all nodes together."""
        return sum(d.api_calls for d in self._drivers.values()) + sum(
            s.api_calls for s in self._swarms.values()
        )

    @property
    def deadline_s(self) -> float:
        """How long one observe pass may wait for the slowest node."""
        return self.connect_timeout + self.call_timeout + 1.0

    def observe(self) -> ObservedState:
        """Every node's facts and managed instances; an unreachable node is a fact, not a failure."""
        futures: dict[str, Future[tuple[NodeFacts, list[ObservedInstance]]]] = {}
        stuck: dict[str, NodeFacts] = {}
        with self._lock:
            for node_id, driver in self._drivers.items():
                previous = self._pending.get(node_id)
                if previous is not None and not previous.done():
                    stuck[node_id] = NodeFacts(
                        node_id=node_id,
                        reachable=False,
                        error=f"node {node_id} is unreachable: its previous observation has "
                        "not answered yet",
                        observed_at=utc_now(),
                    )
                    continue
                futures[node_id] = self._executor.submit(driver.observe)
                self._pending[node_id] = futures[node_id]
        swarm_futures = {
            swarm_id: self._executor.submit(swarm.observe)
            for swarm_id, swarm in self._swarms.items()
        }
        every: list[Future[object]] = [*futures.values(), *swarm_futures.values()]  # type: ignore[list-item]
        wait(every, timeout=self.deadline_s)
        facts: dict[str, NodeFacts] = {}
        instances: list[ObservedInstance] = []
        for node in self.nodes:
            if node.id in stuck:
                facts[node.id] = stuck[node.id]
                continue
            future = futures[node.id]
            if not future.done():
                facts[node.id] = NodeFacts(
                    node_id=node.id,
                    reachable=False,
                    error=f"node {node.id} is unreachable: no answer within {self.deadline_s:.0f}s",
                    observed_at=utc_now(),
                )
                continue
            node_facts, node_instances = future.result()
            facts[node.id] = node_facts
            instances.extend(node_instances)
        instances.sort(key=lambda i: (i.deployment_id, i.replica, i.node_id, i.name))
        return ObservedState(
            nodes=facts, instances=tuple(instances), swarms=self._swarm_results(swarm_futures)
        )

    def _swarm_results(
        self, futures: dict[str, Future[SwarmObservation]]
    ) -> dict[str, SwarmObservation]:
        results = {}
        for swarm_id, future in futures.items():
            if future.done():
                results[swarm_id] = future.result()
            else:
                spec = self._swarms[swarm_id].spec
                results[swarm_id] = SwarmObservation(
                    swarm_id=swarm_id,
                    cluster=spec.cluster,
                    reachable=False,
                    error=f"no answer within {self.deadline_s:.0f}s",
                    observed_at=utc_now(),
                )
        return results

    def close(self) -> None:
        """Close every node's client and the worker threads (without waiting for stuck ones)."""
        for driver in self._drivers.values():
            driver.close()
        for swarm in self._swarms.values():
            swarm.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> NodePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_Backend = TypeVar("_Backend")


def _known(table: Mapping[str, _Backend], key: str, kind: str) -> _Backend:
    """``table[key]``; NodeError naming the known ids when ``key`` is not one of them."""
    try:
        return table[key]
    except KeyError:
        known = ", ".join(table) or "none"
        raise NodeError(f"unknown {kind} {key!r} (known: {known})") from None
