"""How the container's Redis client retries a failed call (no sockets: the connection is built,
never connected)."""

from contextlib import asynccontextmanager

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from entrypoints.container import open_redis


async def calls_made(error: type[RedisError]) -> int:
    """How many times the client's connection makes a call that always raises ``error``."""
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise error("simulated")

    async def ignore(_: Exception) -> None:
        pass

    async with asynccontextmanager(open_redis)("redis://127.0.0.1:6379/0", 1.0) as client:
        retry = client.connection_pool.make_connection().retry
        with pytest.raises(error):
            await retry.call_with_retry(failing, ignore)
    return calls


async def test_a_dropped_connection_is_retried_once() -> None:
    assert await calls_made(RedisConnectionError) == 2


async def test_a_timed_out_call_is_not_retried_so_the_timeout_bounds_it() -> None:
    assert await calls_made(RedisTimeoutError) == 1
