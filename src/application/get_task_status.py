"""Look up a task."""

from application.ports import TaskStore
from domain.errors import TaskNotFound
from domain.task import Task


class GetTaskStatus:
    """The task with a given id, if ``owner`` may see it. Raises ``TaskNotFound`` and
    ``StoreUnavailable``."""

    def __init__(self, *, store: TaskStore) -> None:
        self._store = store

    async def __call__(self, task_id: str, *, owner: str | None = None) -> Task:
        return await owned_task(self._store, task_id, owner)


async def owned_task(store: TaskStore, task_id: str, owner: str | None) -> Task:
    """The stored task if it belongs to ``owner`` (the API key's name; None: created while the
    API was open). Another owner's task raises ``TaskNotFound``, exactly like a missing one, so
    that ids cannot be probed across keys."""
    task = await store.get(task_id)
    if task.owner != owner:
        raise TaskNotFound(task_id)
    return task
