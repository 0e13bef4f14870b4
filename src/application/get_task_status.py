"""Look up a task."""

from application.ports import TaskListing, TaskStore, TaskSummary
from domain.errors import TaskNotFound
from domain.task import Task


class GetTaskStatus:
    """The status of the task with a given id (no email), if ``owner`` may see it: another
    owner's task is ``TaskNotFound`` like a missing one. Raises ``TaskNotFound`` and
    ``StoreUnavailable``."""

    def __init__(self, *, store: TaskListing) -> None:
        self._store = store

    async def __call__(self, task_id: str, *, owner: str | None = None) -> TaskSummary:
        summary = await self._store.summary(task_id)
        if summary.owner != owner:
            raise TaskNotFound(task_id)
        return summary


async def owned_task(store: TaskStore, task_id: str, owner: str | None) -> Task:
    """The stored task if it belongs to ``owner`` (the API key's name; None: created while the
    API was open). Another owner's task raises ``TaskNotFound``, exactly like a missing one, so
    that ids cannot be probed across keys."""
    task = await store.get(task_id)
    if task.owner != owner:
        raise TaskNotFound(task_id)
    return task
