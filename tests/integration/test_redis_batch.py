"""``CoalescedScript`` against a Redis that hangs (SIGSTOP): each call keeps the bound of a
single command, and a call whose caller gave up before its group was sent never runs."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis_batch import CoalescedScript
from tests.integration.fixtures.redis_server import RedisProcess

TIMEOUT_S = 0.5
SET = "return redis.call('SET', KEYS[1], ARGV[1])"


@pytest_asyncio.fixture
async def client(restartable_redis: RedisProcess) -> AsyncIterator[Redis]:
    client = Redis.from_url(
        restartable_redis.url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
    )
    yield client
    await client.aclose()


async def test_a_call_queued_behind_a_hung_group_fails_within_its_own_timeout(
    restartable_redis: RedisProcess, client: Redis
) -> None:
    script = CoalescedScript(client, SET)
    await script(["warm"], ["1"])  # script loaded, connection open
    restartable_redis.pause()
    try:
        first = asyncio.ensure_future(script(["a"], ["1"]))
        await asyncio.sleep(TIMEOUT_S / 2)  # the first group is in flight, unanswered
        started = time.monotonic()
        with pytest.raises((RedisError, OSError)):
            await script(["b"], ["1"])
        waited = time.monotonic() - started
        with pytest.raises((RedisError, OSError)):
            await first
    finally:
        restartable_redis.resume()
    # Its own timeout, not the rest of the first group's and then its own (1.5 x TIMEOUT_S).
    assert waited < TIMEOUT_S * 1.3


async def test_a_call_given_up_before_its_group_was_sent_never_runs(
    restartable_redis: RedisProcess, client: Redis
) -> None:
    script = CoalescedScript(client, SET)
    await script(["warm"], ["1"])
    restartable_redis.pause()
    try:
        first = asyncio.ensure_future(script(["a"], ["1"]))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(script(["b"], ["1"]))
        await asyncio.sleep(0.05)
        second.cancel()  # e.g. its HTTP client went away
    finally:
        restartable_redis.resume()
    await first
    await asyncio.sleep(0.05)  # a flush of what was queued behind the first group, if any

    assert await client.get("a") == b"1"
    assert await client.get("b") is None
