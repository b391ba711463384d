"""The planner: a pure function from desired and observed state to a Plan (no I/O).

``plan`` (live: desired against what the nodes run) lives in ``syncd.plan.planner``;
``plan_offline`` (desired at one commit against desired at another) in ``syncd.plan.offline``;
the words of a plan in ``syncd.plan.wording``; renderers in ``syncd.plan.render`` (text,
JSON) and ``syncd.plan.markdown``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncd.plan.offline import plan_offline
    from syncd.plan.planner import plan

# Loaded on first use (PEP 562): the offline preview needs neither the planner nor the allocator.
_HOMES = {"plan": "syncd.plan.planner", "plan_offline": "syncd.plan.offline"}

__all__ = ["plan", "plan_offline"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
