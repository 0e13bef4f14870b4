"""The email task and its lifecycle.

    pending ──start_attempt──▶ processing ──complete──▶ completed
     ▲ ▲                          │  │
     │ └────────reschedule────────┘  └──fail──▶ failed
     └──────────────requeue (a client's retry)────────┘

A task in ``processing`` may also ``start_attempt`` again: that is a reclaimed attempt, made when
the worker holding it vanished (the queue's visibility timeout ran out). Terminal tasks
(``completed``, ``failed``) never change again.

Tasks are immutable: each transition returns a new ``Task`` whose ``version`` is one higher, so a
store can write it only if nobody else wrote first (compare-and-set on ``version``).

``owner`` names the API key that created the task (None when the API was open); only that owner
may see it. It never changes.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, TypeAlias

from domain.errors import InvalidTransition
from domain.message import DeliveryReceipt, Email

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"


class TaskStatus(StrEnum):
    """The closed set of statuses a client can see."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL: Final = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED})


@dataclass(frozen=True, slots=True)
class Task:
    """One email to deliver and everything known about its delivery.

    ``attempts`` counts started delivery attempts; ``next_attempt_at`` is set while a retry waits;
    ``result`` is a JSON object (set on completion, and while retrying when an earlier attempt may
    already have reached the server); ``error`` is the last failure's text; ``owner`` is the name
    of the API key that created the task, or None.
    """

    id: str
    email: Email
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    result: Mapping[str, JSON] | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    version: int = 1
    owner: str | None = None

    @classmethod
    def accept(
        cls, task_id: str, email: Email, now: datetime, *, owner: str | None = None
    ) -> "Task":
        """A new task, ``pending``, with version 1, belonging to ``owner``."""
        return cls(
            id=task_id,
            email=email,
            status=TaskStatus.PENDING,
            created_at=now,
            updated_at=now,
            owner=owner,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def is_due(self, now: datetime) -> bool:
        """True when a pending task has no retry waiting, or its retry time has come."""
        return self.next_attempt_at is None or self.next_attempt_at <= now

    def start_attempt(self, now: datetime) -> "Task":
        """pending (or processing, when reclaimed) -> processing; counts the attempt."""
        self._require(TaskStatus.PROCESSING, allowed={TaskStatus.PENDING, TaskStatus.PROCESSING})
        result = self.result
        if self.status is TaskStatus.PROCESSING:
            # The previous attempt's worker vanished mid-delivery: the server may have the message.
            result = _noting(result, "interrupted_attempts", self.attempts)
        return self._next(
            TaskStatus.PROCESSING,
            now,
            attempts=self.attempts + 1,
            next_attempt_at=None,
            result=result,
        )

    def complete(self, receipt: DeliveryReceipt, now: datetime) -> "Task":
        """processing -> completed, with ``result`` built from the receipt."""
        self._require(TaskStatus.COMPLETED, allowed={TaskStatus.PROCESSING})
        return self._next(
            TaskStatus.COMPLETED, now, result=_result(receipt, self.result), error=None
        )

    def fail(self, error: str, now: datetime) -> "Task":
        """processing -> failed, keeping ``error`` as the final error."""
        self._require(TaskStatus.FAILED, allowed={TaskStatus.PROCESSING})
        return self._next(TaskStatus.FAILED, now, error=error)

    def reschedule(
        self, error: str, retry_at: datetime, now: datetime, *, possibly_delivered: bool = False
    ) -> "Task":
        """processing -> pending until ``retry_at``.

        ``possibly_delivered`` records that this attempt failed after the message data was sent,
        so the server may already hold the message; the fact stays in ``result`` for good.
        """
        self._require(TaskStatus.PENDING, allowed={TaskStatus.PROCESSING})
        result = self.result
        if possibly_delivered:
            result = _noting(result, "possibly_delivered_attempts", self.attempts)
        return self._next(
            TaskStatus.PENDING, now, error=error, next_attempt_at=retry_at, result=result
        )

    def requeue(self, now: datetime) -> "Task":
        """failed -> pending, due at once: a client asked for another round of delivery.

        ``attempts`` starts again from 0, so the new round gets the retry policy's full budget;
        ``result["requeued_after_attempts"]`` lists the attempts each earlier round made, and the
        rest of ``result`` (``possibly_delivered_attempts``, ...) and the last ``error`` are kept.
        """
        self._require(TaskStatus.PENDING, allowed={TaskStatus.FAILED})
        result = _noting(self.result, "requeued_after_attempts", self.attempts)
        return self._next(TaskStatus.PENDING, now, attempts=0, next_attempt_at=now, result=result)

    def _require(self, requested: TaskStatus, *, allowed: set[TaskStatus]) -> None:
        if self.status not in allowed:
            raise InvalidTransition(self.id, self.status.value, requested.value)

    def _next(self, status: TaskStatus, now: datetime, **changes: Any) -> "Task":
        return replace(self, status=status, updated_at=now, version=self.version + 1, **changes)


def _result(receipt: DeliveryReceipt, earlier: Mapping[str, JSON] | None) -> dict[str, JSON]:
    result: dict[str, JSON] = {**(earlier or {}), "message_id": receipt.message_id}
    if receipt.reply is not None:
        result["smtp_code"] = receipt.reply.code
        result["smtp_message"] = receipt.reply.text
    if receipt.accepted:
        result["accepted"] = list(receipt.accepted)
    if receipt.refused:
        result["refused"] = {
            address: {"smtp_code": reply.code, "smtp_message": reply.text}
            for address, reply in receipt.refused.items()
        }
    if receipt.detail is not None:
        result["detail"] = receipt.detail
    return result


def _noting(result: Mapping[str, JSON] | None, key: str, attempt: int) -> dict[str, JSON]:
    """``result`` with ``attempt`` appended to the list under ``key``."""
    earlier = (result or {}).get(key)
    attempts: list[JSON] = [*earlier, attempt] if isinstance(earlier, list) else [attempt]
    return {**(result or {}), key: attempts}
