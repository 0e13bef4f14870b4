"""In-memory task store and queue: the embedded default, for one process.

Nothing survives the process: tasks still queued when it stops are lost (Redis mode keeps them).
Terminal tasks are forgotten ``ttl_s`` seconds after they finished.
"""

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Final

from adapters.codec import email_to_json, status_to_json, summary_from_json, task_from_parts
from application.errors import ConcurrentUpdate, StoreUnavailable
from application.ports import (
    Clock,
    IdempotencyClaim,
    IdempotencyRecord,
    Lease,
    Position,
    TaskPage,
    TaskSummary,
)
from domain.errors import TaskNotFound
from domain.task import Task, TaskStatus

_Stored = tuple[bytes, bytes, int, str | None, str, int, str]
"""A kept task: its status part and email part as JSON (``adapters.codec``), then what listings
and writes look at without decoding them: version, owner, status value and ``Position``'s two
parts, ``created_us`` and id (compared in C through ``_ORDER``). A flat, exact tuple of bytes,
strings and ints (not a named tuple, no nested tuple): CPython's collector stops tracking it at
the first young collection after it is written. Indexed by the constants below."""

_STATUS: Final = 0
_EMAIL: Final = 1
_VERSION: Final = 2
_OWNER: Final = 3
_STATE: Final = 4
_CREATED_US: Final = 5
_ID: Final = 6
_ORDER: Final = itemgetter(_CREATED_US, _ID)


class _Tasks(dict[str, _Stored]):
    """The kept tasks by id: a dict the garbage collector tracks for good.

    CPython stops tracking an exact dict whose values are all untracked (at a full collection)
    and tracks it again, as a new object in the youngest generation, when a tracked value is
    written: a new task's tuple is, until the next young collection. Each such round made the
    next young and middle collections walk the whole store (about 60 ms at 1,000,000 tasks).
    The collector never untracks a dict subclass, so this one stays where it is: frozen with
    everything else alive at start-up (``entrypoints.gc_tuning``), never walked at all.
    """

    __slots__ = ()


class InMemoryTaskQueue:
    """An asyncio queue of entries, a heap of delayed retries and a table of leases
    (``TaskQueue`` port), with the same at-least-once semantics as the Redis queue inside one
    process: a lease not acknowledged within ``visibility_timeout_s`` seconds is handed out again,
    marked reclaimed.
    """

    def __init__(self, *, clock: Clock, visibility_timeout_s: float = 60.0) -> None:
        self._clock = clock
        self._visibility = timedelta(seconds=visibility_timeout_s)
        # Entries waiting as (task id, entry id, reclaimed) tuples, which the garbage collector
        # stops tracking (a backlog of Lease objects would be walked by every collection).
        self._ready: asyncio.Queue[tuple[str, str, bool]] = asyncio.Queue()
        self._delayed: list[tuple[datetime, int, str]] = []
        self._leased: dict[str, tuple[datetime, Lease]] = {}
        self._entry_ids = itertools.count(1)

    def put(self, task_id: str) -> None:
        self._ready.put_nowait((task_id, str(next(self._entry_ids)), False))

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
            lease = Lease(*self._ready.get_nowait())
            self._leased[lease.entry_id] = (self._clock() + self._visibility, lease)
            leases.append(lease)
        return leases

    async def ack(self, lease: Lease) -> None:
        self._leased.pop(lease.entry_id, None)

    async def extend(self, lease: Lease) -> None:
        if lease.entry_id in self._leased:
            self._leased[lease.entry_id] = (self._clock() + self._visibility, lease)

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            self.put(heapq.heappop(self._delayed)[2])

    def _reclaim_expired(self) -> None:
        now = self._clock()
        expired = [entry for entry, (deadline, _) in self._leased.items() if deadline <= now]
        for entry_id in expired:
            _, lease = self._leased.pop(entry_id)
            self._ready.put_nowait((lease.task_id, lease.entry_id, True))

    def _wait_s(self, wait_s: float) -> float:
        now = self._clock()
        deadlines = [deadline for deadline, _ in self._leased.values()]
        if self._delayed:
            deadlines.append(self._delayed[0][0])
        if not deadlines:
            return wait_s
        return max(0.0, min(wait_s, (min(deadlines) - now).total_seconds()))


