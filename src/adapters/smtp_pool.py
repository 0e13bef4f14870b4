"""A pool of open SMTP connections, each lent to one delivery at a time.

One SMTP session may carry many mail transactions (RFC 5321 §3.3). After a completed transaction
the next one starts with MAIL, which itself resets the server's state (§3.3, §4.1.1.2); after one
that was refused or abandoned mid-way the pool first sends ``RSET`` (§4.1.1.5) to clear what it
left behind, and a connection that does not answer 250 is replaced. A reused connection the
server dropped while it sat idle shows at MAIL, before any data: the mailer then retries the
delivery once on a new connection (``adapters.smtp_mailer``). A connection is replaced when it has
carried ``max_messages`` messages, when it sat unused for ``idle_s`` seconds (closed by a timer,
not only when next needed, so a quiet process does not hold sessions open on the server), when
the server dropped it, or when a delivery left it in an unknown state (a timeout, a cancellation,
a lost reply). Retired connections get a polite ``QUIT`` in the background.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import aiosmtplib

from adapters.smtp_connection import discard
from application.errors import TransientDeliveryError

Opener = Callable[[], Awaitable[aiosmtplib.SMTP]]
"""Opens a connection ready for a transaction (see ``SmtpConnector.open``)."""

_TIMER_SLACK_S: Final = 0.01
"""asyncio may run a timer up to its clock resolution early; this much counts as expired."""


@dataclass(eq=False, slots=True)
class PooledConnection:
    """A connection lent to one delivery. ``messages`` counts the deliveries it was lent for,
    this one included; ``idle_since`` is on the event loop's clock (seconds)."""

    client: aiosmtplib.SMTP
    messages: int = 0
    idle_since: float = 0.0
    needs_reset: bool = False
    """The last transaction on it did not complete: ``RSET`` before the next one."""

    @property
    def reused(self) -> bool:
        """True when the connection served an earlier delivery before this one."""
        return self.messages > 1


class SmtpPool:
    """At most ``size`` connections at once, opened by ``opener`` when none is idle."""

    def __init__(self, opener: Opener, *, size: int, max_messages: int, idle_s: float) -> None:
        if size < 1 or max_messages < 1 or idle_s <= 0:
            raise ValueError("size and max_messages must be at least 1, idle_s positive")
        self._open = opener
        self._max_messages = max_messages
        self._idle_s = idle_s
        self._slots = asyncio.Semaphore(size)
        self._idle: list[PooledConnection] = []
        self._lent = 0
        self._retiring: set[asyncio.Task[None]] = set()
        self._pruning: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def idle(self) -> int:
        """How many open connections wait for a delivery."""
        return len(self._idle)

    @property
    def open_connections(self) -> int:
        """Connections open now: lent to a delivery or idle (for the pool-connections metric)."""
        return self._lent + len(self._idle)

    async def acquire(self, *, fresh: bool = False) -> PooledConnection:
        """A connection ready for a new transaction: the most recently used idle one (that
        answers ``RSET`` when ``needs_reset``), else a new one (always a new one if ``fresh``).
        Waits while ``size`` are lent out; bound the wait with the caller's deadline. Raises
        whatever opening raises, or ``TransientDeliveryError`` once the pool is closed. Give it
        back with ``release``."""
        if self._closed:
            raise TransientDeliveryError("the SMTP mailer is shut down")
        await self._slots.acquire()
        try:
            connection = None if fresh else await self._reuse_idle()
            if connection is None:
                connection = PooledConnection(await self._open())
        except BaseException:
            self._slots.release()
            raise
        connection.messages += 1
        self._lent += 1
        return connection

    def release(self, connection: PooledConnection, *, reusable: bool) -> None:
        """Give a connection back. ``reusable``: the delivery left the session in a known state
        (its transaction completed, or was refused with a reply), so it can serve the next one
        unless spent or disconnected; otherwise it is closed at once."""
        self._slots.release()
        self._lent -= 1
        if not (reusable and connection.client.is_connected):
            discard(connection.client)
        elif self._closed or connection.messages >= self._max_messages:
            self._retire(connection)
        else:
            connection.idle_since = _now()
            self._idle.append(connection)
            self._schedule_pruning()

    async def aclose(self) -> None:
        """Close idle connections (``QUIT``, each bounded by the client's timeout) and wait for
        those being retired; connections still lent out are closed when released."""
        self._closed = True
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None
        idle, self._idle = self._idle, []
        for connection in idle:
            self._retire(connection)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def _reuse_idle(self) -> PooledConnection | None:
        while self._idle:
            connection = self._idle.pop()
            if self._expired(connection, _now()):
                self._retire(connection)
            elif not connection.client.is_connected:
                discard(connection.client)
            elif not connection.needs_reset or await _answers_reset(connection.client):
                connection.needs_reset = False
                return connection
        return None

    def _expired(self, connection: PooledConnection, now: float) -> bool:
        return now + _TIMER_SLACK_S >= connection.idle_since + self._idle_s

    def _retire(self, connection: PooledConnection) -> None:
        retiring = asyncio.get_running_loop().create_task(_quit_quietly(connection.client))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)

    def _schedule_pruning(self) -> None:
        if self._pruning is None and self._idle and not self._closed:
            due = min(connection.idle_since for connection in self._idle) + self._idle_s
            self._pruning = asyncio.get_running_loop().call_at(due, self._prune)

    def _prune(self) -> None:
        self._pruning = None
        now = _now()
        expired = [connection for connection in self._idle if self._expired(connection, now)]
        self._idle = [connection for connection in self._idle if connection not in expired]
        for connection in expired:
            self._retire(connection)
        self._schedule_pruning()


def _now() -> float:
    return asyncio.get_running_loop().time()


async def _answers_reset(client: aiosmtplib.SMTP) -> bool:
    """RSET on an idle connection; False (and the connection closed) if the server dropped it or
    answered anything but 250."""
    if not client.is_connected:
        discard(client)
        return False
    try:
        await client.rset()  # raises SMTPResponseException unless the reply is 250
    except (aiosmtplib.SMTPException, OSError):
        discard(client)
        return False
    except BaseException:
        discard(client)  # cancelled mid-command: the session's state is unknown
        raise
    return True


async def _quit_quietly(client: aiosmtplib.SMTP) -> None:
    """QUIT, wait for the reply, close (RFC 5321 §4.1.1.10); the connection is being discarded,
    so a failure changes nothing. Not ``SMTP.quit()``, whose close waits on TLS's closing
    handshake."""
    with contextlib.suppress(Exception):
        await client.execute_command(b"QUIT")
    discard(client)
