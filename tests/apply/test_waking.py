"""The wait between polls: cut short by an event, never missing one that came during a poll."""

from __future__ import annotations

import threading

from syncd.apply.waking import Wakeups


class EventfulDriver:
    """A driver that can watch: it hands out the wake-up callback it was given."""

    def __init__(self) -> None:
        self.wakes: list[object] = []
        self.closed = 0

    def watch_events(self, labels: object, wake: object) -> EventfulDriver:
        self.wakes.append(wake)
        return self

    def close(self) -> None:
        self.closed += 1


def test_an_event_before_the_wait_ends_it_at_once_and_is_used_up() -> None:
    wakeups = Wakeups({"io.syncd.deployment": "depl_a"})
    driver = EventfulDriver()
    wakeups.watch("node-a", driver)
    wakeups.watch("node-a", driver)  # one watch per node
    assert len(driver.wakes) == 1
    wake = driver.wakes[0]
    assert callable(wake)
    wake()  # the engine reported something while the rollout was polling
    assert wakeups.wait(600, cancel=None) is False  # returns now, not in 600 s
    cancel = threading.Event()
    cancel.set()
    assert wakeups.wait(600, cancel=cancel) is True  # the event was used up: cancel ends it
    wakeups.close()
    assert driver.closed == 1


def test_a_driver_without_events_only_waits_the_interval() -> None:
    wakeups = Wakeups({})
    wakeups.watch("node-a", object())
    assert wakeups.wait(0.01, cancel=None) is False
    wakeups.close()
