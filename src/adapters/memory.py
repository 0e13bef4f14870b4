"""In-memory task store and queue: the embedded default, for one process.

Nothing survives the process: tasks still queued when it stops are lost (Redis mode keeps them).
Terminal tasks are forgotten ``ttl_s`` seconds after they finished.
"""

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from application.errors import ConcurrentUpdate
from application.ports import Clock, Lease
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus


class InMemoryTaskQueue:
    """An asyncio queue of entries, a heap of delayed retries and a table of leases
    (``TaskQueue`` port), with the same at-least-once semantics as the Redis queue inside one
    process: a lease not acknowledged within ``visibility_timeout_s`` seconds is handed out again,
    marked reclaimed.
    """

    def __init__(self, *, clock: Clock, visibility_timeout_s: float = 60.0) -> None:
        self._clock = clock
        self._visibility = timedelta(seconds=visibility_timeout_s)
        self._ready: asyncio.Queue[Lease] = asyncio.Queue()
        self._delayed: list[tuple[datetime, int, str]] = []
        self._leased: dict[str, tuple[datetime, Lease]] = {}
        self._entry_ids = itertools.count(1)

    def put(self, task_id: str) -> None:
        self._ready.put_nowait(self._entry(task_id))

    def put_later(self, task_id: str, due: datetime) -> None:
        heapq.heappush(self._delayed, (due, next(self._entry_ids), task_id))

    def __len__(self) -> int:
        """Entries not yet acknowledged: ready, delayed or leased."""
        return self._ready.qsize() + len(self._delayed) + len(self._leased)

    async def receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        self._promote_due()
        self._reclaim_expired()
        if self._ready.empty():
            try:
                first = await asyncio.wait_for(self._ready.get(), timeout=self._wait_s(wait_s))
            except TimeoutError:
                return []
            self._ready.put_nowait(first)
        leases: list[Lease] = []
        while len(leases) < max_count and not self._ready.empty():
            lease = self._ready.get_nowait()
            self._leased[lease.entry_id] = (self._clock() + self._visibility, lease)
            leases.append(lease)
        return leases

    async def ack(self, lease: Lease) -> None:
        self._leased.pop(lease.entry_id, None)

    async def extend(self, lease: Lease) -> None:
        if lease.entry_id in self._leased:
            self._leased[lease.entry_id] = (self._clock() + self._visibility, lease)

    def _entry(self, task_id: str) -> Lease:
        return Lease(task_id=task_id, entry_id=str(next(self._entry_ids)))

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            self.put(heapq.heappop(self._delayed)[2])

    def _reclaim_expired(self) -> None:
        now = self._clock()
        expired = [entry for entry, (deadline, _) in self._leased.items() if deadline <= now]
        for entry_id in expired:
            _, lease = self._leased.pop(entry_id)
            self._ready.put_nowait(replace(lease, reclaimed=True))

    def _wait_s(self, wait_s: float) -> float:
        now = self._clock()
        deadlines = [deadline for deadline, _ in self._leased.values()]
        if self._delayed:
            deadlines.append(self._delayed[0][0])
        if not deadlines:
            return wait_s
        return max(0.0, min(wait_s, (min(deadlines) - now).total_seconds()))


class InMemoryTaskStore:
    """Tasks in a dict (``TaskStore`` port); ``add`` and ``save`` feed ``queue``."""

    def __init__(self, *, queue: InMemoryTaskQueue, clock: Clock, ttl_s: float) -> None:
        self._queue = queue
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self._tasks: dict[str, Task] = {}
        self._expiries: deque[tuple[datetime, str]] = deque()

    def __len__(self) -> int:
        return len(self._tasks)

    async def add(self, task: Task) -> None:
        self._forget_expired()
        self._tasks[task.id] = task
        self._queue.put(task.id)

    async def get(self, task_id: str) -> Task:
        self._forget_expired()
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFound(task_id) from None

    async def save(self, task: Task) -> None:
        stored = await self.get(task.id)
        if stored.version != task.version - 1:
            raise ConcurrentUpdate(task.id)
        self._tasks[task.id] = task
        if task.is_terminal:
            self._expiries.append((self._clock() + self._ttl, task.id))
        elif task.status is TaskStatus.PENDING and task.next_attempt_at is not None:
            self._queue.put_later(task.id, task.next_attempt_at)

    def _forget_expired(self) -> None:
        # The TTL is the same for every task, so expiries are queued in order.
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            _, task_id = self._expiries.popleft()
            self._tasks.pop(task_id, None)
