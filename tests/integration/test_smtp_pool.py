"""The SMTP connection pool, counted at the server (aiosmtpd): reuse, RSET after a refused one,
replacement after N messages or when idle, dropped connections and the retry before DATA."""

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import aiosmtplib
import pytest

from adapters.mime import render
from adapters.smtp_mailer import SmtpMailer
from adapters.smtp_transfer import Progress, transfer
from application.errors import PermanentDeliveryError, TransientDeliveryError
from domain.message import Email
from tests.integration.fixtures.smtp_server import SmtpMailerFactory, SmtpTestServer

EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Pooled",
    body="One of many.\n",
    message_id="<pool-0@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def nth(number: int) -> Email:
    return replace(EMAIL, message_id=f"<pool-{number}@example.org>")


async def send_in_turn(mailer: SmtpMailer, count: int, first: int = 0) -> None:
    for number in range(first, first + count):
        await mailer.send(nth(number))


async def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        await asyncio.sleep(0.01)


async def test_sixty_concurrent_messages_share_the_pool_connections(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, pool_size=4)

    await asyncio.gather(*(mailer.send(nth(number)) for number in range(60)))

    ids = sorted(str(received.message["Message-ID"]) for received in smtp_server.messages)
    assert ids == sorted(f"<pool-{number}@example.org>" for number in range(60))
    assert 1 <= smtp_server.connections <= 4


async def test_messages_in_turn_use_one_connection_without_rset_after_completed_ones(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    await send_in_turn(smtp_mailer_factory(smtp_server.port), 60)

    assert len(smtp_server.messages) == 60
    assert smtp_server.connections == 1
    assert smtp_server.resets == 0  # MAIL after a completed transaction starts a new one


async def test_a_refused_transaction_leaves_the_connection_usable_after_rset(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port)
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")

    with pytest.raises(PermanentDeliveryError):
        await mailer.send(nth(1))
    await mailer.send(nth(2))

    assert [str(received.message["Message-ID"]) for received in smtp_server.messages] == [
        "<pool-2@example.org>"
    ]
    assert (smtp_server.connections, smtp_server.resets) == (1, 1)
    await mailer.send(nth(3))  # after a completed one: no RSET
    assert (smtp_server.connections, smtp_server.resets) == (1, 1)


async def test_a_connection_is_replaced_after_its_message_limit(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    await send_in_turn(smtp_mailer_factory(smtp_server.port, max_messages_per_connection=3), 7)

    assert len(smtp_server.messages) == 7
    assert smtp_server.connections == 3  # 3 + 3 + 1
    await eventually(lambda: smtp_server.quits == 2, "QUIT on both spent connections")


async def test_an_idle_connection_is_closed_and_replaced(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, idle_s=0.3)
    await mailer.send(nth(1))

    await eventually(lambda: smtp_server.quits == 1, "QUIT on the idle connection")
    await mailer.send(nth(2))

    assert (len(smtp_server.messages), smtp_server.connections) == (2, 2)


async def test_a_server_restart_costs_one_new_connection_and_no_failed_delivery(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port)
    await send_in_turn(mailer, 2)

    smtp_server.restart()
    await send_in_turn(mailer, 3, first=2)

    assert len(smtp_server.messages) == 5
    assert smtp_server.connections == 2


async def test_a_reused_connection_dropped_before_data_is_retried_once_on_a_new_one(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port)
    await mailer.send(nth(1))
    smtp_server.drop_next("MAIL")  # the server hangs up on the reused connection at MAIL

    receipt = await mailer.send(nth(2))

    assert receipt.reply is not None
    assert receipt.reply.code == 250
    assert len(smtp_server.messages) == 2
    assert smtp_server.connections == 2


async def test_a_new_connection_dropped_before_data_is_not_retried(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    smtp_server.drop_next("MAIL")

    with pytest.raises(TransientDeliveryError) as caught:
        await smtp_mailer_factory(smtp_server.port).send(EMAIL)

    assert "connection lost" in caught.value.reason
    assert not caught.value.possibly_delivered
    assert smtp_server.connections == 1


async def test_a_connection_dropped_after_the_data_is_not_retried(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port)
    await mailer.send(nth(1))
    smtp_server.drop_next("DATA")  # the message went out whole; the reply never comes

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer.send(nth(2))

    assert caught.value.possibly_delivered
    assert smtp_server.connections == 1  # no second try: the server may hold the message


async def test_a_connection_left_in_doubt_by_a_timeout_is_not_reused(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, timeout_s=0.5)
    smtp_server.hold_data()
    with pytest.raises(TransientDeliveryError):
        await mailer.send(nth(1))
    smtp_server.release_data()

    await mailer.send(nth(2))

    assert smtp_server.connections == 2


async def test_deliveries_beyond_the_pool_size_wait_for_a_free_connection(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, pool_size=1)
    smtp_server.hold_data()
    first = asyncio.create_task(mailer.send(nth(1)))
    await smtp_server.wait_until_data_held()
    second = asyncio.create_task(mailer.send(nth(2)))

    await asyncio.sleep(0.3)
    assert not second.done()
    assert smtp_server.connections == 1
    smtp_server.release_data()
    await asyncio.gather(first, second)

    assert (len(smtp_server.messages), smtp_server.connections) == (2, 1)


async def test_each_reply_is_awaited_no_longer_than_the_deadline_leaves(
    smtp_server: SmtpTestServer,
) -> None:
    # As when the deadline's cancellation was lost (Python 3.11's asyncio.wait_for drops one that
    # arrives as a reply does): nothing cancels the transfer, the 5 s command timeout is long,
    # and the held DATA reply is still not awaited past the deadline.
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_server.port, timeout=5.0)
    await client.connect()
    smtp_server.hold_data()
    email = nth(1)
    started = time.monotonic()
    try:
        deadline_at = asyncio.get_running_loop().time() + 0.3
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await transfer(client, email, render(email), Progress(), deadline_at)
        assert time.monotonic() - started < 1.5
    finally:
        smtp_server.release_data()
        client.close()


async def test_waiting_for_a_free_connection_counts_against_the_deadline(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, pool_size=1, deadline_s=1.0)
    smtp_server.hold_data()
    first = asyncio.create_task(mailer.send(nth(1)))
    await smtp_server.wait_until_data_held()
    started = time.monotonic()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer.send(nth(2))

    assert "1 s deadline" in caught.value.reason
    assert time.monotonic() - started < 3.0  # far from the 5 s command timeout
    smtp_server.release_data()
    with contextlib.suppress(TransientDeliveryError):
        await first


async def test_a_cancelled_delivery_gives_its_connection_slot_back(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port, pool_size=1)
    smtp_server.hold_data()
    sending = asyncio.create_task(mailer.send(nth(1)))
    await smtp_server.wait_until_data_held()
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    smtp_server.release_data()

    await mailer.send(nth(2))

    assert smtp_server.connections == 2  # the cancelled one was closed, its slot freed


async def test_after_close_no_delivery_starts(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(smtp_server.port)
    await mailer.send(nth(1))
    await mailer.aclose()

    with pytest.raises(TransientDeliveryError) as caught:
        await mailer.send(nth(2))

    assert "shut down" in caught.value.reason
    assert (smtp_server.connections, smtp_server.quits) == (1, 1)
