"""Redis-only intake and listing semantics: round trips, atomicity, index upkeep."""

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from application.errors import StoreUnavailable
from application.ports import IdempotencyClaim, TaskSummary
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus
from tests.integration.store_helpers import (
    KEYS,
    count_round_trips,
    new_task,
    redis_queue,
    redis_store,
)

TTL_S = 0.3


def owned(n: int, owner: str | None = "billing") -> list[Task]:
    return [replace(new_task(), owner=owner) for _ in range(n)]


async def command_calls(client: Redis, command: str) -> int:
    stats = await client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_batch_of_500_is_one_round_trip(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = redis_store(redis_client)
    await store.add(new_task())  # loads the script
    xadds_before = await command_calls(redis_client, "xadd")
    sent = count_round_trips(redis_client, monkeypatch)

    await store.add_all(owned(500), claim=IdempotencyClaim("billing", "k", "f" * 64))

    assert sent == [["EVALSHA"]]
    monkeypatch.undo()
    assert await command_calls(redis_client, "xadd") - xadds_before == 500
    assert await redis_client.xlen(KEYS.queue) == 501


async def test_a_batch_that_fails_midway_stores_nothing(redis_client: Redis) -> None:
    await redis_client.set(KEYS.queue, "not a stream")
    tasks = owned(3)
    claim = IdempotencyClaim("billing", "k", "f" * 64)

    with pytest.raises(StoreUnavailable):
        await redis_store(redis_client).add_all(tasks, claim=claim)

    assert await redis_client.exists(*(KEYS.task(task.id) for task in tasks)) == 0
    assert await redis_client.exists(KEYS.idempotency("billing", "k")) == 0
    assert await redis_client.exists(KEYS.tasks_of("billing")) == 0


async def test_the_record_expires_on_its_own_ttl(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    store = type(store)(client=redis_client, keys=KEYS, ttl_s=60, idempotency_ttl_s=90)

    await store.add_all(owned(1), claim=IdempotencyClaim("billing", "k", "f" * 64))

    assert 89_000 < await redis_client.pttl(KEYS.idempotency("billing", "k")) <= 90_000


async def test_indexes_hold_each_task_once_under_its_status(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    [task, other] = owned(2)
    await store.add_all([task, other])
    started = task.start_attempt(task.created_at)
    await store.save(started)
    await store.save(started.fail("550", task.created_at))

    members = {
        status: await redis_client.zrange(KEYS.tasks_of("billing", status.value), 0, -1)
        for status in TaskStatus
    }
    assert members == {
        TaskStatus.PENDING: [other.id.encode()],
        TaskStatus.PROCESSING: [],
        TaskStatus.COMPLETED: [],
        TaskStatus.FAILED: [task.id.encode()],
    }
    assert await redis_client.zcard(KEYS.tasks_of("billing")) == 2


async def expired_failures(redis_client: Redis, n: int) -> tuple[list[Task], list[Task]]:
    """``n`` tasks that failed and expired, then two live ones (all owned by billing)."""
    store = redis_store(redis_client, ttl_s=TTL_S)
    tasks = owned(n)
    await store.add_all(tasks)
    for task in tasks:
        started = task.start_attempt(task.created_at)
        await store.save(started)
        await store.save(started.fail("550", task.created_at))
    await asyncio.sleep(TTL_S + 0.2)
    later = tasks[-1].created_at + timedelta(seconds=1)
    live = [replace(new_task(later), owner="billing") for _ in range(2)]
    return tasks, live


async def test_a_listing_forgets_the_entries_of_expired_tasks(redis_client: Redis) -> None:
    store = redis_store(redis_client, ttl_s=TTL_S)
    await expired_failures(redis_client, 5)
    assert await redis_client.zcard(KEYS.tasks_of("billing", "failed")) == 5

    page = await store.list_tasks("billing", status=TaskStatus.FAILED, limit=10, after=None)

    assert (page.tasks, page.next) == ((), None)
    assert await redis_client.zcard(KEYS.tasks_of("billing", "failed")) == 0
    assert await redis_client.zcard(KEYS.tasks_of("billing")) == 0


async def test_adding_tasks_forgets_the_oldest_expired_entries(redis_client: Redis) -> None:
    store = redis_store(redis_client, ttl_s=TTL_S)
    _, live = await expired_failures(redis_client, 6)

    await store.add_all(live)

    assert await redis_client.zrange(KEYS.tasks_of("billing"), 0, -1) == sorted(
        task.id.encode() for task in live
    )
    assert await redis_client.zcard(KEYS.tasks_of("billing", "failed")) == 0


async def test_a_long_run_of_expired_entries_gives_short_pages_that_go_on(
    redis_client: Redis,
) -> None:
    store = type(redis_store(redis_client))(
        client=redis_client, keys=KEYS, ttl_s=60, list_scan_extra=3
    )
    # Older than the tasks that will expire: a listing reaches them only past those.
    older = [replace(task, created_at=task.created_at.replace(year=2020)) for task in owned(2)]
    await store.add_all(older)
    await expired_failures(redis_client, 12)

    pages, after = [], None
    while True:
        page = await store.list_tasks("billing", status=None, limit=1, after=after)
        pages.append([task.id for task in page.tasks])
        if page.next is None:
            break
        after = page.next

    newest_first = sorted((task.id for task in older), key=lambda i: i, reverse=True)
    assert [task_id for page in pages for task_id in page] == newest_first
    assert pages[:2] == [[], []]  # each call looks at no more than limit + 1 + 3 entries
    assert await redis_client.zcard(KEYS.tasks_of("billing")) == 2


async def test_concurrent_intakes_share_round_trips_and_each_gets_its_own_answer(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = redis_store(redis_client)
    await store.add(new_task())  # loads the script
    sent = count_round_trips(redis_client, monkeypatch)
    tasks = owned(50)

    await asyncio.gather(*(store.add(task) for task in tasks))

    assert all(trip == ["EVALSHA"] for trip in sent)
    assert len(sent) < 50  # group commit: calls made together travel in one script call
    stored = await asyncio.gather(*(store.get(task.id) for task in tasks))
    assert [task.id for task in stored] == [task.id for task in tasks]
    assert await redis_client.xlen(KEYS.queue) == 51


async def test_concurrent_status_reads_share_round_trips_and_each_gets_its_own_task(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = redis_store(redis_client)
    tasks = owned(30)
    await store.add_all(tasks)
    started = tasks[7].start_attempt(tasks[7].created_at)
    await store.save(started)
    with pytest.raises(TaskNotFound):
        await store.summary("no-such-task")  # loads the script
    sent = count_round_trips(redis_client, monkeypatch)

    wanted = [task.id for task in tasks] + ["no-such-task"]
    results = await asyncio.gather(*(store.summary(i) for i in wanted), return_exceptions=True)

    assert all(trip == ["EVALSHA"] for trip in sent)
    assert len(sent) < len(wanted)  # read together, not one round trip each
    summaries = [result for result in results if isinstance(result, TaskSummary)]
    assert [summary.id for summary in summaries] == [task.id for task in tasks]
    assert results[7] == TaskSummary.of(started)
    assert isinstance(results[-1], TaskNotFound)


async def test_concurrent_deliveries_share_round_trips_for_reads_saves_and_acks(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, queue = redis_store(redis_client), redis_queue(redis_client)
    await queue.ensure_group()
    first, *tasks = owned(21)
    await store.add_all([first, *tasks])
    first_lease, *leases = await queue.receive(21, 1.0)
    # One call of each first: each script is loaded once (NOSCRIPT, SCRIPT LOAD, EVALSHA).
    await store.save((await store.get(first.id)).start_attempt(first.created_at))
    await queue.ack(first_lease)
    sent = count_round_trips(redis_client, monkeypatch)

    read = await asyncio.gather(*(store.get(task.id) for task in tasks))
    started = [task.start_attempt(task.created_at) for task in read]
    await asyncio.gather(*(store.save(task) for task in started))
    await asyncio.gather(*(queue.ack(lease) for lease in leases))
    trips = list(sent)

    assert all(trip == ["EVALSHA"] for trip in trips)
    assert len(trips) < 3 * 20 / 2  # 60 calls: at most about one round trip in two
    assert read == tasks
    assert [(await store.get(task.id)).status for task in tasks] == [TaskStatus.PROCESSING] * 20
    assert await redis_client.xlen(KEYS.queue) == 0  # every entry acknowledged and deleted


async def test_a_call_that_fails_in_a_group_fails_alone(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    await store.add(new_task())  # loads the script
    await redis_client.set(KEYS.tasks_of("broken"), "not a sorted set")  # its ZADD fails
    good, bad = owned(10), owned(1, owner="broken")

    results = await asyncio.gather(
        *(store.add(task) for task in [*good[:5], *bad, *good[5:]]), return_exceptions=True
    )

    assert [type(result) for result in results] == [type(None)] * 5 + [StoreUnavailable] + [
        type(None)
    ] * 5
    stored = await asyncio.gather(*(store.get(task.id) for task in good))
    assert [task.id for task in stored] == [task.id for task in good]


async def test_a_script_forgotten_by_a_restarted_server_is_loaded_again(
    redis_client: Redis,
) -> None:
    store = redis_store(redis_client)
    await store.add(new_task())
    await redis_client.script_flush()
    task = new_task()

    await asyncio.gather(store.add(task), store.add(new_task()))

    assert (await store.get(task.id)).id == task.id
