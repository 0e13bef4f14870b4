"""The memory store adds no work to CPython's cyclic garbage collector, whatever its size: a kept
task is untracked by the first young collection after it is written, and the dict of tasks never
returns to the young generation (where each collection would walk all of it)."""

import gc
from collections.abc import Iterator

import pytest

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from tests.unit.fakes import FakeClock
from tests.unit.test_task_lifecycle import make_task


@pytest.fixture
def collector_paused() -> Iterator[None]:
    """Only the collections the test runs itself."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def young_objects() -> list[object]:
    return gc.get_objects(generation=0)


async def test_the_store_is_never_walked_by_young_collections(collector_paused: None) -> None:
    clock = FakeClock()
    store = InMemoryTaskStore(queue=InMemoryTaskQueue(clock=clock), clock=clock, ttl_s=3600)
    for number in range(3):
        await store.add(make_task(f"t{number}", clock))
    gc.collect()  # a full collection: an exact dict of untracked values would be untracked here

    await store.add(make_task("t3", clock))

    tasks = store._tasks  # the property under test is the container's tracking
    assert not any(obj is tasks for obj in young_objects())
    kept = tasks["t3"]
    assert gc.is_tracked(kept)  # new, as every tuple is
    gc.collect(generation=0)
    assert not gc.is_tracked(kept)  # one young collection later: never walked again
    started = make_task("t3", clock).start_attempt(clock())
    await store.save(started)
    gc.collect(generation=0)
    assert not gc.is_tracked(tasks["t3"])
