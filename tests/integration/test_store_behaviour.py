"""The TaskStore + TaskQueue contract, run against every store so that they cannot drift apart."""

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from adapters.redis_store import RedisTaskQueue, RedisTaskStore
from application.errors import ConcurrentUpdate
from application.ports import TaskListing, TaskQueue, TaskStore, TaskSummary
from domain.errors import TaskNotFound
from domain.message import DeliveryReceipt, SmtpReply
from domain.task import Task
from tests.integration.store_helpers import ManualClock, new_task, redis_queue, redis_store

TTL_S = 0.3
VISIBILITY_TIMEOUT_S = 0.2


@dataclass
class Backend:
    store: TaskStore
    queue: TaskQueue
    clock: ManualClock
    expires_in_real_time: bool

    async def let_time_pass(self, seconds: float) -> None:
        """Move the clock on; Redis expires keys and leases on its own clock, so wait too."""
        self.clock.advance(seconds)
        if self.expires_in_real_time:
            await asyncio.sleep(seconds)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    clock = ManualClock()
    if request.param == "memory":
        queue = InMemoryTaskQueue(clock=clock)
        store = InMemoryTaskStore(queue=queue, clock=clock, ttl_s=TTL_S)
        return Backend(store, queue, clock, expires_in_real_time=False)
    client: Redis = request.getfixturevalue("redis_client")
    return Backend(
        redis_store(client, ttl_s=TTL_S),
        redis_queue(client, clock=clock, visibility_timeout_s=VISIBILITY_TIMEOUT_S),
        clock,
        expires_in_real_time=True,
    )


@pytest_asyncio.fixture
async def stores(backend: Backend) -> Backend:
    if isinstance(backend.queue, RedisTaskQueue):
        await backend.queue.ensure_group()
    return backend


async def added(stores: Backend) -> Task:
    task = new_task(stores.clock())
    await stores.store.add(task)
    return task


async def test_a_task_reads_back_as_it_was_added(stores: Backend) -> None:
    task = await added(stores)

    assert await stores.store.get(task.id) == task


async def test_every_saved_transition_reads_back_as_saved(stores: Backend) -> None:
    task = await added(stores)
    now = stores.clock()
    started = task.start_attempt(now)
    await stores.store.save(started)
    retry = started.reschedule("421 busy", now, now, possibly_delivered=True)
    await stores.store.save(retry)
    assert await stores.store.get(task.id) == retry
    again = retry.start_attempt(now)
    await stores.store.save(again)
    done = again.complete(DeliveryReceipt(again.email.message_id, SmtpReply(250, "OK")), now)
    await stores.store.save(done)

    assert await stores.store.get(task.id) == done


async def test_an_unknown_task_is_not_found(stores: Backend) -> None:
    with pytest.raises(TaskNotFound):
        await stores.store.get("no-such-task")
    with pytest.raises(TaskNotFound):
        await listing(stores).summary("no-such-task")


def listing(stores: Backend) -> TaskListing:
    assert isinstance(stores.store, (InMemoryTaskStore, RedisTaskStore))
    return stores.store


async def test_a_summary_is_the_status_part_of_the_stored_task(stores: Backend) -> None:
    task = await added(stores)
    started = task.start_attempt(stores.clock())
    await stores.store.save(started)
    done = started.complete(
        DeliveryReceipt(task.email.message_id, SmtpReply(250, "OK")), stores.clock()
    )
    await stores.store.save(done)

    assert await listing(stores).summary(task.id) == TaskSummary.of(done)
    await stores.let_time_pass(TTL_S + 0.2)
    with pytest.raises(TaskNotFound):  # expired with its task
        await listing(stores).summary(task.id)


async def test_saving_an_unknown_task_is_not_found(stores: Backend) -> None:
    with pytest.raises(TaskNotFound):
        await stores.store.save(new_task().start_attempt(stores.clock()))


async def test_adding_a_task_queues_it_for_delivery(stores: Backend) -> None:
    task = await added(stores)

    [lease] = await stores.queue.receive(10, 1.0)

    assert (lease.task_id, lease.reclaimed) == (task.id, False)


async def test_a_save_against_a_stale_version_is_refused(stores: Backend) -> None:
    task = await added(stores)
    started = task.start_attempt(stores.clock())
    await stores.store.save(started)

    with pytest.raises(ConcurrentUpdate):
        await stores.store.save(task.start_attempt(stores.clock()))
    with pytest.raises(ConcurrentUpdate):
        await stores.store.save(started)
    assert await stores.store.get(task.id) == started


async def test_a_rescheduled_task_is_received_again_only_when_due(stores: Backend) -> None:
    task = await added(stores)
    [lease] = await stores.queue.receive(10, 1.0)
    now = stores.clock()
    started = task.start_attempt(now)
    await stores.store.save(started)
    await stores.store.save(started.reschedule("421 busy", now + timedelta(seconds=60), now))
    await stores.queue.ack(lease)

    assert await stores.queue.receive(10, 0.05) == []
    stores.clock.advance(59)
    assert await stores.queue.receive(10, 0.05) == []
    stores.clock.advance(1)
    [again] = await stores.queue.receive(10, 1.0)
    assert again.task_id == task.id


async def test_a_finished_task_is_forgotten_after_the_ttl(stores: Backend) -> None:
    task = await added(stores)
    started = task.start_attempt(stores.clock())
    await stores.store.save(started)
    await stores.store.save(started.fail("550 no such user", stores.clock()))
    assert (await stores.store.get(task.id)).is_terminal

    await stores.let_time_pass(TTL_S + 0.2)

    with pytest.raises(TaskNotFound):
        await stores.store.get(task.id)


async def test_an_unfinished_task_is_kept_past_the_ttl(stores: Backend) -> None:
    task = await added(stores)
    started = task.start_attempt(stores.clock())
    await stores.store.save(started)

    await stores.let_time_pass(TTL_S + 0.2)

    assert await stores.store.get(task.id) == started


async def test_an_acknowledged_entry_is_not_received_again(stores: Backend) -> None:
    await added(stores)
    [lease] = await stores.queue.receive(10, 1.0)
    await stores.queue.ack(lease)

    await stores.let_time_pass(VISIBILITY_TIMEOUT_S + 0.1)

    assert await stores.queue.receive(10, 0.05) == []


async def test_receive_hands_out_at_most_max_count_leases(stores: Backend) -> None:
    tasks = [await added(stores) for _ in range(3)]

    first = await stores.queue.receive(2, 1.0)
    second = await stores.queue.receive(2, 1.0)

    assert (len(first), len(second)) == (2, 1)
    assert {lease.task_id for lease in [*first, *second]} == {task.id for task in tasks}


async def test_receive_waits_up_to_wait_s_for_an_entry(stores: Backend) -> None:
    started = time.monotonic()

    assert await stores.queue.receive(5, 0.3) == []
    assert 0.25 <= time.monotonic() - started < 2.0


async def test_receive_returns_as_soon_as_an_entry_arrives(stores: Backend) -> None:
    receiving = asyncio.create_task(stores.queue.receive(5, 10.0))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    task = await added(stores)

    leases = await asyncio.wait_for(receiving, timeout=2.0)

    assert [lease.task_id for lease in leases] == [task.id]
    assert time.monotonic() - started < 1.0
