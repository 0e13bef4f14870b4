"""A mailer that delivers nowhere and remembers everything: for tests and local runs."""

import asyncio
from collections import deque

from application.errors import DeliveryFailed
from domain.message import DeliveryReceipt, Email, SmtpReply

FAKE_REPLY = SmtpReply(250, "OK (fake)")


class FakeMailer:
    """``Mailer`` port with observable state.

    ``attempts`` lists every email ``send`` was called with (appended on entry, so a test can see
    a send in flight); ``sent`` lists those that succeeded. ``fail_next`` queues errors to raise
    instead of sending; ``delay_s`` and ``gate`` (send waits until the event is set) make a send
    slow. All attributes may be changed between sends.

    Both lists keep the ``keep`` most recent emails at least (between ``keep`` and ``2 * keep``):
    a long-running ``mailroom serve`` with the fake mailer stays bounded in memory.
    """

    def __init__(
        self, *, delay_s: float = 0.0, gate: asyncio.Event | None = None, keep: int = 10_000
    ) -> None:
        self.delay_s = delay_s
        self.gate = gate
        self.keep = keep
        self.attempts: list[Email] = []
        self.sent: list[Email] = []
        self._failures: deque[DeliveryFailed] = deque()

    def fail_next(self, *errors: DeliveryFailed) -> None:
        """Make the next ``len(errors)`` sends raise these errors, in order."""
        self._failures.extend(errors)

    async def send(self, email: Email) -> DeliveryReceipt:
        _append_bounded(self.attempts, email, self.keep)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        if self._failures:
            raise self._failures.popleft()
        _append_bounded(self.sent, email, self.keep)
        return DeliveryReceipt(message_id=email.message_id, reply=FAKE_REPLY)


def _append_bounded(emails: list[Email], email: Email, keep: int) -> None:
    emails.append(email)
    if len(emails) > 2 * keep:
        del emails[:keep]  # the oldest half, at once: amortised O(1) per email
