"""Garbage-collector settings for a long-running Mailroom process (``serve``, ``api``, ``worker``).

CPython's cyclic collector starts a young (generation 0) collection every 700 net container
allocations (``gc.get_threshold()``). A server with many requests in flight keeps each request's
frames, coroutines and dicts alive across that count, so young collections come every few
requests, survivors are promoted, and full collections then walk every object the process has,
including the tens of thousands that importing FastAPI, pydantic and redis-py created. Measured
in process (50 concurrent ``POST /send-email``, Redis store): the collector took about 70 us of
the request's 300 us of CPU (docs/benchmarks.md, "Garbage collector").

``tune()`` does what the Python documentation suggests for such programs
(https://docs.python.org/3/library/gc.html#gc.freeze): once start-up is done, collect, then
``gc.freeze()`` everything alive so that later collections never walk it again, and raise the
young threshold so that a collection is amortised over more requests. Mailroom's own objects
form few reference cycles; memory held between collections grows by at most
``YOUNG_THRESHOLD`` small objects.
"""

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 10_000
"""Net allocations of container objects between two young collections (CPython's default: 700)."""


def tune() -> None:
    """Collect, freeze what start-up left alive, set the young threshold to ``YOUNG_THRESHOLD``
    (older generations keep their thresholds). Call once start-up is complete; calling it again
    freezes what is alive by then as well."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
