"""Redis-only store semantics: what lands in Redis, atomicity, retried writes, outages."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from application.errors import StoreUnavailable
from application.ports import Lease
from tests.integration.fixtures.redis_server import RedisProcess
from tests.integration.store_helpers import KEYS, new_task, redis_queue, redis_store


async def queue_entries(client: Redis) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await client.xrange(KEYS.queue)]


async def test_add_writes_the_hash_and_the_stream_entry(redis_client: Redis) -> None:
    task = new_task()

    await redis_store(redis_client).add(task)

    stored = await redis_client.hgetall(KEYS.task(task.id))
    assert set(stored) == {b"version", b"status", b"email"}
    assert stored[b"version"] == b"1"
    assert await redis_client.ttl(KEYS.task(task.id)) == -1
    assert await queue_entries(redis_client) == [{b"task_id": task.id.encode()}]


async def test_adding_a_stored_task_again_changes_nothing(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    task = new_task()
    await store.add(task)
    started = task.start_attempt(task.created_at)
    await store.save(started)

    await store.add(task)

    assert await store.get(task.id) == started
    assert len(await queue_entries(redis_client)) == 1


async def test_an_add_that_fails_midway_writes_nothing(redis_client: Redis) -> None:
    await redis_client.set(KEYS.queue, "not a stream")
    task = new_task()

    with pytest.raises(StoreUnavailable):
        await redis_store(redis_client).add(task)

    assert await redis_client.exists(KEYS.task(task.id)) == 0


async def test_a_save_replayed_after_a_lost_reply_is_not_a_conflict(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client retries a command whose reply was lost; the write token tells it was ours.
    monkeypatch.setattr("adapters.redis_store.token_hex", lambda _: "one-write")
    store = redis_store(redis_client)
    task = new_task()
    await store.add(task)
    started = task.start_attempt(task.created_at)

    await store.save(started)
    await store.save(started)

    assert await store.get(task.id) == started


async def test_a_finished_task_key_expires_after_the_ttl(redis_client: Redis) -> None:
    store = redis_store(redis_client, ttl_s=60)
    task = new_task()
    await store.add(task)
    started = task.start_attempt(task.created_at)
    await store.save(started)
    assert await redis_client.pttl(KEYS.task(task.id)) == -1

    await store.save(started.fail("550 no such user", task.created_at))

    assert 59_000 < await redis_client.pttl(KEYS.task(task.id)) <= 60_000


async def test_a_retry_is_scheduled_at_its_time(redis_client: Redis) -> None:
    store = redis_store(redis_client)
    task = new_task()
    await store.add(task)
    started = task.start_attempt(task.created_at)
    await store.save(started)
    retry_at = task.created_at + timedelta(seconds=90.25)

    await store.save(started.reschedule("421 busy", retry_at, task.created_at))

    assert await redis_client.zscore(KEYS.delayed, task.id) == retry_at.timestamp()
    assert await redis_client.pttl(KEYS.task(task.id)) == -1


@pytest_asyncio.fixture
async def restartable_client(restartable_redis: RedisProcess) -> AsyncIterator[Redis]:
    # A few quick retries: the first command after a restart reconnects instead of failing, and a
    # Redis that is down is reported within a second (redis-py's default retries take ~4 s).
    client = Redis.from_url(
        restartable_redis.url,
        socket_connect_timeout=1,
        socket_timeout=1,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=2),
    )
    yield client
    await client.aclose()


async def test_every_call_fails_fast_with_store_unavailable_while_redis_is_down(
    restartable_redis: RedisProcess, restartable_client: Redis
) -> None:
    store, queue = redis_store(restartable_client), redis_queue(restartable_client)
    task = new_task()
    await store.add(task)
    [lease] = await queue.receive(1, 1.0)
    restartable_redis.stop()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.add(new_task()),
        lambda: store.get(task.id),
        lambda: store.summary(task.id),
        lambda: store.save(task.start_attempt(task.created_at)),
        lambda: queue.receive(1, 1.0),
        lambda: queue.ack(lease),
        lambda: queue.extend(lease),
        queue.ensure_group,
    ]

    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await call()
        assert time.monotonic() - started < 1.0


async def test_a_failed_add_leaves_nothing_behind(
    restartable_redis: RedisProcess, restartable_client: Redis
) -> None:
    task = new_task()
    restartable_redis.stop()

    with pytest.raises(StoreUnavailable):
        await redis_store(restartable_client).add(task)

    restartable_redis.start()
    assert await restartable_client.exists(KEYS.task(task.id), KEYS.queue) == 0


async def test_tasks_and_leases_survive_a_redis_crash(
    restartable_redis: RedisProcess, restartable_client: Redis
) -> None:
    store, queue = redis_store(restartable_client), redis_queue(restartable_client, "a")
    task = new_task()
    await queue.ensure_group()
    await store.add(task)
    [lease] = await queue.receive(1, 1.0)

    restartable_redis.kill()
    restartable_redis.start()
    await asyncio.sleep(0.3)  # past the visibility timeout: worker "a" died with Redis

    assert await store.get(task.id) == task
    assert await redis_queue(restartable_client, "b").receive(1, 0.0) == [
        Lease(task_id=task.id, entry_id=lease.entry_id, reclaimed=True)
    ]
    await store.save(task.start_attempt(task.created_at))  # its script is reloaded on NOSCRIPT
