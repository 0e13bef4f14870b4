"""One message's exchange on an open SMTP connection: MAIL, RCPT, DATA (RFC 5321 §3.3).

Every envelope recipient gets its own RCPT. Refused recipients are recorded with the server's
reply and the message goes to the others; when every recipient is refused the attempt fails,
permanently if every refusal was 5yz (RFC 5321 §4.2.1), else transiently.

A message that needs SMTPUTF8 (a non-ASCII local part, RFC 6531) is sent with
``MAIL FROM:<...> SMTPUTF8`` (and ``BODY=8BITMIME`` when offered), or fails permanently with an
error saying SMTPUTF8 is required when the server does not offer it. Any other message goes with
ASCII addresses, non-ASCII domains as IDNA A-labels.

MAIL and RCPT are written as aiosmtplib's ``SMTP.mail`` and ``SMTP.rcpt`` write them (the address
through its ``quote_address``, which refuses one that could end the command line), with the quoted
form of each address kept: parsing it again for every message took about a tenth of a pooled
delivery's CPU.
"""

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import aiosmtplib
from aiosmtplib import SMTPResponse, SMTPStatus
from aiosmtplib.email import quote_address

from adapters.smtp_addresses import ascii_address
from application.errors import (
    DeliveryFailed,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from domain.message import DeliveryReceipt, Email, SmtpReply

_CLOSING: Final = 421  # RFC 5321 §3.8
_QUOTED_CACHE_SIZE: Final = 4096


@dataclass(slots=True)
class Progress:
    """How far the exchange got: ``possibly_delivered`` is True from the final "." until the
    server's reply to it, when a failure leaves the outcome unknown. ``accepted`` and ``refused``
    hold the recipients' RCPT outcomes (addresses as in the ``Email``)."""

    possibly_delivered: bool = False
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, SmtpReply] = field(default_factory=dict)


async def transfer(
    client: aiosmtplib.SMTP,
    email: Email,
    content: bytes,
    progress: Progress,
    deadline_at: float | None = None,
) -> SMTPResponse:
    """MAIL, a RCPT per recipient, and DATA for one message on an open connection; the reply to
    the data. ``content`` is ``adapters.mime.render(email)``. Each reply is awaited at most the
    client's timeout, cut to what is left before ``deadline_at`` (event-loop time, the
    delivery's deadline): on Python 3.11 ``asyncio.wait_for``, which aiosmtplib waits for replies
    with, loses a cancellation that arrives as a reply does, so the deadline's cancellation alone
    could let the next command wait a whole timeout. Raises ``PermanentDeliveryError``
    (SMTPUTF8 needed but not offered, an address SMTP cannot carry, every recipient refused with
    5yz), ``TransientDeliveryError`` (every recipient refused, some with 4yz) and aiosmtplib's
    exceptions (for ``adapters.smtp_errors`` to translate)."""
    progress.accepted, progress.refused = [], {}
    utf8 = email.needs_smtputf8
    options = _mail_options(client, email) if utf8 else []
    encoding = "utf-8" if utf8 else "ascii"
    try:
        await _mail(client, _envelope(email.sender, utf8), options, encoding, deadline_at)
        for recipient in email.recipients:
            envelope = _envelope(recipient, utf8)
            await _rcpt(client, recipient, envelope, encoding, progress, deadline_at)
    except ValueError as exc:  # aiosmtplib refuses addresses it cannot put on a command line
        raise PermanentDeliveryError(f"address cannot be sent over SMTP: {exc}") from exc
    if not progress.accepted:
        raise _all_refused(progress.refused)
    return await _send_data(client, content, progress, deadline_at)


def _timeout(client: aiosmtplib.SMTP, deadline_at: float | None) -> float | None:
    """Seconds to wait for the next reply: the client's timeout, cut to what is left before
    ``deadline_at``; ``SMTPTimeoutError`` once it has passed."""
    if deadline_at is None:
        return client.timeout
    left = deadline_at - asyncio.get_running_loop().time()
    if left <= 0:
        raise aiosmtplib.SMTPTimeoutError("the delivery deadline passed")
    return left if client.timeout is None else min(client.timeout, left)


def receipt(email: Email, reply: SMTPResponse, progress: Progress) -> DeliveryReceipt:
    """The receipt for a message ``transfer`` delivered: the reply to its data and each
    recipient's outcome."""
    return DeliveryReceipt(
        message_id=email.message_id,
        reply=SmtpReply(reply.code, reply.message),
        accepted=tuple(progress.accepted),
        refused=MappingProxyType(dict(progress.refused)),
    )


