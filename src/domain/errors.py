"""Domain errors.

    MailroomError
     ├── InvalidEmail        a submitted email breaks an invariant (field, reason)
     ├── TaskNotFound        no task with that id (or not visible to the caller)
     └── InvalidTransition   a status change the task lifecycle does not allow

Entrypoints map each base class to one HTTP status in one place.
"""


class MailroomError(Exception):
    """Base of every error Mailroom raises on purpose."""


class InvalidEmail(MailroomError):
    """A submitted email breaks an invariant; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TaskNotFound(MailroomError):
    """No task with ``task_id`` exists (it never did, or it expired)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} not found")
        self.task_id = task_id


class InvalidTransition(MailroomError):
    """The task cannot go from its current status to the requested one."""

    def __init__(self, task_id: str, current: str, requested: str) -> None:
        super().__init__(f"task {task_id}: cannot go from {current} to {requested}")
        self.task_id = task_id
        self.current = current
        self.requested = requested
