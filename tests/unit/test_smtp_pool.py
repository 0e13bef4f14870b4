"""SmtpPool's bookkeeping with fake clients: slots, waiting, fresh connections, closing."""

import asyncio
from typing import Any, cast

import aiosmtplib
import pytest

from adapters.smtp_pool import SmtpPool
from application.errors import TransientDeliveryError


class FakeClient:
    """Stands in for ``aiosmtplib.SMTP``: records RSET, QUIT and close."""

    def __init__(self) -> None:
        self.is_connected = True
        self.commands: list[str] = []

    async def rset(self) -> None:
        self.commands.append("RSET")

    async def execute_command(self, command: bytes) -> None:
        self.commands.append(command.decode())

    def close(self) -> None:
        self.is_connected = False

    transport = None


class Opener:
    def __init__(self) -> None:
        self.opened: list[FakeClient] = []

    async def __call__(self) -> aiosmtplib.SMTP:
        self.opened.append(FakeClient())
        return cast(aiosmtplib.SMTP, self.opened[-1])


def pool_with(opener: Opener, **options: Any) -> SmtpPool:
    return SmtpPool(opener, **({"size": 2, "max_messages": 100, "idle_s": 30.0} | options))


async def test_a_full_pool_makes_the_next_acquire_wait() -> None:
    opener = Opener()
    pool = pool_with(opener, size=1)
    lent = await pool.acquire()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await pool.acquire()

    pool.release(lent, reusable=True)
    again = await pool.acquire()
    assert again is lent
    assert again.reused
    assert len(opener.opened) == 1
    assert opener.opened[0].commands == []  # its last transaction completed: no RSET


async def test_a_connection_whose_transaction_failed_gets_rset_before_reuse() -> None:
    opener = Opener()
    pool = pool_with(opener, size=1)
    lent = await pool.acquire()
    lent.needs_reset = True  # the mailer marks a refused or abandoned transaction so

    pool.release(lent, reusable=True)
    again = await pool.acquire()

    assert again is lent
    assert opener.opened[0].commands == ["RSET"]
    assert not again.needs_reset


async def test_a_fresh_acquire_skips_idle_connections() -> None:
    opener = Opener()
    pool = pool_with(opener)
    pool.release(await pool.acquire(), reusable=True)

    fresh = await pool.acquire(fresh=True)

    assert not fresh.reused
    assert len(opener.opened) == 2
    assert pool.idle == 1


async def test_a_connection_in_doubt_is_closed_not_kept() -> None:
    opener = Opener()
    pool = pool_with(opener)

    pool.release(await pool.acquire(), reusable=False)

    assert pool.idle == 0
    assert not opener.opened[0].is_connected
    assert opener.opened[0].commands == []


async def test_close_quits_idle_connections_and_refuses_new_deliveries() -> None:
    opener = Opener()
    pool = pool_with(opener)
    pool.release(await pool.acquire(), reusable=True)

    await pool.aclose()

    assert opener.opened[0].commands == ["QUIT"]
    with pytest.raises(TransientDeliveryError):
        await pool.acquire()


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        pool_with(Opener(), size=0)


async def test_open_connections_counts_lent_and_idle_ones() -> None:
    pool = pool_with(Opener(), size=2)
    first = await pool.acquire()
    second = await pool.acquire()
    assert pool.open_connections == 2
    pool.release(first, reusable=True)
    assert (pool.open_connections, pool.idle) == (2, 1)
    pool.release(second, reusable=False)
    assert pool.open_connections == 1
    await pool.aclose()
