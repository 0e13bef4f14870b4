"""``MAILROOM_RATE_LIMIT``: at most N requests per period and caller, else 429 with Retry-After.

The counting is the ``limits`` library's moving window (every request of the last period counts,
so there is no burst at window edges): in memory mode in the process, in Redis mode in Redis
(keys ``{MAILROOM_KEY_PREFIX}ratelimit:*``), shared by every API process. With no limit set the
app installs no dependency at all, so requests pay nothing for the feature.

The caller is the API key (``caller_key``). If Redis cannot be reached the request
gets the store's 503 (``StoreUnavailable``), like any other Redis failure.
"""

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from application.errors import StoreUnavailable

OwnerDependency = Callable[..., Awaitable[str | None]]
"""The auth dependency (``entrypoints.api.auth.current_owner``): the API key's name, or None."""


class RateLimited(HTTPException):
    """429 Too Many Requests (RFC 6585 §4) with ``Retry-After`` in whole seconds (RFC 9110
    §10.2.3)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429, "rate limit exceeded, retry later", headers={"Retry-After": str(retry_after_s)}
        )


class RateLimit:
    """``limit`` (``limits`` notation, such as ``"100/second"``) per caller key in ``storage``."""

    def __init__(self, *, limit: str, storage: Storage) -> None:
        self.item: RateLimitItem = parse(limit)
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, key: str) -> None:
        """Count one request of ``key``. Raises ``RateLimited`` when it is over the limit (the
        refused request is not counted) and ``StoreUnavailable`` when Redis fails."""
        try:
            if await self._limiter.hit(self.item, key):
                return
            stats = await self._limiter.get_window_stats(self.item, key)
        except (RedisError, OSError, StorageError) as exc:
            raise StoreUnavailable(f"rate limit store: {exc or type(exc).__name__}") from exc
        raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))


def caller_key(request: Request, owner: str | None) -> str:
    """The identity a limit applies to: the API key's name (``key:<name>``); while the API is
    open (no keys configured), the client's IP address (``ip:<address>``, ``ip:unknown`` when
    the server does not know it)."""
    if owner is not None:
        return f"key:{owner}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


def rate_limit_dependencies(
    limit: Callable[[], Awaitable[RateLimit | None]], owner: OwnerDependency
) -> list[Any]:
    """The FastAPI dependency that counts each request against ``limit()`` (the container's
    resource; None means no limit), keyed by ``caller_key``. ``owner`` is the auth dependency:
    FastAPI runs it once per request, before this one, so a request refused with 401 is not
    counted. Install it only when a limit is set."""

    async def rate_limited(request: Request, caller: Annotated[str | None, Depends(owner)]) -> None:
        current = await limit()
        if current is not None:
            await current.hit(caller_key(request, caller))

    return [Depends(rate_limited)]


def redis_storage_uri(redis_url: str) -> str:
    """The ``limits`` async storage URI for a redis-py URL (``redis://``, ``rediss://``,
    ``unix://``)."""
    scheme, sep, rest = redis_url.partition("://")
    return f"async+{'redis+unix' if scheme == 'unix' else scheme}{sep}{rest}"


async def open_rate_limit(
    *, limit: str | None, store: str, redis_url: str, timeout_s: float, key_prefix: str
) -> AsyncIterator[RateLimit | None]:
    """Container resource: the rate limit (None when ``limit`` is None). In Redis mode its
    connection pool (every call bounded by ``timeout_s``) is closed at exit."""
    if limit is None:
        yield None
        return
    if store != "redis":
        yield RateLimit(limit=limit, storage=MemoryStorage())
        return
    pool = ConnectionPool.from_url(
        redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
    )
    storage = RedisStorage(
        redis_storage_uri(redis_url),
        implementation="redispy",
        key_prefix=f"{key_prefix}ratelimit",
        connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis.asyncio.Redis
    )
    try:
        yield RateLimit(limit=limit, storage=storage)
    finally:
        await pool.aclose()
