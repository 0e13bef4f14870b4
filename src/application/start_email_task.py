"""Accept an email for delivery."""

from dataclasses import dataclass

from application.ports import Clock, IdGenerator, TaskStore
from domain.message import Email
from domain.task import Task


@dataclass(frozen=True, slots=True)
class SendEmail:
    """The client's request: recipient address, subject and plain-text body."""

    email: str
    subject: str
    body: str


class StartEmailTask:
    """Turn a ``SendEmail`` into a stored, queued ``pending`` task.

    The message's From is ``sender``; its Message-ID is ``<task_id@message_id_domain>`` and its Date
    the acceptance time, both fixed now so every attempt sends the same message.
    Raises ``InvalidEmail`` (nothing stored) and ``StoreUnavailable`` (nothing stored).
    """

    def __init__(
        self,
        *,
        store: TaskStore,
        clock: Clock,
        ids: IdGenerator,
        sender: str,
        message_id_domain: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._sender = sender
        self._message_id_domain = message_id_domain

    async def __call__(self, command: SendEmail) -> Task:
        task_id = self._ids()
        now = self._clock()
        email = Email(
            sender=self._sender,
            to=command.email,
            subject=command.subject,
            body=command.body,
            message_id=f"<{task_id}@{self._message_id_domain}>",
            date=now,
        )
        task = Task.accept(task_id, email, now)
        await self._store.add(task)
        return task
