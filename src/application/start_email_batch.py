"""Accept one email or a batch of them, all or nothing, optionally under an idempotency key."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.errors import IdempotencyKeyReused
from application.ports import IdempotencyClaim, TaskIntake
from application.start_email_task import SendEmail, StartEmailTask
from domain.errors import InvalidEmail
from domain.task import Task

MAX_BATCH = 500
"""The most messages one batch may hold."""


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """The client's ``Idempotency-Key`` (unquoted) and the fingerprint of its request (hex
    SHA-256 of the request's canonical form)."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The ids of the accepted tasks, in request order; ``replayed`` when they were created by an
    earlier request with the same idempotency key (nothing new was stored or queued)."""

    task_ids: tuple[str, ...]
    replayed: bool = False


class InvalidBatchMessage(InvalidEmail):
    """Message ``index`` (from 0) of a batch breaks an email invariant; nothing was stored."""

    def __init__(self, index: int, error: InvalidEmail) -> None:
        super().__init__(error.field, error.reason)
        self.index = index


class StartEmailBatch:
    """Turn ``SendEmail`` commands into stored, queued ``pending`` tasks, all in one atomic step.

    Each task is built as ``StartEmailTask.prepare`` builds it and belongs to ``owner``. With an
    ``IdempotencyKey`` (draft-ietf-httpapi-idempotency-key-header, scoped to ``owner``): the first
    request stores its tasks and the key; a later one with the same fingerprint stores nothing and
    gets the first one's task ids (``replayed``); one with another fingerprint raises
    ``IdempotencyKeyReused``. Concurrent requests with one key create the tasks once.

    Raises ``InvalidEmail`` for a single command, ``InvalidBatchMessage`` for a message of a
    sequence, ``IdempotencyKeyReused``, ``StoreUnavailable``; in every case nothing is stored.
    The caller bounds a batch (``MAX_BATCH``).
    """

    def __init__(self, *, prepare: StartEmailTask, intake: TaskIntake) -> None:
        self._prepare = prepare
        self._intake = intake

    async def __call__(
        self,
        commands: SendEmail | Sequence[SendEmail],
        *,
        owner: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Accepted:
        tasks = self._tasks(commands, owner)
        claim = None
        if idempotency is not None:
            claim = IdempotencyClaim(owner, idempotency.key, idempotency.fingerprint)
        record = await self._intake.add_all(tasks, claim=claim)
        ids = tuple(task.id for task in tasks)
        if record is None or record.task_ids == ids:  # new, or our own write retried
            return Accepted(ids)
        assert idempotency is not None  # a record comes back only for a claim
        if record.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused()
        return Accepted(record.task_ids, replayed=True)

    def _tasks(self, commands: SendEmail | Sequence[SendEmail], owner: str | None) -> list[Task]:
        if isinstance(commands, SendEmail):
            return [self._prepare.prepare(commands, owner=owner)]
        tasks = []
        for index, command in enumerate(commands):
            try:
                tasks.append(self._prepare.prepare(command, owner=owner))
            except InvalidEmail as exc:
                raise InvalidBatchMessage(index, exc) from exc
        return tasks
