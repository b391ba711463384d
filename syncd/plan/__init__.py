"""The planner: a pure function from desired and observed state to a Plan (no I/O).

``plan`` (live: desired against what the nodes run) lives in ``syncd.plan.planner``;
``plan_offline`` (desired at one commit against desired at another) in ``syncd.plan.offline``;
the words of a plan in ``syncd.plan.wording``; renderers in ``syncd.plan.render`` (text,
JSON) and ``syncd.plan.markdown``.
"""

from __future__ import annotations

from syncd.plan.offline import plan_offline
from syncd.plan.planner import plan

__all__ = ["plan", "plan_offline"]
