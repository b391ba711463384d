"""The cyclic collector paused for a pass (spec/collector.py): off inside, back on after, what a
big pass made moved to the oldest generation unwalked, a small one's left to the young
collection, and a cycle made meanwhile still found."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from syncd.spec import collector
from syncd.spec.collector import collector_paused


class Node:
    """An object the collector tracks (a class instance), which can be part of a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def _generation_of(thing: object) -> int | None:
    for generation in range(3):
        if any(found is thing for found in gc.get_objects(generation)):
            return generation
    return None


def test_the_collector_is_off_inside_and_on_after_nested_sections():
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer section is still running
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_what_a_big_pass_kept_is_in_the_oldest_generation_and_the_young_ones_are_empty(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(collector, "UNWALKED_FROM", 5_000)  # 10,000 objects make a big pass
    with collector_paused():
        kept = [Node() for _ in range(10_000)]
        assert _generation_of(kept[0]) == 0
    # nothing young left for the first young collection to walk
    assert gc.get_count()[0] < 10  # (a handful allocated since, by this very test)
    assert _generation_of(kept[0]) == 2
    assert _generation_of(kept[-1]) == 2


def test_a_small_pass_is_left_to_the_young_collection():
    gc.collect()  # young counts at zero: nothing else is due a collection during the test
    with collector_paused():
        kept = Node()
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
    assert _generation_of(kept) == 0
    gc.collect(0)
    assert gone() is None  # the next young collection found the cycle


def test_a_cycle_made_during_a_big_pass_is_still_collected(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(collector, "UNWALKED_FROM", 0)
    with collector_paused():
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
    assert gone() is not None  # a cycle: reference counting alone does not free it
    gc.collect()
    assert gone() is None


def test_sections_on_two_threads_end_with_the_collector_on_once_both_are_done():
    inside = threading.Event()
    leave = threading.Event()

    def other_pass() -> None:
        with collector_paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other_pass)
    with collector_paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's pass is still running
    leave.set()
    thread.join(5)
    assert gc.isenabled()
