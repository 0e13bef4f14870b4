"""Deliver over SMTP with aiosmtplib, one connection per message.

The exchange runs step by step (connect and greeting, EHLO, STARTTLS and EHLO again, AUTH, MAIL,
RCPT, DATA, QUIT) so a failure's phase is known: one after the whole message was sent but before
the server's reply to it carries ``possibly_delivered=True``, since the server may hold it.
"""

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Final, Literal

import aiosmtplib

from adapters.mime import render
from adapters.smtp_errors import delivery_error
from adapters.smtp_transfer import Progress, transfer
from application.errors import DeliveryFailed
from domain.message import DeliveryReceipt, Email, SmtpReply

Security = Literal["none", "starttls", "tls"]

DEADLINE_TIMEOUTS: Final = 4
"""The whole exchange of one message may take this many ``timeout_s``."""



@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to connect. ``security``: ``"none"`` (plain text), ``"starttls"`` (upgrade
    after connecting, required), ``"tls"`` (implicit TLS). ``timeout_s`` bounds connecting, the
    greeting and each command; ``local_hostname`` is the EHLO name (None: this host's FQDN,
    looked up once). ``ca_file`` adds trusted CA certificates (PEM)."""

    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    timeout_s: float
    validate_certs: bool = True
    ca_file: str | None = None
    local_hostname: str | None = None

    def __post_init__(self) -> None:
        if not self.host or any(char.isspace() or not char.isprintable() for char in self.host):
            raise ValueError("host must be a host name or address without spaces")
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {self.security!r}")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    @property
    def deadline_s(self) -> float:
        return self.timeout_s * DEADLINE_TIMEOUTS


class SmtpMailer:
    """``Mailer`` port over SMTP. Every failure becomes a ``TransientDeliveryError`` or a
    ``PermanentDeliveryError`` (see ``adapters.smtp_errors``); the connection is closed on every
    path. The receipt carries the server's reply to the message data."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._local_hostname = config.local_hostname

    async def send(self, email: Email) -> DeliveryReceipt:
        client = self._new_client()
        progress = Progress()
        deadline = asyncio.timeout(self._config.deadline_s)
        try:
            content = render(email)
            async with deadline:
                await self._open(client)
                reply = await transfer(client, email, content, progress)
            await _quit_quietly(client)
        except Exception as exc:
            raise self._failure(exc, progress, deadline_expired=deadline.expired()) from exc
        finally:
            client.close()
        return DeliveryReceipt(
            message_id=email.message_id, reply=SmtpReply(reply.code, reply.message)
        )

    def _failure(
        self, exc: Exception, progress: Progress, *, deadline_expired: bool
    ) -> DeliveryFailed:
        if deadline_expired:
            exc = TimeoutError(f"no delivery within the {self._config.deadline_s:g} s deadline")
        return delivery_error(
            exc, possibly_delivered=progress.possibly_delivered, secret=self._config.password
        )

    def _new_client(self) -> aiosmtplib.SMTP:
        config = self._config
        # start_tls=False: never the library's automatic STARTTLS; _open upgrades explicitly.
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=False,
            validate_certs=config.validate_certs,
            cert_bundle=config.ca_file,
            timeout=config.timeout_s,
        )

    async def _open(self, client: aiosmtplib.SMTP) -> None:
        """Connect, read the greeting, EHLO, upgrade with STARTTLS if configured, log in."""
        config = self._config
        await client.connect(local_hostname=await self._ehlo_name())
        await client.ehlo()
        if config.security == "starttls":
            await client.starttls()
            await client.ehlo()
        if config.username is not None:
            await client.login(config.username, config.password or "")

    async def _ehlo_name(self) -> str:
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname


async def _quit_quietly(client: aiosmtplib.SMTP) -> None:
    """QUIT after the message was accepted: a failure now cannot undo the delivery."""
    try:
        await client.quit()
    except Exception:
        client.close()
