"""The two promises the daemon keeps whatever its pass thread is doing: ``/healthz`` says when a
pass has run for too long, and a stop ends the process within ``shutdownTimeout``.

Both watch one timestamp, the start of the pass in progress (``PassClock``); neither needs the
pass thread to cooperate, so a pass stuck in planning, a hung call or a bug cannot hold them off.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger("syncd.daemon")


class PassClock:
    """When the pass in progress started (monotonic), None between passes."""

    def __init__(self) -> None:
        self.started: float | None = None

    def running_for(self) -> float | None:
        started = self.started
        return None if started is None else time.monotonic() - started

    def wedged(self, pass_timeout_s: float) -> str | None:
        """Why /healthz is unhealthy when the pass in progress ran longer than the timeout."""
        running_for = self.running_for()
        if running_for is None or running_for <= pass_timeout_s:
            return None
        return (
            f"a pass has been running for {running_for:.0f}s (passTimeout is "
            f"{pass_timeout_s:.0f}s): the daemon is stuck or overloaded"
        )


def exit_after(timeout_s: float, clock: PassClock) -> None:
    """End the process ``timeout_s`` from now unless it ended by itself first. What the exit
    leaves half done (a rollout step, a pass) the next start converges, as after SIGKILL."""

    def exit_now() -> None:
        running_for = clock.running_for()
        what = (
            f"a pass has been running for {running_for:.0f}s"
            if running_for is not None
            else "the shutdown has not finished"
        )
        log.warning(
            "%s after shutdownTimeout (%.0fs): exiting now (the next start converges)",
            what,
            timeout_s,
        )
        logging.shutdown()
        os._exit(0)

    deadline = threading.Timer(timeout_s, exit_now)
    deadline.daemon = True  # a clean stop before it fires is not held up by it
    deadline.start()
