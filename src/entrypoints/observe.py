"""Metrics and log context around the use cases, without touching them: wrappers the container
puts around the task store (intake), the mailer (each hand-over) and ``DeliverEmail`` (each
delivery).

One delivery runs in one asyncio task (``DeliveryWorker`` starts one per lease), so
``ObservedDelivery`` opens an ``_Attempt`` in a context variable that ``ObservedMailer`` fills in
with the failure reason; the delivery's ``Outcome`` then says whether that failure was retried or
final.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from application.deliver_email import Outcome
from application.errors import DeliveryFailed
from application.ports import (
    IdempotencyClaim,
    IdempotencyRecord,
    Lease,
    Mailer,
    TaskIntake,
    TaskStore,
)
from domain.message import DeliveryReceipt, Email
from domain.task import Task
from entrypoints import logging_setup
from entrypoints.metrics import Metrics, failure_reason

log = logging.getLogger("mailroom.tasks")


@dataclass
class _Attempt:
    """What the mailer said about the last hand-over of one delivery, if it failed."""

    reason: str | None = None
    error: str | None = None


_attempt: ContextVar[_Attempt | None] = ContextVar("mailroom_attempt", default=None)


class AcceptingStore(TaskStore, TaskIntake, Protocol):
    """What ``ObservedStore`` wraps: a store that also accepts batches."""


class ObservedStore:
    """A task store (``TaskStore`` and ``TaskIntake`` ports) that counts and logs each task it
    accepts: every task of an ``add`` or ``add_all`` that stored them, none of an idempotent
    replay (``add_all`` returned an earlier request's record)."""

    def __init__(self, *, store: AcceptingStore, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    async def add(self, task: Task) -> None:
        await self._store.add(task)
        self._accepted([task])

    async def add_all(
        self, tasks: Sequence[Task], *, claim: IdempotencyClaim | None = None
    ) -> IdempotencyRecord | None:
        record = await self._store.add_all(tasks, claim=claim)
        if record is None or record.task_ids == tuple(task.id for task in tasks):
            self._accepted(tasks)
        return record

    async def get(self, task_id: str) -> Task:
        return await self._store.get(task_id)

    async def save(self, task: Task) -> None:
        await self._store.save(task)

    def _accepted(self, tasks: Sequence[Task]) -> None:
        self._metrics.accepted.inc(len(tasks))
        if not log.isEnabledFor(logging.INFO):  # skip masking addresses for nothing
            return
        if len(tasks) == 1:
            recipient = logging_setup.mask_addresses(tasks[0].email.to)
            log.info("task accepted", extra={"task_id": tasks[0].id, "recipient": recipient})
        elif tasks:
            log.info("%d tasks accepted", len(tasks), extra={"task_ids": [t.id for t in tasks]})


@runtime_checkable
class ReportsConnections(Protocol):
    """A mailer that keeps connections open (the SMTP pool) and says how many."""

    @property
    def open_connections(self) -> int: ...


class ObservedMailer:
    """A ``Mailer`` that times each hand-over, notes why one failed, and after each one updates
    the pool-connections gauge if the mailer reports its open connections
    (``ReportsConnections``)."""

    def __init__(self, *, mailer: Mailer, metrics: Metrics) -> None:
        self._mailer = mailer
        self._metrics = metrics
        self._pool = mailer if isinstance(mailer, ReportsConnections) else None

    async def send(self, email: Email) -> DeliveryReceipt:
        started = time.perf_counter()
        try:
            receipt = await self._mailer.send(email)
        except DeliveryFailed as exc:
            self._observe("error", started)
            attempt = _attempt.get()
            if attempt is not None:
                attempt.reason, attempt.error = failure_reason(exc), exc.reason
            raise
        self._observe("ok", started)
        return receipt

    def _observe(self, result: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.delivery_seconds.labels(result).observe(elapsed)
        if self._pool is not None:
            self._metrics.smtp_connections.set(self._pool.open_connections)


class ObservedDelivery:
    """Runs ``deliver`` (``DeliverEmail``) for one lease with the task id in the log context,
    counts it in flight meanwhile, and counts its outcome: delivered, retried or failed (with the
    reason the mailer gave; ``worker_lost`` when a reclaimed task had no attempts left)."""

    def __init__(self, *, deliver: Callable[[Lease], Awaitable[Outcome]], metrics: Metrics) -> None:
        self._deliver = deliver
        self._metrics = metrics

    async def __call__(self, lease: Lease) -> Outcome:
        attempt = _Attempt()
        attempt_token = _attempt.set(attempt)
        task_token = logging_setup.task_id.set(lease.task_id)
        self._metrics.in_flight.inc()
        try:
            outcome = await self._deliver(lease)
        finally:
            self._metrics.in_flight.dec()
            logging_setup.task_id.reset(task_token)
            _attempt.reset(attempt_token)
        self._record(lease.task_id, outcome, attempt)
        return outcome

    def _record(self, task_id: str, outcome: Outcome, attempt: _Attempt) -> None:
        """Counts the outcome and logs it (at info; the error is the mailer's reason, addresses
        masked by the log formatter)."""
        if outcome is Outcome.SKIPPED:
            return
        if outcome is Outcome.COMPLETED:
            self._metrics.delivered.inc()
            reason = None
        elif outcome is Outcome.RESCHEDULED:
            reason = attempt.reason or "other"
            self._metrics.retried.labels(reason).inc()
        else:
            reason = attempt.reason or "worker_lost"
            self._metrics.failed.labels(reason).inc()
        extra = {"task_id": task_id, "outcome": str(outcome), "reason": reason}
        log.info("delivery %s", outcome, extra={**extra, "error": attempt.error})
