"""Rich messages through SmtpMailer to a real SMTP server (aiosmtpd on 127.0.0.1): what arrives
(envelope, bytes, headers, parts), per-recipient results, IDNA and SMTPUTF8; and once through the
whole service (``mailroom serve``, Redis store) from the HTTP request to the task's result."""

import asyncio
import base64
import email
import email.policy
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.deliver_email import DeliverEmail, Outcome
from application.errors import PermanentDeliveryError, TransientDeliveryError
from application.ports import Lease
from domain.message import Attachment, Email, Mailbox, SmtpReply
from domain.retry import RetryPolicy
from domain.task import Task, TaskStatus
from tests.integration.fixtures.smtp_recorder import SmtpRecorder
from tests.integration.fixtures.smtp_server import (
    HOST,
    SERVER_NAME,
    SmtpMailerFactory,
    SmtpTestServer,
    free_port,
)
from tests.integration.processes import mailroom

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Grüße aus Zürich — " + "a rather long subject " * 6,
    body="Hello,\n.\n..two dots\n.leading dot\rbare cr\r\nüber " + "x" * 1200 + "\nbye",
    message_id="<task-1@example.org>",
    date=NOW,
)
RICH = replace(
    EMAIL,
    to_name="Jörg Müller",
    cc=(Mailbox("ann@example.com", "Ann, the Reviewer"), Mailbox("bob@example.com")),
    bcc=("hidden@example.net",),
    reply_to=Mailbox("support@example.org", "Support Désk"),
    html="<p>Grüße</p>\n.\n<p>" + "y" * 1500 + "</p>",
    attachments=(Attachment("Rechnung März.pdf", "application/pdf", PDF),),
    headers=(("X-Campaign", "spring ☃"), ("In-Reply-To", "<parent@example.org>")),
)


class RecordingServer(SmtpRecorder):
    """A recording aiosmtpd server that offers SMTPUTF8 or not (the ``smtp_server`` fixture
    always does: aiosmtpd's ``Controller`` default) and remembers each MAIL's options."""

    def __init__(self, *, smtputf8: bool) -> None:
        super().__init__()
        self.host, self.port = HOST, free_port()
        self.mail_options: list[list[str]] = []
        self.controller = Controller(
            self,
            hostname=HOST,
            port=self.port,
            server_hostname=SERVER_NAME,
            enable_SMTPUTF8=smtputf8,
        )

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_options.append(list(options))
        return await super().handle_MAIL(server, session, envelope, address, options)


def _running(server: RecordingServer) -> Iterator[RecordingServer]:
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def smtputf8_server() -> Iterator[RecordingServer]:
    yield from _running(RecordingServer(smtputf8=True))


@pytest.fixture
def ascii_server() -> Iterator[RecordingServer]:
    yield from _running(RecordingServer(smtputf8=False))


def lines_of(content: bytes) -> list[bytes]:
    return content.split(b"\r\n")


