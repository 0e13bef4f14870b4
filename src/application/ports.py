"""Ports: what the use cases need from the outside world, as ``typing.Protocol``s.

Every method may raise ``StoreUnavailable`` (stores and queues) or ``DeliveryFailed`` (mailers);
adapters translate their own exceptions into these and never let infrastructure errors through.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from domain.message import DeliveryReceipt, Email
from domain.task import Task

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
