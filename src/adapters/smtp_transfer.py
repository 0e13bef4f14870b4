"""One message's exchange on an open SMTP connection: MAIL, RCPT, DATA (RFC 5321 §3.3)."""

import re
from dataclasses import dataclass
from typing import Final

import aiosmtplib
from aiosmtplib import SMTPResponse, SMTPStatus

from application.errors import PermanentDeliveryError
from domain.message import Email

_LINE_START_DOT: Final = re.compile(rb"(?m)^\.")


@dataclass(slots=True)
class Progress:
    """How far the exchange got: ``possibly_delivered`` is True from the final "." until the
    server's reply to it, when a failure leaves the outcome unknown."""

    possibly_delivered: bool = False


async def transfer(
    client: aiosmtplib.SMTP, email: Email, content: bytes, progress: Progress
) -> SMTPResponse:
    """MAIL, RCPT and DATA for one message on an open connection; the reply to the data."""
    try:
        await client.mail(email.sender)
        await client.rcpt(email.to)
    except ValueError as exc:  # aiosmtplib refuses addresses it cannot put on a command line
        raise PermanentDeliveryError(f"address cannot be sent over SMTP: {exc}") from exc
    return await _send_data(client, content, progress)


async def _send_data(client: aiosmtplib.SMTP, content: bytes, progress: Progress) -> SMTPResponse:
    """DATA, then the dot-stuffed content (RFC 5321 §4.5.2). aiosmtplib's ``SMTP.data`` does both
    in one call, which hides whether the server accepted the DATA command."""
    start = await client.execute_command(b"DATA")
    if start.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost after DATA")
    progress.possibly_delivered = True  # from the final "." until its reply, the outcome is unknown
    protocol.write(_LINE_START_DOT.sub(b"..", content) + b".\r\n")
    reply = await protocol.read_response(timeout=client.timeout)
    progress.possibly_delivered = False
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply
