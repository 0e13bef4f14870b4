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
