"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1): delivery and failure mapping."""

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import smtp_mailer
from adapters.smtp_mailer import SmtpConfig, SmtpMailer
from application.errors import PermanentDeliveryError, TransientDeliveryError
from application.ports import Mailer
from domain.message import Email
from tests.integration.fixtures.smtp_server import (
    HOST,
    SilentTcpServer,
    SmtpTestServer,
    SmtpTestServerFactory,
)

TIMEOUT_S = 0.5  # for the tests that wait for a timeout
PATIENT_TIMEOUT_S = 5.0  # for the rest, so a busy machine does not make them flaky
PASSWORD = "s3cret-Pa55"
EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Grüße aus Zürich",
    body="Hello,\n.\n..dots stay\nbye",
    message_id="<task-1@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def mailer_for(port: int, **changes: Any) -> SmtpMailer:
    config = SmtpConfig(
        host=HOST,
        port=port,
        security="none",
        username=None,
        password=None,
        timeout_s=PATIENT_TIMEOUT_S,
        local_hostname="mailroom.test",
    )
    return SmtpMailer(replace(config, **changes))


def test_it_is_a_mailer() -> None:
    assert isinstance(mailer_for(25), Mailer)


def test_config_repr_hides_the_password() -> None:
    config = SmtpConfig(HOST, 25, "none", "user", PASSWORD, timeout_s=1.0)

    assert PASSWORD not in repr(config)


async def test_delivers_the_rendered_message(smtp_server: SmtpTestServer) -> None:
    receipt = await mailer_for(smtp_server.port).send(EMAIL)

    [received] = smtp_server.messages
    assert received.mail_from == "mailroom@example.org"
    assert received.rcpt_tos == ("user@example.com",)
    message = received.message
    assert message["From"] == "mailroom@example.org"
    assert message["To"] == "user@example.com"
    assert message["Subject"] == "Grüße aus Zürich"
    assert message["Message-ID"] == "<task-1@example.org>"
    assert received.content.endswith(b"\r\n\r\nHello,\r\n.\r\n..dots stay\r\nbye\r\n")
    assert receipt.message_id == "<task-1@example.org>"
    assert receipt.reply is not None
    assert receipt.reply.code == 250


async def test_refused_recipient_is_permanent_with_code_and_text(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")

    with pytest.raises(PermanentDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 550
    assert "550 5.1.1 no such user" in caught.value.reason
    assert not caught.value.possibly_delivered
    assert smtp_server.messages == []


async def test_temporary_rejection_of_the_data_is_transient(smtp_server: SmtpTestServer) -> None:
    smtp_server.reply_next("DATA", "451 4.3.0 try later")

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 451
    assert "451 4.3.0 try later" in caught.value.reason
    assert not caught.value.possibly_delivered  # a reply to the data is a definite "not taken"


async def test_refused_sender_is_classified_by_its_code(smtp_server: SmtpTestServer) -> None:
    smtp_server.reply_next("MAIL", "421 4.7.0 too busy")

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 421
    assert not caught.value.possibly_delivered


async def test_connection_refused_is_transient(closed_port: int) -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(closed_port).send(EMAIL)

    assert caught.value.code is None


async def test_stalled_server_times_out_as_transient(
    stalled_smtp_server: SilentTcpServer,
) -> None:
    started = time.monotonic()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(stalled_smtp_server.port, timeout_s=TIMEOUT_S).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert time.monotonic() - started < TIMEOUT_S * 4


async def test_failure_while_the_server_holds_the_data_reply_sets_possibly_delivered(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.hold_data()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port, timeout_s=TIMEOUT_S).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert caught.value.possibly_delivered


async def test_whole_exchange_is_bounded_by_a_deadline(
    smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 1 s deadline with 5 s command timeouts: the deadline must fire first.
    monkeypatch.setattr(smtp_mailer, "DEADLINE_TIMEOUTS", 0.2)
    smtp_server.hold_data()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert "1 s deadline" in caught.value.reason


async def test_cancellation_is_not_turned_into_a_delivery_error(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.hold_data()
    sending = asyncio.create_task(
        mailer_for(smtp_server.port, timeout_s=10 * PATIENT_TIMEOUT_S).send(EMAIL)
    )
    await smtp_server.wait_until_data_held()

    sending.cancel()

    with pytest.raises(asyncio.CancelledError):
        await sending


async def test_login_with_good_credentials_delivers(
    smtp_server_factory: SmtpTestServerFactory,
) -> None:
    server = smtp_server_factory(credentials=("user", PASSWORD))

    await mailer_for(server.port, username="user", password=PASSWORD).send(EMAIL)

    assert len(server.messages) == 1


async def test_rejected_login_is_permanent_and_hides_the_password(
    smtp_server_factory: SmtpTestServerFactory,
) -> None:
    server = smtp_server_factory(credentials=("user", PASSWORD))

    with pytest.raises(PermanentDeliveryError) as caught:
        await mailer_for(server.port, username="user", password="wrong-" + PASSWORD).send(EMAIL)

    assert caught.value.code == 535
    assert PASSWORD not in str(caught.value)
    assert server.messages == []


async def test_address_smtp_cannot_carry_is_permanent(smtp_server: SmtpTestServer) -> None:
    email = replace(EMAIL, to="jörg@example.com")

    with pytest.raises(PermanentDeliveryError):
        await mailer_for(smtp_server.port).send(email)
