"""Pausing Python's cyclic garbage collector while a pass builds its data.

Loading, rendering and planning a big repository allocate millions of small objects (YAML nodes,
dicts, models, plans) that are either kept or freed at once by reference counting: none of them
form cycles. The cyclic collector does not know that; every few hundred allocations it walks the
young objects, and every time the survivors grow by a quarter it walks all of them, which made a
third of a cold 10,000-deployment load (about a second). ``collector_paused`` turns it off for
the length of one phase; reference counting still frees everything at once.

When the last section ends after a big pass (``UNWALKED_FROM`` young objects or more: a cold
load of a few thousand deployments), what was made meanwhile is moved into the oldest generation
unwalked (``gc.freeze()`` then ``gc.unfreeze()``: two list splices) before the collector comes
back on. Otherwise the first young collection would walk every object the pass kept (the
models, documents and plan of 10,000 deployments: 120-300 ms, a fifth of a cold pass) only to
promote them, and walk them again a generation up. A cycle made meanwhile, by the pass or by
another thread, is still found, by the next full collection rather than the next young one.
A small pass (the daemon's usual one makes a few thousand objects at most) is left to the young
collection as before: its walk costs little, and a daemon that ran only small passes would
otherwise hand every cycle to full collections, which come rarely.

Paused sections nest and may run on several threads at once: the collector comes back on when
the last one ends, and only if it was on when the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # sections running now
_was_enabled = False  # whether the collector was on when the first of them began
UNWALKED_FROM = 100_000  # young objects at the end of a pause that make it a big pass


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off (see the module docstring)."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                if gc.get_count()[0] >= UNWALKED_FROM:
                    gc.freeze()  # every tracked object into the permanent generation, unwalked,
                    gc.unfreeze()  # and from there into the oldest one: no young walk of them
                gc.enable()
