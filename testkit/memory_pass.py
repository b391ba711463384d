"""One observe-plan-apply pass over an in-memory pool, for the tests that drive rollouts
against the fakes of ``testkit.memory_driver`` with no repository checkout and no secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from syncd.apply.executor import apply_plan
from syncd.apply.report import ApplyOptions, ApplyReport, ProgressEvent
from syncd.apply.run import DriverSource
from syncd.apply.traffic import ProxySource
from syncd.plan.planner import plan
from syncd.spec.desired import DesiredState
from syncd.state import ObservedState


class ObservablePool(DriverSource, Protocol):
    def observe(self) -> ObservedState: ...


def memory_pass(
    pool: ObservablePool,
    desired: DesiredState,
    *,
    commit: str,
    options: ApplyOptions,
    proxies: ProxySource | None = None,
    events: Callable[[ProgressEvent], None] | None = None,
) -> ApplyReport:
    """Observe ``pool``, plan ``desired`` against it and apply the plan: the daemon's pass once
    its revision is loaded. With ``proxies`` the routed ports go through them, for the nodes of
    ``desired``."""
    return apply_plan(
        plan(desired, pool.observe()),
        pool,
        repo_root=None,
        secrets=None,
        commit=commit,
        options=options,
        events=events,
        proxies=proxies,
        nodes=desired.nodes if proxies is not None else (),
    )
