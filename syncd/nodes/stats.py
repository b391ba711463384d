"""CPU use of running instances, read from the engines' stats endpoint for autoscaling.

What the engine offers, measured on Docker 20.10 (API 1.41, the harness's engine), 8 containers
read at once (``bench`` figures in docs/autoscaling.md):

- ``stats(stream=False)`` (two samples, engine side): the engine waits for two ticks of its stats
  collector (one per second) so that ``precpu_stats`` is filled: 1 to 2 s per read.
- ``stats(stream=False, one_shot=True)``: no ``precpu_stats``, but the read still waits for the
  collector's next tick: up to 1 s per read. Two of them a short gap apart cost the same two ticks
  as the engine's own two-sample read, so that gains nothing.

The counters in one sample (``total_usage``: the container's CPU time; ``system_cpu_usage``: the
host's CPU time over all cores) are cumulative. So the autoscaler (``CpuSampler``) takes ONE
one-shot read per instance per pass and divides by the previous pass's sample of the same
container: half the wait of a two-sample read, one call per instance, and an average over the
whole reconcile interval (closer to what HPA's metrics pipeline averages over) rather than over
one second. The first pass that sees a container has nothing to compare with and reports None.
``cpu_utilization`` is the stand-alone form for a one-off look (the engine's two-sample read).

Utilisation is a percentage of the instance's CPU limit (200m burning a full core's worth of its
quota reads 100), or of one core when the instance has no limit (so it can exceed 100).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from syncd.errors import SyncdError
from syncd.nodes.base import CpuReading, CpuSample, NodeDriver

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8  # stats reads in flight per node (docker-py's pool keeps 10 per client)
MAX_THREADS = 32  # reads in flight over all nodes together
DEFAULT_MAX_PER_PASS = 32  # a pass reads at most this many; the rest wait for the next pass

_MILLIS_PER_CORE = 1000

#: maps a node id to its driver (``NodePool.driver``)
DriverLookup = Callable[[str], NodeDriver]


def utilization_between(
    previous: CpuSample, current: CpuSample, cpu_limit_millis: int | None
) -> float | None:
    """Percent of the CPU limit (or of one core without a limit) used between two samples.

    None when the samples cannot be compared: no host time passed, or the container's counter went
    backwards (it restarted, so the old sample belongs to another process)."""
    system_delta = current.system_usage_ns - previous.system_usage_ns
    usage_delta = current.total_usage_ns - previous.total_usage_ns
    if system_delta <= 0 or usage_delta < 0:
        return None
    # system time counts every core: its share times the cores is cores in use (docker stats' rule)
    cores_used = usage_delta / system_delta * current.online_cpus
    capacity_cores = cpu_limit_millis / _MILLIS_PER_CORE if cpu_limit_millis else 1.0
    return 100.0 * cores_used / capacity_cores


def _read(driver: NodeDriver, container_id: str, *, two_samples: bool) -> CpuReading | None:
    """One read through the driver. None when the container is gone or the engine does not
    answer: a missing measurement only means "no change this pass"."""
    try:
        return driver.read_cpu(container_id, two_samples=two_samples)
    except SyncdError as exc:
        log.debug("cannot read stats of container %s: %s", container_id[:12], exc)
        return None


def read_cpu_sample(driver: NodeDriver, container_id: str) -> CpuSample | None:
    """One one-shot stats read of ``container_id`` on the driver's node, as a CpuSample."""
    reading = _read(driver, container_id, two_samples=False)
    return reading.current if reading else None


def cpu_utilization(
    driver: NodeDriver, container_id: str, cpu_limit_millis: int | None
) -> float | None:
    """The container's CPU use over about a second, as a percent of ``cpu_limit_millis`` (or of
    one core without a limit), from one stats read in which the engine takes both samples.

    Costs 1 to 2 s (the engine's collector ticks once a second); the autoscaler uses
    ``CpuSampler`` instead, which needs one cheaper read per pass. None when the container is not
    running or the engine does not answer.
    """
    reading = _read(driver, container_id, two_samples=True)
    if reading is None or reading.previous is None or reading.current is None:
        return None
    return utilization_between(reading.previous, reading.current, cpu_limit_millis)


@dataclass(frozen=True)
class StatsTarget:
    """One instance to measure: where it runs and the CPU limit its percentage is relative to."""

    node_id: str
    container_id: str
    cpu_limit_millis: int | None


class CpuSampler:
    """Measures instances' CPU use each pass with one one-shot read each, against the previous
    pass's sample of the same container.

    Reads run ``concurrency`` at once per node (each node has its own connection pool and stats
    collector; at most 32 over all nodes), at most ``max_per_pass`` per pass; when there are
    more targets, the ones read longest ago go first, so every instance is measured in turn.
    """

    def __init__(
        self, concurrency: int = DEFAULT_CONCURRENCY, max_per_pass: int = DEFAULT_MAX_PER_PASS
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.max_per_pass = max(1, max_per_pass)
        self._samples: dict[str, tuple[int, CpuSample]] = {}  # container id -> (pass no, sample)
        self._pass = 0
        self._lock = threading.Lock()

    def measure(
        self, driver_of: DriverLookup, targets: Iterable[StatsTarget]
    ) -> dict[str, float | None]:
        """Read this pass's samples; container id -> percent (None: not measured this pass, or
        first seen). ``driver_of`` maps a node id to its driver. Containers that are no longer
        targets are forgotten."""
        with self._lock:
            self._pass += 1
            wanted = {t.container_id: t for t in targets}
            for gone in set(self._samples) - set(wanted):
                del self._samples[gone]
            # never read first, then read longest ago; stable by id for a deterministic order
            order = sorted(
                wanted.values(),
                key=lambda t: (self._samples.get(t.container_id, (-1, None))[0], t.container_id),
            )
            chosen = order[: self.max_per_pass]
            results: dict[str, float | None] = dict.fromkeys(wanted)
            if not chosen:
                return results

            # the driver bounds reads further where its transport needs it (ssh: 4)
            per_node = {
                node_id: threading.BoundedSemaphore(self.concurrency)
                for node_id in {t.node_id for t in chosen}
            }

            def read(target: StatsTarget) -> tuple[StatsTarget, CpuSample | None]:
                with per_node[target.node_id]:
                    try:
                        driver = driver_of(target.node_id)
                    except SyncdError as exc:  # an unreachable node: nothing measured there
                        log.warning("no stats from node %s: %s", target.node_id, exc)
                        return target, None
                    return target, read_cpu_sample(driver, target.container_id)

            threads = min(len(chosen), self.concurrency * len(per_node), MAX_THREADS)
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="syncd-stats") as pool:
                for target, sample in pool.map(read, chosen):
                    if sample is None:
                        self._samples.pop(target.container_id, None)
                        continue
                    before = self._samples.get(target.container_id)
                    if before is not None:
                        results[target.container_id] = utilization_between(
                            before[1], sample, target.cpu_limit_millis
                        )
                    self._samples[target.container_id] = (self._pass, sample)
            return results
