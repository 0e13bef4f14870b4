"""In-memory task store and queue: the embedded default, for one process.

Nothing survives the process: tasks still queued when it stops are lost (Redis mode keeps them).
Terminal tasks are forgotten ``ttl_s`` seconds after they finished.
"""

import asyncio
import heapq
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from application.errors import ConcurrentUpdate
from application.ports import Clock, Lease
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus


class InMemoryTaskQueue:
    """An asyncio queue of task ids plus a heap of delayed retries (``TaskQueue`` port).

    Single-process, so a lease is never reclaimed: ``ack`` and ``extend`` do nothing.
    """

    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._delayed: list[tuple[datetime, str]] = []

    def put(self, task_id: str) -> None:
        self._ready.put_nowait(task_id)

    def put_later(self, task_id: str, due: datetime) -> None:
        heapq.heappush(self._delayed, (due, task_id))

    def __len__(self) -> int:
        return self._ready.qsize() + len(self._delayed)

    async def receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        self._promote_due()
        if self._ready.empty():
            try:
                first = await asyncio.wait_for(self._ready.get(), timeout=self._wait_s(wait_s))
            except TimeoutError:
                return []
            self._ready.put_nowait(first)
        ids: list[str] = []
        while len(ids) < max_count and not self._ready.empty():
            ids.append(self._ready.get_nowait())
        return [Lease(task_id=task_id, entry_id=task_id) for task_id in ids]

    async def ack(self, lease: Lease) -> None:
        return None

    async def extend(self, lease: Lease) -> None:
        return None

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.put_nowait(heapq.heappop(self._delayed)[1])

    def _wait_s(self, wait_s: float) -> float:
        if not self._delayed:
            return wait_s
        until_due = (self._delayed[0][0] - self._clock()).total_seconds()
        return max(0.0, min(wait_s, until_due))


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
