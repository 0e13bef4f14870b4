"""Redis task store (``TaskStore`` port): tasks in hashes, queued on a Redis stream.

A task lives in the hash ``RedisKeys.task(id)``: ``version`` (decimal), ``status`` (the status
JSON of ``adapters.codec``), ``email`` (the email JSON, written once by ``add``: no transition
changes it) and ``writer`` (the token of the last ``save``). Queuing is an ``XADD`` of
``{"task_id": id}`` to ``RedisKeys.queue``, read by ``RedisTaskQueue``.

The client is a ``redis.asyncio.Redis`` owned by the caller, with or without
``decode_responses``. Every ``RedisError`` and ``OSError`` becomes ``StoreUnavailable``.
"""

from datetime import datetime
from secrets import token_hex

from redis.asyncio import Redis

from adapters import redis_scripts as scripts
from adapters.codec import email_to_json, status_to_json, task_from_parts
from adapters.redis_queue import RedisTaskQueue
from adapters.redis_support import RedisKeys, unavailable_on_redis_errors
from application.errors import ConcurrentUpdate
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus

__all__ = ["RedisKeys", "RedisTaskQueue", "RedisTaskStore"]


class RedisTaskStore:
    """Tasks in Redis hashes; terminal ones expire ``ttl_s`` seconds after their last write.

    Each method is one round trip, and each write is atomic. Scripts run by ``EVALSHA``; after a
    Redis restart emptied the script cache, the first call reloads the script (``NOSCRIPT``, then
    ``SCRIPT LOAD`` and ``EVALSHA`` again).
    """

    def __init__(self, *, client: Redis, keys: RedisKeys, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._client = client
        self._keys = keys
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._add = client.register_script(scripts.ADD_TASK)
        self._save = client.register_script(scripts.SAVE_TASK)

    async def add(self, task: Task) -> None:
        """Store ``task`` and queue it, atomically (Lua: ``XADD``, then ``HSET``).

        An id that is already stored is left as it is, so that the client's retry after a lost
        reply neither queues the task twice nor overwrites a newer version.
        Raises ``StoreUnavailable``.
        """
        keys = [self._keys.task(task.id), self._keys.queue]
        args: list[str | int | float] = [
            task.id,
            task.version,
            status_to_json(task),
            email_to_json(task.email),
        ]
        with unavailable_on_redis_errors():
            await self._add(keys=keys, args=args)

    async def get(self, task_id: str) -> Task:
        """The stored task (``HMGET``). Raises ``TaskNotFound``, ``StoreUnavailable``; a hash that
        ``adapters.codec`` cannot read raises ``ValueError``."""
        with unavailable_on_redis_errors():
            status, email = await self._client.hmget(self._keys.task(task_id), ["status", "email"])
        if status is None or email is None:
            raise TaskNotFound(task_id)
        return task_from_parts(status, email)

    async def save(self, task: Task) -> None:
        """Compare-and-set the status part of ``task`` against version ``task.version - 1`` (Lua:
        ``HMGET``, ``HSET``), and in the same script ``ZADD`` a pending retry to the delayed set
        (score: ``next_attempt_at`` in epoch seconds) or ``PEXPIRE`` a terminal task after the TTL
        (any other status: ``PERSIST``).

        Raises ``ConcurrentUpdate``, ``TaskNotFound``, ``StoreUnavailable``.
        """
        keys = [self._keys.task(task.id), self._keys.delayed]
        args: list[str | int | float] = [
            task.version - 1,
            task.version,
            token_hex(8),
            status_to_json(task),
            _retry_score(task),
            self._ttl_ms if task.is_terminal else "",
            task.id,
        ]
        with unavailable_on_redis_errors():
            outcome = await self._save(keys=keys, args=args)
        if outcome == scripts.MISSING:
            raise TaskNotFound(task.id)
        if outcome == scripts.CONFLICT:
            raise ConcurrentUpdate(task.id)


def _retry_score(task: Task) -> float | str:
    due: datetime | None = task.next_attempt_at
    if task.status is TaskStatus.PENDING and due is not None:
        return due.timestamp()
    return ""
