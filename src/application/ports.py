"""Ports: what the use cases need from the outside world, as ``typing.Protocol``s.

Every method may raise ``StoreUnavailable`` (stores and queues) or ``DeliveryFailed`` (mailers);
adapters translate their own exceptions into these and never let infrastructure errors through.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from domain.message import DeliveryReceipt, Email
from domain.task import JSON, Task, TaskStatus

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (UTC)."""

IdGenerator = Callable[[], str]
"""Returns a new unique task id (a UUID4 in canonical text form)."""


@runtime_checkable
class TaskStore(Protocol):
    """Where tasks live. Writing a task and queuing it for delivery is one atomic step."""

    async def add(self, task: Task) -> None:
        """Store a new ``pending`` task and queue it for delivery, atomically: after a failure
        neither happened. Raises ``StoreUnavailable``."""
        ...

    async def get(self, task_id: str) -> Task:
        """The stored task. Raises ``TaskNotFound`` (never stored, or expired) and
        ``StoreUnavailable``."""
        ...

    async def save(self, task: Task) -> None:
        """Write a transitioned task if the stored one still has version ``task.version - 1``.

        Side effects, atomic with the write: a ``pending`` task with ``next_attempt_at`` is
        scheduled for redelivery at that time; a terminal task expires after the store's TTL.
        Raises ``ConcurrentUpdate`` (the version moved on), ``TaskNotFound``, ``StoreUnavailable``.
        """
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """A client's ``Idempotency-Key`` for one request: ``key`` as sent, scoped to ``owner`` (the
    API key's name, None when the API is open); ``fingerprint`` identifies the request's content
    (hex SHA-256)."""

    owner: str | None
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a store keeps for an idempotency key: the first request's fingerprint and the ids of
    the tasks it created, in request order."""

    fingerprint: str
    task_ids: tuple[str, ...]


@runtime_checkable
class TaskIntake(Protocol):
    """Accepting several tasks at once, optionally under an idempotency key."""

    async def add_all(
        self, tasks: Sequence[Task], *, claim: IdempotencyClaim | None = None
    ) -> IdempotencyRecord | None:
        """Store every task of ``tasks`` (new, ``pending``) and queue each for delivery in one
        atomic step: after a failure none of them is stored or queued. A task whose id is already
        stored is left as it is (a retried call).

        With ``claim``: if the store keeps a record for ``(claim.owner, claim.key)``, nothing is
        stored and that record is returned; otherwise the tasks are stored together with the
        record ``(claim.fingerprint, ids of tasks)``, kept for the store's idempotency TTL
        whatever happens to the tasks, and None is returned. The check and the write are one
        atomic step, so of concurrent calls with one key exactly one stores its tasks.
        Raises ``StoreUnavailable``.
        """
        ...


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """A task's status without its email: what listings return."""

    id: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    attempts: int
    result: Mapping[str, JSON] | None
    error: str | None
    next_attempt_at: datetime | None
    version: int
    owner: str | None

    @classmethod
    def of(cls, task: Task) -> "TaskSummary":
        return cls(
            id=task.id,
            status=task.status,
            created_at=task.created_at,
            updated_at=task.updated_at,
            attempts=task.attempts,
            result=task.result,
            error=task.error,
            next_attempt_at=task.next_attempt_at,
            version=task.version,
            owner=task.owner,
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in a listing, which runs newest first: by ``created_us`` (creation time in whole
    microseconds since the Unix epoch), then by ``task_id`` (descending, byte order) among tasks
    created in the same microsecond."""

    created_us: int
    task_id: str

    @classmethod
    def of(cls, task_id: str, created_at: datetime) -> "Position":
        return cls((created_at - _EPOCH) // timedelta(microseconds=1), task_id)


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of a listing; ``next`` is where the following page starts, None at the end."""

    tasks: tuple[TaskSummary, ...]
    next: Position | None


@runtime_checkable
class TaskListing(Protocol):
    """Tasks without their emails: one task's status, or an owner's tasks newest first."""

    async def summary(self, task_id: str) -> TaskSummary:
        """The stored task's status part (no email: cheaper to read than ``TaskStore.get``).
        Raises ``TaskNotFound`` (also once it expired), ``StoreUnavailable``."""
        ...

    async def list_tasks(
        self, owner: str | None, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> TaskPage:
        """Up to ``limit`` (>= 1) of ``owner``'s stored tasks (only those with ``status``, when
        given), newest first, strictly after ``after`` (from the newest when None).

        Expired tasks are skipped (and forgotten). A page may hold fewer than ``limit`` tasks
        while ``next`` is set (a store may bound the work of one call); only ``next`` None means
        there is nothing more. Raises ``StoreUnavailable``.
        """
        ...


@dataclass(frozen=True, slots=True)
class Lease:
    """A queue entry handed to one worker: ``task_id`` to deliver, ``entry_id`` for ack/extend.

    ``reclaimed`` is True when the entry was taken over from a worker that held it past the
    visibility timeout (it most likely died mid-delivery).
    """

    task_id: str
    entry_id: str
    reclaimed: bool = False


@runtime_checkable
class TaskQueue(Protocol):
    """The delivery queue, consumed at least once: an entry stays leased to its worker until
    acknowledged; one held past the visibility timeout is handed to another worker."""

    async def receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        """Up to ``max_count`` leases (reclaimed ones first, then entries in queue order; a due
        retry is queued behind entries already waiting), waiting up to ``wait_s`` seconds when
        none is ready. Raises ``StoreUnavailable``."""
        ...

    async def ack(self, lease: Lease) -> None:
        """Done with the entry: the task reached a terminal state or was rescheduled. Does
        nothing for a lease this worker lost (reclaimed by another). Raises ``StoreUnavailable``."""
        ...

    async def extend(self, lease: Lease) -> None:
        """Restart the visibility timeout of a lease still being worked on. Does nothing for a
        lease this worker lost. Raises ``StoreUnavailable``."""
        ...


@runtime_checkable
class Mailer(Protocol):
    """Hands one email to its destination."""

    async def send(self, email: Email) -> DeliveryReceipt:
        """Deliver ``email``. Raises ``TransientDeliveryError`` or ``PermanentDeliveryError``
        (RFC 5321 §4.2.1 reply classes); never lets a library or socket exception through."""
        ...
