"""Accept an email for delivery."""

from dataclasses import dataclass

from application.ports import Clock, IdGenerator, TaskStore
from domain.message import Attachment, Email, Mailbox
from domain.task import Task


@dataclass(frozen=True, slots=True)
class SendEmail:
    """The client's request: recipient address (and display name), subject, plain-text body, and
    optionally Cc, Bcc (envelope only), Reply-To, an HTML alternative, attachments and custom
    headers; see ``domain.message.Email`` for their rules."""

    email: str
    subject: str
    body: str
    to_name: str = ""
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: Mailbox | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


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

    async def __call__(self, command: SendEmail, *, owner: str | None = None) -> Task:
        """The stored task, belonging to ``owner`` (the API key's name, None when open)."""
        task = self.prepare(command, owner=owner)
        await self._store.add(task)
        return task

    def prepare(self, command: SendEmail, *, owner: str | None = None) -> Task:
        """The new task for ``command``, not stored yet. Raises ``InvalidEmail``."""
        task_id = self._ids()
        now = self._clock()
        email = Email(
            sender=self._sender,
            to=command.email,
            subject=command.subject,
            body=command.body,
            message_id=f"<{task_id}@{self._message_id_domain}>",
            date=now,
            to_name=command.to_name,
            cc=command.cc,
            bcc=command.bcc,
            reply_to=command.reply_to,
            html=command.html,
            attachments=command.attachments,
            headers=command.headers,
        )
        return Task.accept(task_id, email, now, owner=owner)
