"""Redis task store (``TaskStore``, ``TaskIntake`` and ``TaskListing`` ports): tasks in hashes,
queued on a Redis stream, indexed per owner in sorted sets.

A task lives in the hash ``RedisKeys.task(id)``: ``version`` (decimal), ``status`` (the status
JSON of ``adapters.codec``), ``email`` (the email JSON, written once by ``add``: no transition
changes it) and ``writer`` (the token of the last ``save``). Queuing is an ``XADD`` of
``{"task_id": id}`` to ``RedisKeys.queue``, read by ``RedisTaskQueue``. Idempotency records are
strings at ``RedisKeys.idempotency(owner, key)`` (``adapters.codec`` record JSON).

The client is a ``redis.asyncio.Redis`` owned by the caller, with or without
``decode_responses``. Every ``RedisError`` and ``OSError`` becomes ``StoreUnavailable``.
"""

from collections.abc import Sequence
from datetime import datetime
from secrets import token_hex
from typing import Any

from redis.asyncio import Redis

from adapters import redis_scripts as scripts
from adapters.codec import (
    email_to_json,
    record_from_json,
    record_to_json,
    status_to_json,
    summary_from_json,
    task_from_parts,
)
from adapters.redis_batch import CoalescedScript
from adapters.redis_queue import RedisTaskQueue
from adapters.redis_support import RedisKeys, as_text, unavailable_on_redis_errors
from application.errors import ConcurrentUpdate
from application.ports import IdempotencyClaim, IdempotencyRecord, Position, TaskPage, TaskSummary
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus

__all__ = ["RedisKeys", "RedisTaskQueue", "RedisTaskStore"]


