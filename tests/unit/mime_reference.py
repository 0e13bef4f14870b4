"""The standard library's rendering of a plain-text ``Email``: ``EmailMessage`` with the SMTP
policy, every header set through it. ``adapters.mime`` writes such messages directly; the tests
compare the two as ``email.message_from_bytes(policy=default)`` reads them, and
``benchmarks/render.py`` times both."""

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from adapters.mime import POLICY, body_lines, transfer_encoding
from domain.message import Email, Mailbox


def reference_render(email: Email) -> bytes:
    """For plain-text emails (no html, no attachments) with ASCII local parts and domains."""
    assert email.html is None
    assert not email.attachments
    message = EmailMessage(policy=POLICY)
    message["From"] = email.sender
    message["To"] = _address(Mailbox(email.to, email.to_name))
    if email.cc:
        message["Cc"] = [_address(mailbox) for mailbox in email.cc]
    if email.reply_to is not None:
        message["Reply-To"] = _address(email.reply_to)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    for name, value in email.headers:
        message[name] = value
    message["MIME-Version"] = "1.0"
    lines = body_lines(email.body)
    message.set_content(
        "\n".join(lines), subtype="plain", charset="utf-8", cte=transfer_encoding(lines)
    )
    return message.as_bytes()


def _address(mailbox: Mailbox) -> Address:
    return Address(display_name=mailbox.name, addr_spec=mailbox.address)
