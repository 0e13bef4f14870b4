"""A counting SMTP sink for the benchmarks, in its own process:
``python -m benchmarks.smtp_sink --port P --stats-port Q [--impl minimal|aiosmtpd]
[--tls-cert PEM]``.

It accepts every message with ``250``, keeps nothing, and counts messages, octets and
connections. A TCP connection to ``--stats-port`` receives ``"<messages> <octets>
<connections>\\n"`` and is closed. Listens on 127.0.0.1 only, runs on uvloop, stops on SIGTERM.
With ``--tls-cert`` (a PEM file holding the private key and the certificate chain) both
implementations offer STARTTLS (RFC 3207), without requiring it; without it neither does.

Two implementations:

* ``aiosmtpd``: aiosmtpd's ``SMTP`` with a counting handler. It costs about 1.2 ms of CPU per
  message on the benchmark machine, so on one core it caps delivery well below what the systems
  under test reach and would measure itself.
* ``minimal`` (the default): an asyncio protocol speaking the part of RFC 5321 a client uses to
  send mail (``EHLO``/``HELO``, ``MAIL``, ``RCPT``, ``DATA`` up to ``<CRLF>.<CRLF>``, ``RSET``,
  ``NOOP``, ``QUIT``; pipelined commands too), some tens of microseconds per message; and
  ``STARTTLS`` when given a certificate. No AUTH, no checks of addresses or message content.
"""

import argparse
import asyncio
import signal
import ssl
from collections.abc import Callable
from typing import cast

import uvloop

_EHLO = b"250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n"
_EHLO_STARTTLS = _EHLO.replace(b"250 SIZE", b"250-STARTTLS\r\n250 SIZE")
_END_OF_DATA = b"\r\n.\r\n"


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.octets = 0
        self.connections = 0


class MinimalSmtp(asyncio.Protocol):
    """One SMTP session: commands line by line, message data up to the end-of-data line.
    ``tls``: offer STARTTLS with this server context (until the session is encrypted)."""

    def __init__(self, counter: Counter, tls: ssl.SSLContext | None = None) -> None:
        self._counter = counter
        self._buffer = bytearray()
        self._in_data = False
        self._recipients = 0
        self._transport: asyncio.Transport | None = None
        self._tls = tls
        self._upgrade: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._counter.connections += 1
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(b"220 sink.test ESMTP benchmark sink\r\n")

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and self._step():
            pass

    def _step(self) -> bool:
        """Handle one command or one complete message; False when more input is needed."""
        if self._in_data:
            end = self._buffer.find(_END_OF_DATA)
            if end < 0:
                return False
            self._counter.messages += 1
            self._counter.octets += end  # the message without the CRLF put in front
            del self._buffer[: end + len(_END_OF_DATA)]
            self._in_data = False
            self._recipients = 0
            self._reply(b"250 2.0.0 OK\r\n")
            return True
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            return False
        verb = bytes(self._buffer[:4]).upper()
        del self._buffer[: line_end + 2]
        self._command(verb)
        return True

    def _command(self, verb: bytes) -> None:
        if verb == b"RCPT":
            self._recipients += 1
            self._reply(b"250 2.1.5 OK\r\n")
        elif verb == b"DATA" and self._recipients:
            self._in_data = True
            # The data starts on a fresh line: with this CRLF in front, the end-of-data line is
            # found the same way even in an empty message.
            self._buffer[:0] = b"\r\n"
            self._reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self._reply(b"221 2.0.0 Bye\r\n")
            if self._transport is not None:
                self._transport.close()
                self._transport = None
        elif verb == b"EHLO" and self._tls is not None:
            self._reply(_EHLO_STARTTLS)
        elif verb == b"STAR" and self._tls is not None:
            self._start_tls(self._tls)
        else:
            self._reply(_REPLIES.get(verb, b"502 5.5.2 Command not recognized\r\n"))
            if verb == b"RSET":
                self._recipients = 0

    def _start_tls(self, tls: ssl.SSLContext) -> None:
        """Answer 220 and hand the connection to TLS; nothing is read until the handshake is
        done. The session then starts over (RFC 3207 §4.2), without STARTTLS on offer."""
        transport, self._transport = self._transport, None
        if transport is None:
            return
        transport.write(b"220 2.0.0 Ready to start TLS\r\n")
        self._buffer.clear()  # a client sends nothing more in plain text (RFC 3207 §5)
        self._recipients = 0
        self._tls = None
        self._upgrade = asyncio.get_running_loop().create_task(self._handshake(transport, tls))

    async def _handshake(self, transport: asyncio.Transport, tls: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            upgraded = await loop.start_tls(transport, self, tls, server_side=True)
        except (OSError, ssl.SSLError):
            transport.abort()
            return
        if upgraded is None:  # the connection was lost during the handshake
            transport.abort()
            return
        self._transport = upgraded
        if self._buffer:
            self.data_received(b"")

    def _reply(self, reply: bytes) -> None:
        if self._transport is not None:
            self._transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


_REPLIES = {
    b"EHLO": _EHLO,
    b"HELO": b"250 sink.test\r\n",
    b"MAIL": b"250 2.1.0 OK\r\n",
    b"RSET": b"250 2.0.0 OK\r\n",
    b"NOOP": b"250 2.0.0 OK\r\n",
    b"DATA": b"503 5.5.1 RCPT first\r\n",
}


def aiosmtpd_factory(
    counter: Counter, tls: ssl.SSLContext | None = None
) -> Callable[[], asyncio.BaseProtocol]:
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class CountingHandler:
        async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
            self, server: SMTP, session: Session, envelope: Envelope
        ) -> str:
            counter.messages += 1
            counter.octets += len(envelope.original_content or b"")
            return "250 2.0.0 OK"

    handler = CountingHandler()

    def factory() -> SMTP:
        counter.connections += 1
        return SMTP(handler, hostname="sink.test", ident="benchmark sink", tls_context=tls)

    return factory


def server_tls(certificate_file: str) -> ssl.SSLContext:
    """A server-side context from a PEM file holding the private key and certificate chain."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate_file)
    return context


async def run(port: int, stats_port: int, impl: str, tls: ssl.SSLContext | None = None) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    factory = (
        aiosmtpd_factory(counter, tls) if impl == "aiosmtpd" else lambda: MinimalSmtp(counter, tls)
    )
    smtp = await loop.create_server(factory, "127.0.0.1", port)

    async def report(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"{counter.messages} {counter.octets} {counter.connections}\n".encode())
        await writer.drain()
        writer.close()

    stats = await asyncio.start_server(report, "127.0.0.1", stats_port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with smtp, stats:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats-port", type=int, required=True)
    parser.add_argument("--impl", choices=("minimal", "aiosmtpd"), default="minimal")
    parser.add_argument("--tls-cert", help="PEM key and certificate chain: offer STARTTLS")
    args = parser.parse_args()
    tls = server_tls(args.tls_cert) if args.tls_cert else None
    uvloop.run(run(args.port, args.stats_port, args.impl, tls))


if __name__ == "__main__":
    main()
