import pytest

from adapters.memory import InMemoryTaskQueue
from tests.unit.fakes import FakeClock


async def test_a_lease_not_acked_within_the_visibility_timeout_is_handed_out_again() -> None:
    clock = FakeClock()
    queue = InMemoryTaskQueue(clock=clock, visibility_timeout_s=60)
    queue.put("t1")
    (first,) = await queue.receive(10, wait_s=0)
    assert not first.reclaimed
    clock.advance(59)
    assert await queue.receive(10, wait_s=0) == []
    clock.advance(1)
    (again,) = await queue.receive(10, wait_s=0)
    assert (again.task_id, again.entry_id, again.reclaimed) == ("t1", first.entry_id, True)


async def test_extended_and_acked_leases_are_not_handed_out_again() -> None:
    clock = FakeClock()
    queue = InMemoryTaskQueue(clock=clock, visibility_timeout_s=60)
    queue.put("slow")
    queue.put("done")
    slow, done = await queue.receive(10, wait_s=0)
    await queue.ack(done)
    clock.advance(40)
    await queue.extend(slow)
    clock.advance(40)
    assert await queue.receive(10, wait_s=0) == []
    assert len(queue) == 1
    await queue.ack(slow)
    assert len(queue) == 0


async def test_each_queuing_of_a_task_is_its_own_entry() -> None:
    clock = FakeClock()
    queue = InMemoryTaskQueue(clock=clock)
    queue.put("t1")
    queue.put_later("t1", clock())
    leases = await queue.receive(10, wait_s=0)
    assert [lease.task_id for lease in leases] == ["t1", "t1"]
    assert leases[0].entry_id != leases[1].entry_id


async def test_a_full_memory_store_forgets_the_longest_finished_tasks_first() -> None:
    from adapters.memory import InMemoryTaskStore
    from domain.errors import TaskNotFound
    from domain.message import DeliveryReceipt
    from tests.unit.test_task_lifecycle import make_task

    clock = FakeClock()
    store = InMemoryTaskStore(
        queue=InMemoryTaskQueue(clock=clock), clock=clock, ttl_s=3600, max_tasks=3
    )
    first, second, third = (make_task(f"t{i}", clock) for i in range(3))
    for task in (first, second, third):
        await store.add(task)
    for task in (second, first):  # second finishes before first
        started = task.start_attempt(clock())
        await store.save(started)
        await store.save(started.complete(DeliveryReceipt(message_id="<m@x>"), clock()))
        clock.advance(1)

    await store.add(make_task("t3", clock))

    assert len(store) == 3
    with pytest.raises(TaskNotFound):
        await store.get("t1")  # finished longest ago
    assert (await store.get("t0")).id == "t0"


async def test_a_memory_store_full_of_unfinished_tasks_refuses_more_and_stores_nothing() -> None:
    from adapters.memory import InMemoryTaskStore, StoreFull
    from application.errors import StoreUnavailable
    from tests.unit.test_task_lifecycle import make_task

    clock = FakeClock()
    queue = InMemoryTaskQueue(clock=clock)
    store = InMemoryTaskStore(queue=queue, clock=clock, ttl_s=3600, max_tasks=2)
    await store.add_all([make_task("a", clock), make_task("b", clock)])

    with pytest.raises(StoreFull) as refused:
        await store.add_all([make_task("c", clock)])

    assert isinstance(refused.value, StoreUnavailable)
    assert len(store) == 2
    assert len(queue) == 2
