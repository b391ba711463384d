"""Per-transport limits come from the endpoint's scheme, once; a url that skipped validation is
refused with what to write instead. No engine needed: the client is replaced by a fake."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from syncd.errors import NodeError
from syncd.nodes.docker_node import DockerNode
from syncd.nodes.transports import LIMITS
from syncd.spec.models import NodeSpec, SshFiles


class SlowStatsApi:
    """Answers stats after a pause and records how many reads were in flight at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self._lock = threading.Lock()

    def stats(self, container_id: str, **options: object) -> dict[str, object]:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.1)
        with self._lock:
            self.in_flight -= 1
        return {"cpu_stats": {"cpu_usage": {"total_usage": 1}, "system_cpu_usage": 2}}


class FakeConnection:
    def __init__(self, api: SlowStatsApi) -> None:
        self.api = api

    @contextmanager
    def calling(self, action: str) -> Iterator[SlowStatsApi]:
        yield self.api


def _most_concurrent_stats_reads(node: NodeSpec, readers: int) -> int:
    driver = DockerNode(node)
    api = SlowStatsApi()
    driver.connection = FakeConnection(api)  # type: ignore[assignment]
    with ThreadPoolExecutor(readers) as pool:
        readings = list(pool.map(lambda i: driver.read_cpu(f"c{i}"), range(readers * 2)))
    assert all(reading is not None and reading.current is not None for reading in readings)
    return api.most


def test_stats_reads_over_ssh_are_bounded_by_the_transport_table() -> None:
    ssh_node = NodeSpec(id="b", url="ssh://root@127.0.0.1:2222", ssh=SshFiles())
    bound = LIMITS["ssh"].concurrent_stats_reads
    assert bound is not None
    assert _most_concurrent_stats_reads(ssh_node, readers=8) <= bound


def test_stats_reads_over_unix_are_not_bounded_by_the_driver() -> None:
    assert LIMITS["unix"].concurrent_stats_reads is None
    unix_node = NodeSpec(id="a", url="unix:///nowhere.sock")
    ssh_bound = LIMITS["ssh"].concurrent_stats_reads
    assert ssh_bound is not None
    # eight readers at once; only thread start-up jitter keeps a few from overlapping
    assert _most_concurrent_stats_reads(unix_node, readers=8) > ssh_bound


def test_a_url_that_skipped_validation_is_refused_with_the_fix() -> None:
    with pytest.raises(NodeError, match="write tcp://HOST:PORT") as caught:
        DockerNode(NodeSpec(id="n", url="tcp://10.0.0.5"))
    assert caught.value.hint is not None and "ssh://user@host:port" in caught.value.hint
