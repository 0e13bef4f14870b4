"""The TaskIntake and TaskListing contracts, run against both stores so that they cannot drift."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import pytest
from redis.asyncio import Redis

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from adapters.redis_store import RedisTaskQueue, RedisTaskStore
from application.ports import (
    IdempotencyClaim,
    IdempotencyRecord,
    Position,
    TaskIntake,
    TaskListing,
    TaskQueue,
    TaskStore,
)
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus
from tests.integration.store_helpers import KEYS, ManualClock, new_task, redis_queue

TTL_S = 0.3


class Store(TaskStore, TaskIntake, TaskListing, Protocol):
    """What both stores are."""


@dataclass
class Backend:
    make: Callable[..., Store]
    queue: TaskQueue
    clock: ManualClock
    real_time: bool

    async def let_time_pass(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.real_time:
            await asyncio.sleep(seconds)


@pytest.fixture(params=["memory", "redis"])
def any_backend(request: pytest.FixtureRequest) -> Backend:
    clock = ManualClock()
    if request.param == "memory":
        queue = InMemoryTaskQueue(clock=clock)

        def memory(ttl_s: float = TTL_S, idempotency_ttl_s: float = 60.0) -> Store:
            return InMemoryTaskStore(  # type: ignore[return-value]
                queue=queue, clock=clock, ttl_s=ttl_s, idempotency_ttl_s=idempotency_ttl_s
            )

        return Backend(memory, queue, clock, real_time=False)
    client: Redis = request.getfixturevalue("redis_client")
    queue = redis_queue(client, clock=clock)

    def redis(ttl_s: float = TTL_S, idempotency_ttl_s: float = 60.0, **options: int) -> Store:
        return RedisTaskStore(  # type: ignore[return-value]
            client=client, keys=KEYS, ttl_s=ttl_s, idempotency_ttl_s=idempotency_ttl_s, **options
        )

    return Backend(redis, queue, clock, real_time=True)


@pytest.fixture
async def backend(any_backend: Backend) -> Backend:
    if isinstance(any_backend.queue, RedisTaskQueue):
        await any_backend.queue.ensure_group()
    return any_backend


def tasks_of(owner: str | None, n: int, clock: ManualClock, *, step_s: float = 1.0) -> list[Task]:
    tasks = []
    for _ in range(n):
        tasks.append(replace(new_task(clock()), owner=owner))
        clock.advance(step_s)
    return tasks


async def queued(backend: Backend) -> list[str]:
    return [lease.task_id for lease in await backend.queue.receive(1000, 0.2)]


async def listed(store: Store, owner: str | None, **options: object) -> list[str]:
    options = {"status": None, "limit": 100, "after": None, **options}
    page = await store.list_tasks(owner, **options)  # type: ignore[arg-type]
    return [task.id for task in page.tasks]


async def finish(store: Store, task: Task, now: datetime) -> Task:
    """``task`` (pending) started and failed."""
    started = task.start_attempt(now)
    await store.save(started)
    done = started.fail("550 no such user", now)
    await store.save(done)
    return done


async def test_a_batch_is_stored_and_queued_in_order(backend: Backend) -> None:
    store = backend.make()
    tasks = tasks_of("billing", 5, backend.clock)

    assert await store.add_all(tasks) is None

    assert [await store.get(task.id) for task in tasks] == tasks
    assert await queued(backend) == [task.id for task in tasks]


async def test_a_recorded_key_returns_its_record_and_stores_nothing(backend: Backend) -> None:
    store = backend.make()
    claim = IdempotencyClaim("billing", "order-17", "f" * 64)
    first = tasks_of("billing", 2, backend.clock)
    second = tasks_of("billing", 2, backend.clock)

    assert await store.add_all(first, claim=claim) is None
    record = await store.add_all(second, claim=replace(claim, fingerprint="0" * 64))

    assert record == IdempotencyRecord("f" * 64, (first[0].id, first[1].id))
    with pytest.raises(TaskNotFound):
        await store.get(second[0].id)
    assert await queued(backend) == [task.id for task in first]


async def test_a_key_is_scoped_to_its_owner(backend: Backend) -> None:
    store = backend.make()
    for owner in ("billing", "reports", None):
        claim = IdempotencyClaim(owner, "same-key", "f" * 64)
        assert await store.add_all(tasks_of(owner, 1, backend.clock), claim=claim) is None


async def test_twenty_concurrent_adds_with_one_key_store_one_batch(backend: Backend) -> None:
    store = backend.make()
    claim = IdempotencyClaim("billing", "race", "f" * 64)
    batches = [tasks_of("billing", 2, backend.clock) for _ in range(20)]

    records = await asyncio.gather(*(store.add_all(batch, claim=claim) for batch in batches))

    [winner] = [batch for batch, record in zip(batches, records, strict=True) if record is None]
    winner_ids = tuple(task.id for task in winner)
    assert {record.task_ids for record in records if record is not None} == {winner_ids}
    assert await queued(backend) == list(winner_ids)
    assert sorted(await listed(store, "billing")) == sorted(winner_ids)


async def test_a_key_outlives_its_tasks_and_expires_on_its_own_ttl(backend: Backend) -> None:
    store = backend.make(ttl_s=TTL_S, idempotency_ttl_s=2 * TTL_S)
    claim = IdempotencyClaim(None, "k", "f" * 64)
    [task] = tasks_of(None, 1, backend.clock, step_s=0)
    await store.add_all([task], claim=claim)
    await finish(store, task, backend.clock())

    await backend.let_time_pass(TTL_S + 0.1)
    with pytest.raises(TaskNotFound):
        await store.get(task.id)
    assert await store.add_all(tasks_of(None, 1, backend.clock, step_s=0), claim=claim) is not None

    await backend.let_time_pass(TTL_S)
    assert await store.add_all(tasks_of(None, 1, backend.clock, step_s=0), claim=claim) is None


async def test_an_owner_lists_only_its_tasks_newest_first(backend: Backend) -> None:
    store = backend.make()
    billing, reports, anonymous = (tasks_of(o, 3, backend.clock) for o in ("billing", "b2", None))
    for batch in (billing, reports, anonymous):
        await store.add_all(batch)
    await store.add(replace(new_task(backend.clock()), owner="billing"))  # through add too
    latest = (await listed(store, "billing"))[0]

    assert await listed(store, "billing") == [latest, *(t.id for t in billing[::-1])]
    assert await listed(store, "b2") == [task.id for task in reports[::-1]]
    assert await listed(store, None) == [task.id for task in anonymous[::-1]]
    assert await listed(store, "nobody") == []


async def test_pages_follow_each_other_without_gaps_or_repeats(backend: Backend) -> None:
    store = backend.make()
    # Pairs created in the same microsecond: the order among them is by id, descending.
    tasks = []
    for _ in range(4):
        tasks += tasks_of("billing", 2, backend.clock, step_s=0)
        backend.clock.advance(1)
    await store.add_all(tasks)
    created = {task.id: task.created_at for task in tasks}
    expected = sorted(
        (task.id for task in tasks),
        key=lambda task_id: Position.of(task_id, created[task_id]),
        reverse=True,
    )

    seen: list[str] = []
    after = None
    while True:
        page = await store.list_tasks("billing", status=None, limit=3, after=after)
        seen += [task.id for task in page.tasks]
        if page.next is None:
            break
        assert len(page.tasks) == 3
        after = page.next

    assert seen == expected


async def test_listing_by_status_follows_every_transition(backend: Backend) -> None:
    store = backend.make(ttl_s=60)
    tasks = tasks_of("billing", 4, backend.clock)
    await store.add_all(tasks)
    now = backend.clock()
    processing = tasks[0].start_attempt(now)
    await store.save(processing)
    failed = await finish(store, tasks[1], now)
    requeued = await finish(store, tasks[2], now)
    await store.save(requeued.requeue(now))

    by_status = {s: await listed(store, "billing", status=s) for s in TaskStatus}

    assert by_status == {
        TaskStatus.PENDING: [tasks[3].id, tasks[2].id],
        TaskStatus.PROCESSING: [tasks[0].id],
        TaskStatus.COMPLETED: [],
        TaskStatus.FAILED: [failed.id],
    }
    [summary] = (
        await store.list_tasks("billing", status=TaskStatus.FAILED, limit=1, after=None)
    ).tasks
    assert (summary.status, summary.error, summary.owner) == (
        TaskStatus.FAILED,
        "550 no such user",
        "billing",
    )


async def test_expired_tasks_are_skipped(backend: Backend) -> None:
    store = backend.make()
    tasks = tasks_of("billing", 6, backend.clock)
    await store.add_all(tasks)
    for task in tasks[:4]:
        await finish(store, task, backend.clock())

    await backend.let_time_pass(TTL_S + 0.2)

    assert await listed(store, "billing") == [tasks[5].id, tasks[4].id]
    assert await listed(store, "billing", status=TaskStatus.FAILED) == []


@pytest.mark.parametrize("step_s", [1.0, 0.0], ids=["distinct-times", "same-microsecond"])
async def test_a_page_goes_on_after_its_last_task_changed_status(
    backend: Backend, step_s: float
) -> None:
    store = backend.make(ttl_s=60)
    tasks = tasks_of("billing", 4, backend.clock, step_s=step_s)
    tasks.sort(key=lambda task: Position.of(task.id, task.created_at))  # oldest first
    await store.add_all(tasks)
    failed = [await finish(store, task, backend.clock()) for task in tasks]
    first = await store.list_tasks("billing", status=TaskStatus.FAILED, limit=2, after=None)
    assert [task.id for task in first.tasks] == [tasks[3].id, tasks[2].id]

    await store.save(failed[2].requeue(backend.clock()))  # the cursor's task leaves the index
    second = await store.list_tasks("billing", status=TaskStatus.FAILED, limit=2, after=first.next)

    assert [task.id for task in second.tasks] == [tasks[1].id, tasks[0].id]
    assert second.next is None