class RedisTaskStore:
    """Tasks in Redis hashes; terminal ones expire ``ttl_s`` seconds after their last write;
    idempotency records expire ``idempotency_ttl_s`` seconds after they were written.

    Each task is also in its owner's indexes (``RedisKeys.tasks_of``): one for all its tasks and
    one per status, moved atomically with every write. An index entry whose task expired is
    skipped and removed by listings, and the oldest few entries are checked at every add, so
    indexes track the tasks kept without keeping an expiry of their own.

    Each method is one round trip, and each write is atomic. Scripts run by ``EVALSHA``; after a
    Redis restart emptied the script cache, the first call reloads the script (``NOSCRIPT``, then
    ``SCRIPT LOAD`` and ``EVALSHA`` again).
    """

    def __init__(
        self,
        *,
        client: Redis,
        keys: RedisKeys,
        ttl_s: float,
        idempotency_ttl_s: float = 24 * 3600,
        list_scan_extra: int = 1000,
    ) -> None:
        if ttl_s <= 0 or idempotency_ttl_s <= 0:
            raise ValueError("ttl_s and idempotency_ttl_s must be positive")
        self._client = client
        self._keys = keys
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._idempotency_ttl_ms = max(1, round(idempotency_ttl_s * 1000))
        self._list_scan_extra = list_scan_extra
        self._add = CoalescedScript(client, scripts.ADD_TASKS)
        self._read_status = CoalescedScript(client, scripts.READ_STATUS)
        self._read_task = CoalescedScript(client, scripts.READ_TASK)
        self._intake_indexes: dict[str | None, tuple[str, ...]] = {}  # per owner (API key)
        self._save = CoalescedScript(client, scripts.SAVE_TASK)
        self._list = client.register_script(scripts.LIST_TASKS)

    async def add(self, task: Task) -> None:
        """Store ``task`` and queue it, atomically (as ``add_all([task])``).

        An id that is already stored is left as it is, so that the client's retry after a lost
        reply neither queues the task twice nor overwrites a newer version.
        Raises ``StoreUnavailable``.
        """
        await self.add_all([task])

    async def add_all(
        self, tasks: Sequence[Task], *, claim: IdempotencyClaim | None = None
    ) -> IdempotencyRecord | None:
        """Store and queue ``tasks`` and write the claim's record in one Lua script (``GET`` the
        record; ``XADD`` each entry, then ``HSET`` each hash and ``ZADD`` it to its owner's
        indexes; ``SET ... PX`` the record): one round trip whatever the number of tasks.
        Raises ``StoreUnavailable``; a kept record that cannot be read raises ``ValueError``."""
        if not tasks:
            return None
        record_key = (
            self._keys.queue if claim is None else self._keys.idempotency(claim.owner, claim.key)
        )
        record = "" if claim is None else record_to_json(claim.fingerprint, [t.id for t in tasks])
        keys = [self._keys.queue, record_key]
        args: list[str | int | float] = [record, self._idempotency_ttl_ms, self._keys.task("")]
        for task in tasks:
            keys += self._task_keys(task)
            args += [
                task.id,
                task.version,
                status_to_json(task),
                email_to_json(task.email),
                Position.of(task.id, task.created_at).created_us,
            ]
        with unavailable_on_redis_errors():
            reply = await self._add(keys, args)
        if int(reply[0]) == 1:
            return None
        return record_from_json(reply[1])

    async def get(self, task_id: str) -> Task:
        """The stored task (``HMGET``, read together with concurrent calls' as ``summary``).
        Raises ``TaskNotFound``, ``StoreUnavailable``; a hash that ``adapters.codec`` cannot read
        raises ``ValueError``."""
        with unavailable_on_redis_errors():
            status, email = await self._read_task([self._keys.task(task_id)], ())
        if status is None or email is None:
            raise TaskNotFound(task_id)
        return task_from_parts(status, email)

    async def summary(self, task_id: str) -> TaskSummary:
        """The status part alone (``HGET``; the email is not read), read together with the
        concurrent requests' (Lua, ``redis_batch.CoalescedScript``: one ``EVALSHA`` per group).
        Raises ``TaskNotFound``, ``StoreUnavailable``; a status part ``adapters.codec`` cannot read
        raises ``ValueError``."""
        with unavailable_on_redis_errors():
            status = await self._read_status([self._keys.task(task_id)], ())
        if status is None:
            raise TaskNotFound(task_id)
        return summary_from_json(status)

    async def save(self, task: Task) -> None:
        """Compare-and-set the status part of ``task`` against version ``task.version - 1`` (Lua:
        ``HMGET``, ``HSET``), and in the same script ``ZADD`` a pending retry to the delayed set
        (score: ``next_attempt_at`` in epoch seconds) or ``PEXPIRE`` a terminal task after the TTL
        (any other status: ``PERSIST``), and move the task to its new status's owner index. The
        saves of concurrent deliveries share a round trip (``redis_batch.CoalescedScript``).

        Raises ``ConcurrentUpdate``, ``TaskNotFound``, ``StoreUnavailable``.
        """
        statuses = list(TaskStatus)
        keys = [
            self._keys.task(task.id),
            self._keys.delayed,
            *(self._keys.tasks_of(task.owner, status) for status in statuses),
        ]
        args: list[str | int | float] = [
            task.version - 1,
            task.version,
            token_hex(8),
            status_to_json(task),
            _retry_score(task),
            self._ttl_ms if task.is_terminal else "",
            task.id,
            3 + statuses.index(task.status),
            Position.of(task.id, task.created_at).created_us,
        ]
        with unavailable_on_redis_errors():
            outcome = await self._save(keys=keys, args=args)
        if outcome == scripts.MISSING:
            raise TaskNotFound(task.id)
        if outcome == scripts.CONFLICT:
            raise ConcurrentUpdate(task.id)

    async def list_tasks(
        self, owner: str | None, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> TaskPage:
        """One Lua script walks ``owner``'s index (``ZREVRANGEBYSCORE``), reads each task's status
        part (``HGET``) and removes entries whose task expired (``ZREM``). It looks at no more
        than ``limit + 1 + list_scan_extra`` entries, so a long run of expired ones yields a short
        page with a ``next`` position. Raises ``StoreUnavailable``; an unreadable status part
        raises ``ValueError``."""
        keys = [
            self._keys.tasks_of(owner, None if status is None else status.value),
            self._keys.tasks_of(owner),
            self._keys.tasks_of(owner, TaskStatus.COMPLETED.value),
            self._keys.tasks_of(owner, TaskStatus.FAILED.value),
        ]
        args: list[str | int | float] = [
            self._keys.task(""),
            limit,
            limit + 1 + self._list_scan_extra,
            "" if after is None else after.created_us,
            "" if after is None else after.task_id,
        ]
        with unavailable_on_redis_errors():
            reply = await self._list(keys=keys, args=args)
        return _page(reply)

    def _task_keys(self, task: Task) -> list[str]:
        indexes = self._intake_indexes.get(task.owner)
        if indexes is None:
            statuses = (TaskStatus.PENDING, TaskStatus.COMPLETED, TaskStatus.FAILED)
            indexes = self._intake_indexes[task.owner] = (
                self._keys.tasks_of(task.owner),
                *(self._keys.tasks_of(task.owner, status.value) for status in statuses),
            )
        return [self._keys.task(task.id), *indexes]


def _page(reply: Sequence[Any]) -> TaskPage:
    next_score, next_id = as_text(reply[0]), as_text(reply[1])
    tasks = tuple(summary_from_json(status) for status in reply[3::2])
    if not next_score:
        return TaskPage(tasks, None)
    return TaskPage(tasks, Position(int(float(next_score)), next_id))


def _retry_score(task: Task) -> float | str:
    due: datetime | None = task.next_attempt_at
    if task.status is TaskStatus.PENDING and due is not None:
        return due.timestamp()
    return ""