class InMemoryTaskStore:
    """Tasks in a dict (``TaskStore``, ``TaskIntake`` and ``TaskListing`` ports); ``add`` and
    ``save`` feed ``queue``.

    Idempotency records are kept ``idempotency_ttl_s`` seconds. Listing scans every task kept on
    each call (fine for the development store; the Redis store keeps sorted indexes).

    Each task is kept as its two JSON parts (``adapters.codec``, as the Redis store keeps it)
    plus plain values for listings, in one flat tuple, not as objects: CPython's cyclic garbage
    collector stops tracking such a tuple, and the dict holding them (``_Tasks``) is frozen at
    start-up, so a store of any size adds no work to the collections that run while requests
    come in (stored as objects, each 30,000 tasks set off a pause of 10 to 45 ms growing with
    the store; docs/benchmarks.md, "Garbage collector").

    At most ``max_tasks`` tasks are kept: to make room, the tasks that finished longest ago are
    forgotten first (before their TTL); when every kept task is still unfinished, ``add_all``
    raises ``StoreFull`` (a ``StoreUnavailable``: 503 with Retry-After) and stores nothing.
    """

    def __init__(
        self,
        *,
        queue: InMemoryTaskQueue,
        clock: Clock,
        ttl_s: float,
        idempotency_ttl_s: float = 24 * 3600,
        max_tasks: int | None = None,
    ) -> None:
        if max_tasks is not None and max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self._max_tasks = max_tasks
        self._queue = queue
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)
        self._tasks = _Tasks()
        self._expiries: deque[tuple[datetime, str]] = deque()
        self._expires_at: dict[str, datetime] = {}
        self._records = _Records(clock, timedelta(seconds=idempotency_ttl_s))

    def __len__(self) -> int:
        return len(self._tasks)

    async def add(self, task: Task) -> None:
        await self.add_all([task])

    async def add_all(
        self, tasks: Sequence[Task], *, claim: IdempotencyClaim | None = None
    ) -> IdempotencyRecord | None:
        # One suspension point first, as a store doing I/O has: the event loop reads other
        # connections' requests before this one is answered. Without it a loaded `serve` answers
        # the requests of one loop iteration back to back and the latency tail grew to 3-5 times
        # the ceiling's p99 (docs/benchmarks.md, "Intake in memory mode").
        await asyncio.sleep(0)
        # No await after this: the check and the writes are one step for every other coroutine.
        self._forget_expired()
        if claim is not None:
            kept = self._records.get(claim)
            if kept is not None:
                return kept
        self._make_room(sum(task.id not in self._tasks for task in tasks))
        if claim is not None:
            self._records.put(claim, tuple(task.id for task in tasks))
        for task in tasks:
            if task.id not in self._tasks:
                self._tasks[task.id] = _stored(task, email_to_json(task.email).encode())
                self._queue.put(task.id)
        return None

    async def get(self, task_id: str) -> Task:
        stored = self._stored(task_id)
        return task_from_parts(stored[_STATUS], stored[_EMAIL])

    async def save(self, task: Task) -> None:
        stored = self._stored(task.id)
        if stored[_VERSION] != task.version - 1:
            raise ConcurrentUpdate(task.id)
        self._tasks[task.id] = _stored(task, stored[_EMAIL])
        self._expires_at.pop(task.id, None)
        if task.is_terminal:
            deadline = self._clock() + self._ttl
            self._expires_at[task.id] = deadline
            self._expiries.append((deadline, task.id))
        elif task.status is TaskStatus.PENDING and task.next_attempt_at is not None:
            self._queue.put_later(task.id, task.next_attempt_at)

    async def summary(self, task_id: str) -> TaskSummary:
        return summary_from_json(self._stored(task_id)[_STATUS])

    async def list_tasks(
        self, owner: str | None, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> TaskPage:
        self._forget_expired()
        wanted = None if status is None else status.value
        candidates = (
            stored
            for stored in self._tasks.values()
            if stored[_OWNER] == owner and wanted in (None, stored[_STATE])
        )
        if after is not None:
            bound = (after.created_us, after.task_id)
            candidates = (stored for stored in candidates if _ORDER(stored) < bound)
        newest = heapq.nlargest(limit + 1, candidates, key=_ORDER)
        page = tuple(summary_from_json(stored[_STATUS]) for stored in newest[:limit])
        next_position = Position(*_ORDER(newest[limit - 1])) if len(newest) > limit else None
        return TaskPage(page, next_position)

    def _stored(self, task_id: str) -> _Stored:
        self._forget_expired()
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFound(task_id) from None

    def _make_room(self, needed: int) -> None:
        if self._max_tasks is None:
            return
        while len(self._tasks) + needed > self._max_tasks and self._expiries:
            _, task_id = self._expiries.popleft()  # the task that finished longest ago
            if task_id in self._expires_at:  # still finished (not requeued since)
                self._forget(task_id)
        if len(self._tasks) + needed > self._max_tasks:
            raise StoreFull(
                f"memory store full: {len(self._tasks)} unfinished tasks"
                f" (MAILROOM_MEMORY_MAX_TASKS={self._max_tasks})"
            )

    def _forget(self, task_id: str) -> None:
        del self._expires_at[task_id]
        self._tasks.pop(task_id, None)

    def _forget_expired(self) -> None:
        # The TTL is the same for every task, so expiries are queued in order. A task that was
        # written again since (a failed task requeued) has a later deadline, or none: kept.
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            deadline, task_id = self._expiries.popleft()
            if self._expires_at.get(task_id) == deadline:
                self._forget(task_id)


class StoreFull(StoreUnavailable):
    """The memory store holds ``max_tasks`` unfinished tasks: none can be forgotten to make room."""


def _stored(task: Task, email: bytes) -> _Stored:
    position = Position.of(task.id, task.created_at)
    return (
        status_to_json(task).encode(),
        email,
        task.version,
        task.owner,
        task.status.value,
        position.created_us,
        position.task_id,
    )


class _Records:
    """Idempotency records by ``(owner, key)``, each forgotten ``ttl`` after it was written."""

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._records: dict[tuple[str | None, str], IdempotencyRecord] = {}
        self._expiries: deque[tuple[datetime, tuple[str | None, str]]] = deque()

    def get(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        now = self._clock()
        while self._expiries and self._expiries[0][0] <= now:
            self._records.pop(self._expiries.popleft()[1], None)
        return self._records.get((claim.owner, claim.key))

    def put(self, claim: IdempotencyClaim, task_ids: tuple[str, ...]) -> None:
        scope = (claim.owner, claim.key)
        self._records[scope] = IdempotencyRecord(claim.fingerprint, task_ids)
        self._expiries.append((self._clock() + self._ttl, scope))
