"""Look up a task."""

from application.ports import TaskStore
from domain.task import Task


class GetTaskStatus:
    """The task with a given id. Raises ``TaskNotFound`` and ``StoreUnavailable``."""

    def __init__(self, *, store: TaskStore) -> None:
        self._store = store

    async def __call__(self, task_id: str) -> Task:
        return await self._store.get(task_id)
