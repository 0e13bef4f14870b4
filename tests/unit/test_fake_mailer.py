"""The fake mailer: records what it sent, fails on request, can be slowed down."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.fake_mailer import FakeMailer
from application.errors import PermanentDeliveryError, TransientDeliveryError
from application.ports import Mailer
from domain.message import Email, SmtpReply

EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Hello",
    body="Hi",
    message_id="<task-1@example.org>",
    date=datetime(2024, 1, 2, tzinfo=UTC),
)


def test_it_is_a_mailer() -> None:
    assert isinstance(FakeMailer(), Mailer)


async def test_send_records_the_email_and_returns_a_receipt() -> None:
    mailer = FakeMailer()

    receipt = await mailer.send(EMAIL)

    assert mailer.sent == [EMAIL]
    assert mailer.attempts == [EMAIL]
    assert receipt.message_id == EMAIL.message_id
    assert receipt.reply == SmtpReply(250, "OK (fake)")


async def test_fail_next_raises_the_given_errors_in_order_then_sends() -> None:
    mailer = FakeMailer()
    later = TransientDeliveryError("451 4.3.0 try later", code=451)
    never = PermanentDeliveryError("550 5.1.1 no such user", code=550)
    mailer.fail_next(later, never)

    with pytest.raises(TransientDeliveryError):
        await mailer.send(EMAIL)
    with pytest.raises(PermanentDeliveryError):
        await mailer.send(EMAIL)
    await mailer.send(EMAIL)

    assert mailer.sent == [EMAIL]
    assert len(mailer.attempts) == 3


async def test_gate_holds_the_send_until_set() -> None:
    gate = asyncio.Event()
    mailer = FakeMailer(gate=gate)

    sending = asyncio.create_task(mailer.send(EMAIL))
    await asyncio.sleep(0.01)
    assert mailer.attempts == [EMAIL]
    assert mailer.sent == []

    gate.set()
    await sending
    assert mailer.sent == [EMAIL]


async def test_delay_slows_the_send_down() -> None:
    mailer = FakeMailer(delay_s=0.05)
    loop = asyncio.get_running_loop()

    started = loop.time()
    await mailer.send(EMAIL)

    assert loop.time() - started >= 0.05


async def test_a_long_run_keeps_only_the_most_recent_emails() -> None:
    mailer = FakeMailer(keep=3)
    emails = [replace(EMAIL, message_id=f"<{n}@example.org>") for n in range(10)]

    for email in emails:
        await mailer.send(email)

    assert 3 <= len(mailer.sent) <= 6
    assert mailer.sent == emails[-len(mailer.sent) :]
    assert mailer.attempts == emails[-len(mailer.attempts) :]
