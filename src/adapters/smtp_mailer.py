"""Deliver over SMTP with aiosmtplib, through a pool of reused connections.

Each delivery borrows a connection (``adapters.smtp_pool``: RSET before reuse only after an
incomplete transaction, replaced after N messages or when idle), runs MAIL, RCPT and DATA on it
(``adapters.smtp_transfer``) and gives it back. A failure after the whole message was sent but
before the server's reply to it carries ``possibly_delivered=True``, since the server may hold
it. When the server dropped a reused connection before DATA (a restart, an idle timeout on its
side, a 421), the delivery is retried once on a new connection; a drop on a new connection is
reported, not retried, so a failing server is not hit twice per attempt.
"""

import asyncio
import logging

import aiosmtplib
from aiosmtplib import SMTPResponse

from adapters.mime import render
from adapters.smtp_config import DEADLINE_TIMEOUTS, Security, SmtpConfig, config_warnings
from adapters.smtp_connection import SmtpConnector
from adapters.smtp_errors import auth_secrets, delivery_error
from adapters.smtp_pool import PooledConnection, SmtpPool
from adapters.smtp_transfer import Progress, receipt, transfer
from application.errors import DeliveryFailed
from domain.message import DeliveryReceipt, Email

__all__ = ["DEADLINE_TIMEOUTS", "Security", "SmtpConfig", "SmtpMailer"]

log = logging.getLogger(__name__)

_CLOSING = 421  # RFC 5321 §3.8: the server is closing the transmission channel


class SmtpMailer:
    """``Mailer`` port over SMTP. Every failure becomes a ``TransientDeliveryError`` or a
    ``PermanentDeliveryError`` (see ``adapters.smtp_errors``); ``config.effective_deadline_s``
    bounds one whole ``send``, the wait for a free connection included. The receipt
    (``smtp_transfer.receipt``) carries the reply to the message data and each recipient's outcome.

    Call ``start()`` once at start (it logs configuration warnings and does the blocking set-up
    off the event loop; ``send`` does the set-up itself otherwise) and ``aclose()`` at shutdown.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._secrets = auth_secrets(config.username, config.password)
        self._connector = SmtpConnector(config)
        self._pool = SmtpPool(
            self._connector.open,
            size=config.pool_size,
            max_messages=config.max_messages_per_connection,
            idle_s=config.idle_s,
        )

    async def start(self) -> None:
        """Log warnings about the configuration, resolve the EHLO name and load certificates.
        Raises ``OSError`` or ``ssl.SSLError`` when the CA file cannot be read."""
        for warning in config_warnings(self._config):
            log.warning("SMTP: %s", warning)
        await self._connector.prepare()

    async def aclose(self) -> None:
        """Close the pooled connections (QUIT, bounded by ``timeout_s``)."""
        await self._pool.aclose()

    @property
    def open_connections(self) -> int:
        """SMTP connections open now (``mailroom_smtp_pool_connections``)."""
        return self._pool.open_connections

    async def send(self, email: Email) -> DeliveryReceipt:
        progress = Progress()
        deadline = asyncio.timeout(self._config.effective_deadline_s)
        try:
            content = render(email)
            async with deadline:
                reply = await self._deliver(email, content, progress, deadline.when())
        except Exception as exc:
            raise self._failure(exc, progress, deadline_expired=deadline.expired()) from exc
        return receipt(email, reply, progress)

    async def _deliver(
        self, email: Email, content: bytes, progress: Progress, deadline_at: float | None
    ) -> SMTPResponse:
        connection = await self._pool.acquire()
        try:
            return await self._transfer_on(connection, email, content, progress, deadline_at)
        except Exception as exc:
            if not (connection.reused and _dropped(exc) and not progress.possibly_delivered):
                raise
            log.info("SMTP connection dropped before DATA (%s); retrying on a new one", exc)
        return await self._transfer_on(
            await self._pool.acquire(fresh=True), email, content, progress, deadline_at
        )

    async def _transfer_on(
        self,
        connection: PooledConnection,
        email: Email,
        content: bytes,
        progress: Progress,
        deadline_at: float | None,
    ) -> SMTPResponse:
        reusable = False
        try:
            reply = await transfer(connection.client, email, content, progress, deadline_at)
            reusable = True
            return reply
        except Exception as exc:
            reusable = _session_survives(exc, progress)
            connection.needs_reset = True  # refused or abandoned mid-way: RSET before reuse
            raise
        finally:
            self._pool.release(connection, reusable=reusable)

    def _failure(
        self, exc: Exception, progress: Progress, *, deadline_expired: bool
    ) -> DeliveryFailed:
        if deadline_expired:
            deadline_s = self._config.effective_deadline_s
            exc = TimeoutError(f"no delivery within the {deadline_s:g} s deadline")
        return delivery_error(
            exc, possibly_delivered=progress.possibly_delivered, secrets=self._secrets
        )


def _dropped(exc: Exception) -> bool:
    """The server closed the connection (or said it would): a new one may well work."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == _CLOSING
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError)


def _session_survives(exc: Exception, progress: Progress) -> bool:
    """After this failure the session is in a known state (a reply refused the transaction, or
    our own check stopped it), so the connection can carry the next message after RSET."""
    if progress.possibly_delivered:
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException | DeliveryFailed):
        return exc.code != _CLOSING
    return isinstance(exc, aiosmtplib.SMTPRecipientsRefused)
