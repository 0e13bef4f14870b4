"""List the caller's tasks, newest first, a page at a time (failed ones: the dead-letter list)."""

import re
from dataclasses import dataclass
from typing import Final

from application.errors import InvalidCursor
from application.ports import Position, TaskListing, TaskSummary
from domain.task import TaskStatus

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500

CURSOR_PATTERN: Final = r"^[0-9]{1,19}\.[0-9A-Za-z-]{1,64}$"
"""Every text of this form is a cursor: the position just after a task created at that time
(microseconds since the epoch) with that id. Clients should still treat cursors as opaque."""
_CURSOR: Final = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class TaskList:
    """One page: ``tasks`` newest first; ``next_cursor`` asks for the next page, None at the end."""

    tasks: tuple[TaskSummary, ...]
    next_cursor: str | None


class ListTasks:
    """``owner``'s tasks (another owner's never show), newest first, ``limit`` at most per page.

    ``cursor`` is the ``next_cursor`` of the previous page (opaque to clients). A page may hold
    fewer than ``limit`` tasks and still have a ``next_cursor``; only a missing one means the end.
    Raises ``InvalidCursor``, ``ValueError`` for a ``limit`` outside ``1..MAX_LIMIT``, and
    ``StoreUnavailable``.
    """

    def __init__(self, *, listing: TaskListing) -> None:
        self._listing = listing

    async def __call__(
        self,
        *,
        owner: str | None,
        status: TaskStatus | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> TaskList:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}")
        after = None if cursor is None else decode_cursor(cursor)
        page = await self._listing.list_tasks(owner, status=status, limit=limit, after=after)
        return TaskList(page.tasks, None if page.next is None else encode_cursor(page.next))


def encode_cursor(position: Position) -> str:
    """``position`` as ``<created_us>.<task_id>`` (matches ``CURSOR_PATTERN``)."""
    return f"{position.created_us}.{position.task_id}"


def decode_cursor(cursor: str) -> Position:
    """The position an ``encode_cursor`` text stands for. Raises ``InvalidCursor``."""
    if not _CURSOR.fullmatch(cursor):
        raise InvalidCursor()
    created, _, task_id = cursor.partition(".")
    return Position(int(created), task_id)
