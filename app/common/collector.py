"""Python's cyclic garbage collector held off while a bulk batch builds its rows (``collector_paused``).

A batch of the escalation sweep or of the duty cycles allocates tens of thousands of short-lived dicts,
tuples and ORM rows; each allocation burst triggers collections, and the older generations' collections
walk every object the process holds (the app, SQLAlchemy's metadata, the engine's parsed specs) again and
again: about a fifth of the sweep's client CPU (measured with the collector off, and with ``gc.freeze``,
in ``bench/README.md``). Reference counting still frees the batch's garbage at once; what the collector
would have found (reference cycles) is found by the first collection after the batch. Memory grows by at
most one batch's cycles, which the batch size bounds.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
"""Batches (threads) inside ``collector_paused`` that turned the collector off; the last one out turns it on."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block, then back on (only if it was on when the first holder came in)."""
    global _holders
    with _lock:
        if _holders == 0 and not gc.isenabled():
            owned = False  # someone else turned it off (a forked engine worker): not ours to turn on
        else:
            owned = True
            _holders += 1
            gc.disable()
    try:
        yield
    finally:
        if owned:
            with _lock:
                _holders -= 1
                if _holders == 0:
                    gc.enable()