async def test_a_rich_message_arrives_as_submitted(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    receipt = await smtp_mailer_factory(smtp_server.port).send(RICH)

    [received] = smtp_server.messages
    assert received.rcpt_tos == (
        "user@example.com",
        "ann@example.com",
        "bob@example.com",
        "hidden@example.net",
    )
    assert receipt.accepted == received.rcpt_tos
    assert receipt.refused == {}
    message = received.message
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Jörg Müller", "user@example.com")
    assert [(a.display_name, a.addr_spec) for a in message["Cc"].addresses] == [
        ("Ann, the Reviewer", "ann@example.com"),
        ("", "bob@example.com"),
    ]
    assert message["Reply-To"].addresses[0].display_name == "Support Désk"
    assert message["Subject"] == RICH.subject
    assert message["X-Campaign"] == "spring ☃"
    assert message["In-Reply-To"] == "<parent@example.org>"
    assert message["Message-ID"] == "<task-1@example.org>"
    assert b"hidden@example.net" not in received.content
    assert "Bcc" not in message
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == (
        "Hello,\n.\n..two dots\n.leading dot\nbare cr\nüber " + "x" * 1200 + "\nbye\n"
    )
    assert html.get_content().replace("\r\n", "\n") == RICH.html + "\n"
    [attachment] = message.iter_attachments()
    assert attachment.get_filename() == "Rechnung März.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == PDF
    assert max(len(line) for line in lines_of(received.content)) <= 998


async def test_dot_lines_and_line_ends_arrive_intact_in_a_7bit_body(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    body = ".\n..\n...three\n. space\nlf\ncr\rcrlf\r\n" + "z" * 998 + "\n."

    await smtp_mailer_factory(smtp_server.port).send(replace(EMAIL, body=body))

    [received] = smtp_server.messages
    assert received.message["Content-Transfer-Encoding"] == "7bit"
    assert received.content.endswith(
        b"\r\n\r\n.\r\n..\r\n...three\r\n. space\r\nlf\r\ncr\r\ncrlf\r\n"
        + b"z" * 998
        + b"\r\n.\r\n"
    )
    assert received.content.count(b"\n") == received.content.count(b"\r\n")


async def test_refused_recipients_are_reported_and_the_others_get_the_message(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")  # the first RCPT: the To address
    email_ = replace(EMAIL, cc=(Mailbox("ann@example.com"),), bcc=("bob@example.com",))

    receipt = await smtp_mailer_factory(smtp_server.port).send(email_)

    [received] = smtp_server.messages
    assert received.rcpt_tos == ("ann@example.com", "bob@example.com")
    assert received.message["To"] == "user@example.com"  # the message itself is unchanged
    assert receipt.accepted == ("ann@example.com", "bob@example.com")
    assert dict(receipt.refused) == {"user@example.com": SmtpReply(550, "5.1.1 no such user")}
    result = Task.accept("t", email_, NOW).start_attempt(NOW).complete(receipt, NOW).result
    assert result is not None
    assert result["refused"] == {
        "user@example.com": {"smtp_code": 550, "smtp_message": "5.1.1 no such user"}
    }
    assert result["accepted"] == ["ann@example.com", "bob@example.com"]
    assert result["smtp_code"] == 250


async def test_every_recipient_refused_with_5yz_is_permanent_and_names_each(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
    smtp_server.reply_next("RCPT", "553 5.1.3 bad mailbox")
    email_ = replace(EMAIL, cc=(Mailbox("ann@example.com"),))

    with pytest.raises(PermanentDeliveryError) as caught:
        await smtp_mailer_factory(smtp_server.port).send(email_)

    assert caught.value.code == 550
    assert caught.value.reason.startswith("550 5.1.1 no such user (user@example.com); ")
    assert "553 5.1.3 bad mailbox (ann@example.com)" in caught.value.reason
    assert smtp_server.messages == []


async def test_every_recipient_refused_with_some_4yz_is_transient(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
    smtp_server.reply_next("RCPT", "452 4.2.2 mailbox full")
    email_ = replace(EMAIL, cc=(Mailbox("ann@example.com"),))

    with pytest.raises(TransientDeliveryError) as caught:
        await smtp_mailer_factory(smtp_server.port).send(email_)

    assert caught.value.code == 452
    assert "452 4.2.2 mailbox full (ann@example.com)" in caught.value.reason
    assert smtp_server.messages == []


async def test_a_task_whose_recipients_are_all_refused_fails_and_partial_completes(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    queue = InMemoryTaskQueue(clock=lambda: NOW)
    store = InMemoryTaskStore(queue=queue, clock=lambda: NOW, ttl_s=3600)
    deliver = DeliverEmail(
        store=store,
        mailer=smtp_mailer_factory(smtp_server.port),
        clock=lambda: NOW,
        policy=RetryPolicy(base_s=1, max_s=1, max_attempts=3),
        uniform=lambda low, high: high,
    )
    email_ = replace(EMAIL, cc=(Mailbox("ann@example.com"),))
    for task_id in ("all-refused", "one-refused"):
        await store.add(Task.accept(task_id, email_, NOW - timedelta(seconds=1)))

    smtp_server.reply_next("RCPT", "550 5.1.1 no such user", times=2)
    assert await deliver(Lease("all-refused", "1")) is Outcome.FAILED
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
    assert await deliver(Lease("one-refused", "2")) is Outcome.COMPLETED

    failed, completed = await store.get("all-refused"), await store.get("one-refused")
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert "550 5.1.1 no such user" in failed.error
    assert completed.status is TaskStatus.COMPLETED
    assert completed.result is not None
    assert list(completed.result["refused"]) == ["user@example.com"]  # type: ignore[call-overload]


async def test_an_international_domain_goes_out_as_idna_without_smtputf8(
    ascii_server: RecordingServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    email_ = replace(EMAIL, to="user@bücher.example", cc=(Mailbox("a@straße.de", "Straße"),))

    receipt = await smtp_mailer_factory(ascii_server.port).send(email_)

    assert ascii_server.mail_options == [[]]
    [received] = ascii_server.messages
    assert received.rcpt_tos == ("user@xn--bcher-kva.example", "a@xn--strae-oqa.de")
    assert received.message["To"] == "user@xn--bcher-kva.example"
    assert received.message["Cc"].addresses[0].addr_spec == "a@xn--strae-oqa.de"
    assert received.content.split(b"\r\n\r\n", 1)[0].isascii()
    assert receipt.accepted == ("user@bücher.example", "a@straße.de")  # as submitted


async def test_a_non_ascii_local_part_uses_smtputf8_when_offered(
    smtputf8_server: RecordingServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    email_ = replace(EMAIL, to="jörg@bücher.example", to_name="Jörg", bcc=("李@example.com",))

    receipt = await smtp_mailer_factory(smtputf8_server.port).send(email_)

    [received] = smtputf8_server.messages
    assert "SMTPUTF8" in smtputf8_server.mail_options[0]
    assert received.rcpt_tos == ("jörg@bücher.example", "李@example.com")
    message = email.message_from_string(received.content.decode(), policy=email.policy.SMTPUTF8)
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Jörg", "jörg@bücher.example")
    assert "李@example.com".encode() not in received.content
    assert receipt.accepted == ("jörg@bücher.example", "李@example.com")


async def test_a_non_ascii_local_part_fails_permanently_without_smtputf8(
    ascii_server: RecordingServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await smtp_mailer_factory(ascii_server.port).send(replace(EMAIL, to="jörg@example.com"))

    assert "SMTPUTF8 is required" in caught.value.reason
    assert "jörg@example.com" in caught.value.reason
    assert ascii_server.mail_options == []  # refused before MAIL
    assert ascii_server.messages == []


async def test_an_ascii_message_to_an_smtputf8_server_does_not_ask_for_it(
    smtputf8_server: RecordingServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    await smtp_mailer_factory(smtputf8_server.port).send(EMAIL)

    assert smtputf8_server.mail_options == [[]]
    [received] = smtputf8_server.messages
    assert received.message["Subject"] == EMAIL.subject


async def test_a_rich_request_through_the_service_and_redis_arrives_with_per_recipient_results(
    smtp_server: SmtpTestServer, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "MAILROOM_STORE": "redis",
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_KEY_PREFIX": f"rich-{uuid.uuid4().hex[:8]}:",
        "MAILROOM_MAILER": "smtp",
        "MAILROOM_SMTP_HOST": smtp_server.host,
        "MAILROOM_SMTP_PORT": str(smtp_server.port),
        "MAILROOM_SMTP_LOCAL_HOSTNAME": "mailroom.test",
        "MAILROOM_MAIL_FROM": "noreply@example.org",
    }
    payload = {
        "email": "Jörg Müller <jorg@example.com>",
        "subject": "Grüße — 你好",
        "body": "Hallo\n.\n..zwei Punkte\n",
        "cc": ["Ann <ann@example.com>"],
        "bcc": ["hidden@example.net"],
        "html": "<p>Hallo</p>",
        "attachments": [
            {
                "filename": "März.pdf",
                "content_type": "application/pdf",
                "content": base64.b64encode(PDF).decode(),
            }
        ],
        "headers": {"X-Campaign": "spring ☃"},
    }
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")  # the To address

    with mailroom("serve", env, tmp_path) as proc:
        async with httpx.AsyncClient(base_url=proc.base_url or "", timeout=5) as client:
            accepted = await client.post("/send-email", json=payload)
            assert accepted.status_code == 202, accepted.text
            status = await _completed(client, accepted.json()["task_id"])

    [received] = await smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ("ann@example.com", "hidden@example.net")
    assert b"hidden@example.net" not in received.content
    message = received.message
    assert message["To"].addresses[0].display_name == "Jörg Müller"
    assert message["Subject"] == "Grüße — 你好"
    assert message["X-Campaign"] == "spring ☃"
    [attachment] = message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_payload(decode=True)) == ("März.pdf", PDF)
    assert status["result"]["refused"] == {
        "jorg@example.com": {"smtp_code": 550, "smtp_message": "5.1.1 no such user"}
    }
    assert status["result"]["accepted"] == ["ann@example.com", "hidden@example.net"]
    assert status["result"]["message_id"] == message["Message-ID"]


async def _completed(client: httpx.AsyncClient, task_id: str, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = (await client.get(f"/task/{task_id}/status")).json()
        if status["status"] in ("completed", "failed"):
            assert status["status"] == "completed", status
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} not done within {timeout_s} s: {status}")
