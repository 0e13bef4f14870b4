"""Deliver one queued task: the worker-side use case."""

import logging
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

from application.errors import ConcurrentUpdate, DeliveryFailed
from application.ports import Clock, Lease, Mailer, TaskStore
from domain.errors import TaskNotFound
from domain.retry import RetryPolicy
from domain.task import Task, TaskStatus

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What one call of ``DeliverEmail`` did."""

    COMPLETED = "completed"
    FAILED = "failed"
    RESCHEDULED = "rescheduled"
    SKIPPED = "skipped"
    """Nothing to do: the task is gone, terminal, not yet due, or another worker holds it."""


class DeliverEmail:
    """Move a task ``pending -> processing -> completed | failed`` (or back to ``pending`` with a
    retry time), sending its email once per attempt.

    Transient failures are retried with ``policy``'s backoff until ``policy.max_attempts``;
    permanent ones fail at once. Every write is a compare-and-set, so of two workers racing on one
    task only one can record an outcome. Raises ``StoreUnavailable`` (the lease stays unacked and
    the entry is delivered again).
    """

    def __init__(
        self,
        *,
        store: TaskStore,
        mailer: Mailer,
        clock: Clock,
        policy: RetryPolicy,
        uniform: Callable[[float, float], float],
    ) -> None:
        self._store = store
        self._mailer = mailer
        self._clock = clock
        self._policy = policy
        self._uniform = uniform

    async def __call__(self, lease: Lease) -> Outcome:
        try:
            task = await self._store.get(lease.task_id)
        except TaskNotFound:
            log.warning("queue entry for missing task dropped", extra={"task_id": lease.task_id})
            return Outcome.SKIPPED
        if not self._should_attempt(task, lease):
            return Outcome.SKIPPED
        try:
            return await self._attempt(task)
        except ConcurrentUpdate:
            log.info("another worker took the task over", extra={"task_id": task.id})
            return Outcome.SKIPPED

    def _should_attempt(self, task: Task, lease: Lease) -> bool:
        if task.status is TaskStatus.PENDING:
            return task.is_due(self._clock())
        # A processing task belongs to the worker holding its lease, unless it was reclaimed.
        return task.status is TaskStatus.PROCESSING and lease.reclaimed

    async def _attempt(self, task: Task) -> Outcome:
        if task.status is TaskStatus.PROCESSING and not self._policy.allows_another(task.attempts):
            failed = task.fail(f"{task.error or 'worker lost during delivery'}", self._clock())
            await self._store.save(failed)
            return Outcome.FAILED
        started = task.start_attempt(self._clock())
        await self._store.save(started)
        try:
            receipt = await self._mailer.send(started.email)
        except DeliveryFailed as exc:
            return await self._record_failure(started, exc)
        await self._store.save(started.complete(receipt, self._clock()))
        return Outcome.COMPLETED

    async def _record_failure(self, task: Task, exc: DeliveryFailed) -> Outcome:
        now = self._clock()
        if exc.permanent or not self._policy.allows_another(task.attempts):
            await self._store.save(task.fail(exc.reason, now))
            return Outcome.FAILED
        delay = timedelta(seconds=self._policy.delay_s(task.attempts, self._uniform))
        rescheduled = task.reschedule(
            exc.reason, now + delay, now, possibly_delivered=exc.possibly_delivered
        )
        await self._store.save(rescheduled)
        return Outcome.RESCHEDULED
