"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1): delivery, failure mapping,
timeouts and deadlines, and its wiring into the service (started at start, closed at shutdown)."""

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from adapters.smtp_mailer import SmtpConfig, SmtpMailer
from application.errors import PermanentDeliveryError, TransientDeliveryError
from application.ports import Mailer
from domain.message import Email
from entrypoints.app import create_app
from entrypoints.container import build_container, provide, resources_open
from entrypoints.settings import Settings
from tests.integration.fixtures.smtp_server import (
    HOST,
    SilentTcpServer,
    SmtpMailerFactory,
    SmtpTestServer,
)


@pytest.fixture
def mailer_for(smtp_mailer_factory: SmtpMailerFactory) -> SmtpMailerFactory:
    return smtp_mailer_factory


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


async def test_it_is_a_mailer(smtp_mailer_factory: SmtpMailerFactory) -> None:
    assert isinstance(smtp_mailer_factory(25), Mailer)


def test_config_repr_hides_the_password() -> None:
    config = SmtpConfig(HOST, 465, "tls", "user", PASSWORD, timeout_s=1.0)

    assert PASSWORD not in repr(config)


async def test_delivers_the_rendered_message(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
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
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")

    with pytest.raises(PermanentDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 550
    assert "550 5.1.1 no such user" in caught.value.reason
    assert not caught.value.possibly_delivered
    assert smtp_server.messages == []


async def test_temporary_rejection_of_the_data_is_transient(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("DATA", "451 4.3.0 try later")

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 451
    assert "451 4.3.0 try later" in caught.value.reason
    assert not caught.value.possibly_delivered  # a reply to the data is a definite "not taken"


async def test_refused_sender_is_classified_by_its_code(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.reply_next("MAIL", "421 4.7.0 too busy")

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port).send(EMAIL)

    assert caught.value.code == 421
    assert not caught.value.possibly_delivered


async def test_connection_refused_is_transient(
    closed_port: int, mailer_for: SmtpMailerFactory
) -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(closed_port).send(EMAIL)

    assert caught.value.code is None


async def test_stalled_server_times_out_as_transient(
    stalled_smtp_server: SilentTcpServer, mailer_for: SmtpMailerFactory
) -> None:
    started = time.monotonic()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(stalled_smtp_server.port, timeout_s=TIMEOUT_S).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert time.monotonic() - started < TIMEOUT_S * 4


async def test_failure_while_the_server_holds_the_data_reply_sets_possibly_delivered(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.hold_data()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port, timeout_s=TIMEOUT_S).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert caught.value.possibly_delivered


async def test_whole_exchange_is_bounded_by_a_deadline(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    # A 1 s deadline with 5 s command timeouts: the deadline must fire first.
    smtp_server.hold_data()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port, deadline_s=1.0).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert "1 s deadline" in caught.value.reason


async def test_cancellation_is_not_turned_into_a_delivery_error(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.hold_data()
    sending = asyncio.create_task(
        mailer_for(smtp_server.port, timeout_s=10 * PATIENT_TIMEOUT_S).send(EMAIL)
    )
    await smtp_server.wait_until_data_held()

    sending.cancel()

    with pytest.raises(asyncio.CancelledError):
        await sending


async def test_each_command_is_bounded_by_the_timeout_not_only_the_greeting(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory
) -> None:
    smtp_server.hold_data()  # the server stops answering after the message data
    started = time.monotonic()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer_for(smtp_server.port, timeout_s=TIMEOUT_S, deadline_s=30.0).send(EMAIL)

    assert "timeout" in caught.value.reason
    assert time.monotonic() - started < 10 * TIMEOUT_S  # the command timeout, not the deadline


async def test_the_ehlo_name_is_resolved_once_off_the_event_loop(
    smtp_server: SmtpTestServer, mailer_for: SmtpMailerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []

    def getfqdn(name: str = "") -> str:
        lookups.append(threading.current_thread().name)
        return "resolved.mailroom.test"

    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    mailer = mailer_for(smtp_server.port, local_hostname=None, max_messages_per_connection=1)

    await mailer.start()
    await mailer.send(EMAIL)
    await mailer.send(EMAIL)  # on a second connection

    assert smtp_server.connections == 2
    assert smtp_server.ehlo_names == ["resolved.mailroom.test"] * 2
    assert len(lookups) == 1
    assert lookups[0] != threading.main_thread().name


def smtp_settings(port: int, **changes: object) -> Settings:
    settings = {
        "mailer": "smtp",
        "smtp_port": port,
        "smtp_local_hostname": "mailroom.test",
        "smtp_timeout_seconds": PATIENT_TIMEOUT_S,
    }
    return Settings(**(settings | changes))  # type: ignore[arg-type]


async def test_the_service_closes_its_smtp_connections_at_shutdown(
    smtp_server: SmtpTestServer,
) -> None:
    container = build_container(smtp_settings(smtp_server.port))

    async with resources_open(container):
        mailer = await provide(container.mailer)
        assert isinstance(mailer, SmtpMailer)
        await mailer.send(EMAIL)
        await mailer.send(replace(EMAIL, message_id="<task-2@example.org>"))
        assert smtp_server.quits == 0  # the connection stays open between messages

    assert (smtp_server.connections, smtp_server.quits) == (1, 1)


@pytest.fixture
async def serving(stalled_smtp_server: SilentTcpServer) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service in this process and event loop (API and worker), delivering to a server
    that accepts connections and never speaks."""
    settings = smtp_settings(stalled_smtp_server.port, smtp_timeout_seconds=2.0, max_attempts=1)
    app = create_app(settings)
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mailroom.test"
        ) as client,
    ):
        yield client


def lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    return app.router.lifespan_context(app)


async def test_a_silent_server_fails_the_attempt_with_a_timeout_while_the_api_stays_fast(
    serving: httpx.AsyncClient,
) -> None:
    payload = {"email": "user@example.com", "subject": "Hello", "body": "Hi"}
    task_id = (await serving.post("/send-email", json=payload)).json()["task_id"]
    slowest_s = 0.0
    deadline = time.monotonic() + 20
    while (status := (await serving.get(f"/task/{task_id}/status")).json())["status"] != "failed":
        assert time.monotonic() < deadline, status
        started = time.monotonic()
        assert (await serving.get("/healthz")).status_code == 200
        slowest_s = max(slowest_s, time.monotonic() - started)
        await asyncio.sleep(0.02)

    assert "timeout" in status["error"], status
    assert slowest_s < 1.0  # the API answered while the delivery waited 2 s for the greeting
