"""Redis-only queue semantics: leases, visibility timeout, reclaim, ownership, lost groups, and
the reply shapes of every client flavour."""

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.redis_store import RedisTaskQueue, RedisTaskStore
from application.ports import Lease
from domain.errors import TaskNotFound
from tests.integration.store_helpers import KEYS, ManualClock, new_task, redis_queue, redis_store

VISIBILITY_S = 0.2


async def queued(store: RedisTaskStore, count: int = 1) -> list[str]:
    tasks = [new_task() for _ in range(count)]
    for task in tasks:
        await store.add(task)
    return [task.id for task in tasks]


async def owner(client: Redis, lease: Lease) -> str | None:
    pending: list[dict[str, Any]] = await client.xpending_range(
        KEYS.queue, KEYS.group, min=lease.entry_id, max=lease.entry_id, count=1
    )
    return pending[0]["consumer"].decode() if pending else None


async def started_queues(
    client: Redis, *names: str, visibility_timeout_s: float = VISIBILITY_S
) -> list[RedisTaskQueue]:
    queues = [
        redis_queue(client, name, visibility_timeout_s=visibility_timeout_s) for name in names
    ]
    await queues[0].ensure_group()
    return queues


async def test_a_lease_left_past_the_visibility_timeout_is_reclaimed(redis_client: Redis) -> None:
    [task_id] = await queued(redis_store(redis_client))
    a, b = await started_queues(redis_client, "a", "b")
    [lease] = await a.receive(1, 1.0)
    assert await b.receive(1, 0.0) == []

    await asyncio.sleep(VISIBILITY_S + 0.1)
    [taken] = await b.receive(1, 0.0)

    assert taken == Lease(task_id=task_id, entry_id=lease.entry_id, reclaimed=True)
    assert await owner(redis_client, lease) == "b"


async def test_an_extended_lease_is_not_reclaimed(redis_client: Redis) -> None:
    await queued(redis_store(redis_client))
    a, b = await started_queues(redis_client, "a", "b", visibility_timeout_s=0.4)
    [lease] = await a.receive(1, 1.0)

    for _ in range(6):  # 0.6 s in all, extended every 0.1 s
        await asyncio.sleep(0.1)
        await a.extend(lease)
        assert await b.receive(1, 0.0) == []
    assert await owner(redis_client, lease) == "a"


async def test_a_worker_that_lost_its_lease_cannot_extend_or_ack_it(redis_client: Redis) -> None:
    await queued(redis_store(redis_client))
    a, b = await started_queues(redis_client, "a", "b")
    [lease] = await a.receive(1, 1.0)
    await asyncio.sleep(VISIBILITY_S + 0.1)
    [taken] = await b.receive(1, 0.0)

    await a.extend(lease)
    await a.ack(lease)

    assert await owner(redis_client, lease) == "b"
    assert await redis_client.xlen(KEYS.queue) == 1
    await b.ack(taken)
    assert await redis_client.xlen(KEYS.queue) == 0


async def test_ack_removes_the_entry_from_the_stream_and_the_pending_list(
    redis_client: Redis,
) -> None:
    await queued(redis_store(redis_client), count=2)
    [queue] = await started_queues(redis_client, "a")
    leases = await queue.receive(2, 1.0)

    for lease in leases:
        await queue.ack(lease)

    assert await redis_client.xlen(KEYS.queue) == 0
    assert (await redis_client.xpending(KEYS.queue, KEYS.group))["pending"] == 0


async def test_reclaiming_resumes_its_scan_across_a_long_pending_list(redis_client: Redis) -> None:
    # XAUTOCLAIM ... COUNT 1 looks at no more than 10 pending entries per call: the 20 live leases
    # in front hide the abandoned ones unless each call resumes where the last one stopped.
    await queued(redis_store(redis_client), count=25)
    a, b = await started_queues(redis_client, "a", "b", visibility_timeout_s=0.5)
    leases = await a.receive(25, 1.0)
    await asyncio.sleep(0.6)
    for live in leases[:20]:
        await a.extend(live)

    taken = [lease for _ in range(3) for lease in await b.receive(1, 0.0)]

    assert [lease.entry_id for lease in taken] == [leases[20].entry_id]
    assert taken[0].reclaimed


async def test_an_entry_whose_task_is_gone_is_still_handed_out(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    [task_id] = await queued(store)
    await redis_client.delete(KEYS.task(task_id))
    [queue] = await started_queues(redis_client, "a")

    [lease] = await queue.receive(1, 1.0)

    assert lease.task_id == task_id
    with pytest.raises(TaskNotFound):
        await store.get(task_id)


async def test_a_lost_consumer_group_is_recreated(redis_client: Redis) -> None:
    # Redis restarted without persistence: the stream, its group and its pending list are gone.
    store = redis_store(redis_client)
    await queued(store)
    [queue] = await started_queues(redis_client, "a")
    [old] = await queue.receive(1, 1.0)
    await redis_client.flushdb()
    [task_id] = await queued(store)

    [lease] = await queue.receive(1, 1.0)
    await queue.extend(old)
    await queue.ack(old)

    assert lease.task_id == task_id
    await queue.ack(lease)
    assert await redis_client.xlen(KEYS.queue) == 0


async def test_due_retries_are_moved_to_the_stream_once(redis_client: Redis) -> None:
    clock = ManualClock()
    due_at = clock().timestamp()
    await redis_client.zadd(KEYS.delayed, {"task-1": due_at, "task-2": due_at + 5})
    [a] = await started_queues(redis_client, "a")
    b = redis_queue(redis_client, "b", clock=clock)

    [lease] = await b.receive(10, 0.0)

    assert lease.task_id == "task-1"
    assert await a.receive(10, 0.0) == []
    assert await redis_client.zrange(KEYS.delayed, 0, -1) == [b"task-2"]


async def test_waiting_stays_under_the_client_socket_timeout(redis_url: str) -> None:
    client = Redis.from_url(redis_url, socket_timeout=0.4)
    try:
        [queue] = await started_queues(client, "a")
        started = time.monotonic()

        assert await queue.receive(1, 5.0) == []
        assert time.monotonic() - started < 1.0
    finally:
        await client.aclose()


CLIENT_FLAVOURS = [
    {"decode_responses": True},
    {"legacy_responses": False},
    {"protocol": 3},
    {"protocol": 3, "decode_responses": True},
    {"protocol": 3, "legacy_responses": False},
]


@pytest.mark.parametrize("options", CLIENT_FLAVOURS, ids=repr)
async def test_any_client_flavour_works(redis_url: str, options: dict[str, Any]) -> None:
    client = Redis.from_url(redis_url, **options)
    try:
        await client.flushdb()
        store, a, b = redis_store(client), redis_queue(client, "a"), redis_queue(client, "b")
        await a.ensure_group()
        task = new_task()
        await store.add(task)
        [lease] = await a.receive(1, 1.0)
        await store.save(task.start_attempt(task.created_at))
        await asyncio.sleep(0.3)
        [taken] = await b.receive(1, 1.0)
        await b.ack(taken)

        assert (lease.task_id, taken.entry_id, taken.reclaimed) == (task.id, lease.entry_id, True)
        assert (await store.get(task.id)).attempts == 1
        assert await client.xlen(KEYS.queue) == 0
    finally:
        await client.aclose()
