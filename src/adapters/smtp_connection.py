"""Open one SMTP connection ready for mail: connect and greeting, EHLO, STARTTLS and EHLO again
(RFC 3207 §4.2), AUTH (RFC 4954).

Security is always explicit: aiosmtplib's automatic STARTTLS is switched off (``start_tls=False``)
and the upgrade happens here only when ``security="starttls"``; a server that does not offer it
fails permanently instead of carrying on in plain text.
"""

import asyncio
import socket
import ssl
from dataclasses import dataclass

import aiosmtplib

from adapters.smtp_config import SmtpConfig
from application.errors import PermanentDeliveryError


@dataclass(frozen=True, slots=True)
class _Prepared:
    ehlo_name: str
    tls_context: ssl.SSLContext | None


class SmtpConnector:
    """Opens connections for one ``SmtpConfig``.

    ``prepare()`` does the blocking work once, in a thread so the event loop never waits on it:
    the EHLO name (``config.local_hostname``, else this host's FQDN) and the TLS context (the
    system CA store plus ``config.ca_file``). ``open()`` prepares first if nobody did.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._prepared: _Prepared | None = None
        self._preparing = asyncio.Lock()

    async def prepare(self) -> None:
        """Resolve the EHLO name and load certificates. Raises ``OSError`` or ``ssl.SSLError``
        when ``ca_file`` cannot be read."""
        async with self._preparing:
            if self._prepared is None:
                self._prepared = await asyncio.to_thread(_prepare, self._config)

    async def open(self) -> aiosmtplib.SMTP:
        """A connected client, past EHLO (and STARTTLS and AUTH when configured), each step
        bounded by ``config.timeout_s``. Raises aiosmtplib's errors, ``ssl`` and socket errors,
        or ``PermanentDeliveryError`` when the server lacks STARTTLS or AUTH; the client is
        closed on every failure."""
        await self.prepare()
        assert self._prepared is not None
        client = self._client(self._prepared)
        try:
            await self._handshake(client)
        except BaseException:
            discard(client)
            raise
        return client

    def _client(self, prepared: _Prepared) -> aiosmtplib.SMTP:
        config = self._config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.security == "tls",
            start_tls=False,
            validate_certs=config.validate_certs,
            tls_context=prepared.tls_context,
            timeout=config.timeout_s,
            local_hostname=prepared.ehlo_name,
        )

    async def _handshake(self, client: aiosmtplib.SMTP) -> None:
        config = self._config
        await client.connect()
        await client.ehlo()
        if config.security == "starttls":
            _require_extension(client, "starttls", "STARTTLS (MAILROOM_SMTP_SECURITY=starttls)")
            await client.starttls()
            await client.ehlo()
        if config.username is not None:
            _require_extension(client, "auth", "AUTH (MAILROOM_SMTP_USERNAME is set)")
            await client.login(config.username, config.password or "")


def discard(client: aiosmtplib.SMTP) -> None:
    """Close the connection at once. The SMTP session is over (after QUIT) or in doubt, so TLS's
    closing handshake (close_notify, which waits on the server) is skipped: the socket is closed
    on the event loop's next iteration, not seconds later or never if the loop stops first."""
    transport = client.transport
    if isinstance(transport, asyncio.WriteTransport):
        transport.abort()
    client.close()


def _require_extension(client: aiosmtplib.SMTP, extension: str, wanted: str) -> None:
    if not client.supports_extension(extension):
        raise PermanentDeliveryError(f"the SMTP server does not offer {wanted}")


def _prepare(config: SmtpConfig) -> _Prepared:
    ehlo_name = config.local_hostname or socket.getfqdn()
    return _Prepared(ehlo_name=ehlo_name, tls_context=_tls_context(config))


def _tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    if config.security == "none":
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if not config.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif config.ca_file is not None:
        context.load_verify_locations(cafile=config.ca_file)
    return context