def _mail_options(client: aiosmtplib.SMTP, email: Email) -> list[str]:
    if not client.supports_extension("smtputf8"):
        raise PermanentDeliveryError(
            "SMTPUTF8 is required (an address has a non-ASCII local part: "
            f"{', '.join(_non_ascii_local_parts(email))}) and the server does not offer it"
        )
    return ["SMTPUTF8", "BODY=8BITMIME"] if client.supports_extension("8bitmime") else ["SMTPUTF8"]


def _non_ascii_local_parts(email: Email) -> list[str]:
    addresses = [email.sender, *email.recipients]
    if email.reply_to is not None:
        addresses.append(email.reply_to.address)
    return [address for address in addresses if not address.rpartition("@")[0].isascii()]


def _envelope(address: str, utf8: bool) -> str:
    return address if utf8 else ascii_address(address)


@lru_cache(maxsize=_QUOTED_CACHE_SIZE)
def _quoted(address: str) -> str:
    """``<address>`` as aiosmtplib writes it on MAIL and RCPT; ``ValueError`` for an address
    that could end the command line (not cached, so raised every time)."""
    return quote_address(address)


async def _mail(
    client: aiosmtplib.SMTP,
    sender: str,
    options: list[str],
    encoding: str,
    deadline_at: float | None,
) -> None:
    """``MAIL FROM:<sender> [options]``; ``SMTPSenderRefused`` unless the reply is 250, like
    ``aiosmtplib.SMTP.mail``."""
    arguments = [option.encode("ascii") for option in options]
    reply = await client.execute_command(
        b"MAIL",
        b"FROM:" + _quoted(sender).encode(encoding),
        *arguments,
        timeout=_timeout(client, deadline_at),
    )
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)


async def _rcpt(
    client: aiosmtplib.SMTP,
    recipient: str,
    envelope: str,
    encoding: str,
    progress: Progress,
    deadline_at: float | None,
) -> None:
    """``RCPT TO:<envelope>``: 250 and 251 accept (as in ``aiosmtplib.SMTP.rcpt``), 421 raises
    ``SMTPRecipientRefused`` (the server is going away: a connection failure, not a refusal),
    any other reply is recorded as a refusal."""
    reply = await client.execute_command(
        b"RCPT", b"TO:" + _quoted(envelope).encode(encoding), timeout=_timeout(client, deadline_at)
    )
    if reply.code in (SMTPStatus.completed, SMTPStatus.will_forward):
        progress.accepted.append(recipient)
    elif reply.code == _CLOSING:
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, envelope)
    else:
        progress.refused[recipient] = SmtpReply(reply.code, " ".join(reply.message.splitlines()))


def _all_refused(refused: dict[str, SmtpReply]) -> DeliveryFailed:
    """Permanent when every refusal is 5yz. The reason lists each reply with its address, in
    recipient order (``"550 5.1.1 no such user (a@example.com); 452 ... (b@example.com)"``), so
    it reads ``"<code> <text>"`` first like every SMTP error; ``code`` is the first 4yz one when
    transient, else the first."""
    reason = "; ".join(
        f"{reply.code} {reply.text} ({address})" for address, reply in refused.items()
    )
    transient = [reply.code for reply in refused.values() if not 500 <= reply.code <= 599]
    if transient:
        return TransientDeliveryError(reason, code=transient[0])
    return PermanentDeliveryError(reason, code=next(iter(refused.values())).code)


async def _send_data(
    client: aiosmtplib.SMTP, content: bytes, progress: Progress, deadline_at: float | None
) -> SMTPResponse:
    """DATA, then the dot-stuffed content (RFC 5321 §4.5.2). aiosmtplib's ``SMTP.data`` does both
    in one call, which hides whether the server accepted the DATA command."""
    start = await client.execute_command(b"DATA", timeout=_timeout(client, deadline_at))
    if start.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("connection lost after DATA")
    progress.possibly_delivered = True  # from the final "." until its reply, the outcome is unknown
    protocol.write(dot_stuffed(content) + b".\r\n")
    reply = await protocol.read_response(timeout=_timeout(client, deadline_at))
    progress.possibly_delivered = False
    if reply.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply


def dot_stuffed(content: bytes) -> bytes:
    """``content`` with a dot put in front of every line that starts with one (RFC 5321
    §4.5.2); a line starts at the beginning and after every LF."""
    stuffed = content.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed
