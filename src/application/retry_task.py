"""Send a failed task again: the dead-letter list's way back into the queue."""

from application.get_task_status import owned_task
from application.ports import Clock, TaskStore
from domain.task import Task


class RetryTask:
    """Move ``owner``'s failed task back to ``pending``, due at once (``Task.requeue``: attempts
    start again from 0; the last error and the result's notes are kept). The store's ``save``
    schedules it, so a worker picks it up like any due retry.

    Raises ``TaskNotFound`` (missing, expired, or another owner's), ``InvalidTransition`` (the
    task is not ``failed``), ``ConcurrentUpdate`` (it changed meanwhile, e.g. a concurrent retry)
    and ``StoreUnavailable``.
    """

    def __init__(self, *, store: TaskStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def __call__(self, task_id: str, *, owner: str | None = None) -> Task:
        task = await owned_task(self._store, task_id, owner)
        requeued = task.requeue(self._clock())
        await self._store.save(requeued)
        return requeued
