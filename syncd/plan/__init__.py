"""The planner: a pure function from desired and observed state to a Plan (no I/O)."""
