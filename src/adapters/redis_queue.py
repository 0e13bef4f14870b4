"""Redis delivery queue (``TaskQueue`` port): a stream read through one consumer group.

Entries are ``{"task_id": id}`` on ``RedisKeys.queue``, written by ``RedisTaskStore.add`` and by
the promotion of due retries from ``RedisKeys.delayed``. An entry read by a worker stays in the
group's pending list until acknowledged; one idle longer than the visibility timeout is claimed by
another worker (``XAUTOCLAIM``). Every ``RedisError`` and ``OSError`` becomes ``StoreUnavailable``.
"""

import math
import time
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from adapters import redis_scripts as scripts
from adapters.redis_batch import CoalescedScript
from adapters.redis_support import (
    RedisKeys,
    as_text,
    entry_pairs,
    is_error,
    stream_entries,
    unavailable_on_redis_errors,
)
from application.ports import Clock, Lease

_SCAN_DONE = "0-0"


class RedisTaskQueue:
    """The delivery stream as seen by the worker ``consumer`` (a name unique per worker process).

    ``visibility_timeout_s``: how long a lease may stay idle (neither acknowledged nor extended)
    before another consumer takes it over. ``promote_every_s`` and ``reclaim_every_s`` bound how
    often ``receive`` looks for due retries and for abandoned entries; ``promote_batch`` caps the
    retries moved per look. ``clock`` decides when a retry is due.

    Blocking reads are kept under half the client's ``socket_timeout``, so that waiting for
    entries never reads as a timed-out connection.
    """

    def __init__(
        self,
        *,
        client: Redis,
        keys: RedisKeys,
        consumer: str,
        clock: Clock,
        visibility_timeout_s: float,
        promote_every_s: float = 0.25,
        reclaim_every_s: float = 1.0,
        promote_batch: int = 100,
    ) -> None:
        self._client = client
        self._keys = keys
        self._consumer = consumer
        self._clock = clock
        self._visibility_ms = max(1, round(visibility_timeout_s * 1000))
        self._promote_every = _Every(promote_every_s)
        self._reclaim_every = _Every(reclaim_every_s)
        self._promote_batch = promote_batch
        self._reclaim_cursor = _SCAN_DONE
        self._max_block_s = _max_block_s(client)
        self._promote: AsyncScript = client.register_script(scripts.PROMOTE_DUE)
        self._ack = CoalescedScript(client, scripts.ACK_IF_OWNER)
        self._extend: AsyncScript = client.register_script(scripts.EXTEND_IF_OWNER)

    async def ensure_group(self) -> None:
        """Create the consumer group, reading the stream from its start, and the stream if missing
        (``XGROUP CREATE <queue> <group> 0 MKSTREAM``); an existing group is kept.
        Raises ``StoreUnavailable``."""
        with unavailable_on_redis_errors():
            await self._create_group()

    async def receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        """Up to ``max_count`` leases: reclaimed ones (``reclaimed=True``) first, then new entries.

        First moves due retries to the stream (Lua: ``ZRANGEBYSCORE``, ``XADD``, ``ZREM``), then
        claims entries idle past the visibility timeout (``XAUTOCLAIM``, resuming the previous
        scan's cursor), then reads new entries (``XREADGROUP ... >``), blocking up to ``wait_s``
        seconds only when nothing else was found. A missing group (``NOGROUP``: Redis lost its
        data) is recreated. Raises ``StoreUnavailable``.
        """
        if max_count < 1:
            return []
        with unavailable_on_redis_errors():
            await self._promote_due()
            try:
                return await self._lease(max_count, wait_s)
            except ResponseError as exc:
                if not is_error(exc, "NOGROUP"):
                    raise
            await self._create_group()
            return await self._lease(max_count, wait_s)

    async def ack(self, lease: Lease) -> None:
        """Acknowledge and delete the entry (Lua: ``XPENDING``, ``XACK``, ``XDEL``), if this
        consumer still holds it: an entry another worker reclaimed stays with that worker. The
        acknowledgements of concurrent deliveries share a round trip
        (``redis_batch.CoalescedScript``). Raises ``StoreUnavailable``."""
        await self._if_owner(self._ack, lease)

    async def extend(self, lease: Lease) -> None:
        """Restart the entry's visibility timeout (Lua: ``XPENDING``, ``XCLAIM ... 0 <id> JUSTID``)
        if this consumer still holds it; never takes back an entry another worker reclaimed.
        Raises ``StoreUnavailable``."""
        await self._if_owner(self._extend, lease)

    async def _create_group(self) -> None:
        try:
            await self._client.xgroup_create(
                self._keys.queue, self._keys.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if not is_error(exc, "BUSYGROUP"):
                raise

    async def _promote_due(self) -> None:
        if self._promote_every.due():
            now_s = self._clock().timestamp()
            keys = [self._keys.delayed, self._keys.queue]
            await self._promote(keys=keys, args=[now_s, self._promote_batch])

    async def _lease(self, max_count: int, wait_s: float) -> list[Lease]:
        leases = await self._reclaim(max_count)
        if len(leases) < max_count:
            leases += await self._read_new(max_count - len(leases), 0.0 if leases else wait_s)
        return leases

    async def _reclaim(self, count: int) -> list[Lease]:
        # A scan in progress goes on at the next call; a new one starts at most every interval.
        if self._reclaim_cursor == _SCAN_DONE and not self._reclaim_every.due():
            return []
        reply = await self._client.xautoclaim(
            self._keys.queue,
            self._keys.group,
            self._consumer,
            self._visibility_ms,
            start_id=self._reclaim_cursor,
            count=count,
        )
        self._reclaim_cursor = as_text(reply[0])
        return [
            Lease(task_id=task_id, entry_id=entry_id, reclaimed=True)
            for entry_id, task_id in entry_pairs(reply[1])
        ]

    async def _read_new(self, count: int, wait_s: float) -> list[Lease]:
        reply = await self._client.xreadgroup(
            self._keys.group,
            self._consumer,
            {self._keys.queue: ">"},
            count=count,
            block=self._block_ms(wait_s),
        )
        return [
            Lease(task_id=task_id, entry_id=entry_id) for entry_id, task_id in stream_entries(reply)
        ]

    def _block_ms(self, wait_s: float) -> int | None:
        """BLOCK milliseconds, or None for no BLOCK at all (``BLOCK 0`` would wait forever)."""
        wait_s = min(wait_s, self._max_block_s)
        return max(1, round(wait_s * 1000)) if wait_s > 0 else None

    async def _if_owner(self, script: AsyncScript | CoalescedScript, lease: Lease) -> None:
        args = [self._keys.group, lease.entry_id, self._consumer]
        with unavailable_on_redis_errors():
            try:
                await script(keys=[self._keys.queue], args=args)
            except ResponseError as exc:
                # The group is gone (Redis lost its data): so is the lease.
                if not is_error(exc, "NOGROUP"):
                    raise


class _Every:
    """Says yes at most once every ``interval_s`` seconds (monotonic time)."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._last = -math.inf

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return False
        self._last = now
        return True


def _max_block_s(client: Redis) -> float:
    socket_timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
    return socket_timeout / 2 if socket_timeout else math.inf
