"""Render an ``Email`` as an RFC 5322 message: the exact bytes every mailer hands over.

Lines end in CRLF (``email.policy.SMTP``, folded at 76); a non-ASCII Subject becomes RFC 2047
encoded-words. The body is UTF-8 text/plain, sent as 7bit when that is valid (ASCII, no NUL,
every line at most 998 octets: RFC 5322 §2.1.1, RFC 2045 §2.7) and as quoted-printable
otherwise, whose lines stay within 76 characters. Dot-stuffing (RFC 5321 §4.5.2) is left to the
SMTP client.
"""

import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Final

from domain.message import Email

MAX_LINE_OCTETS: Final = 998
# The SMTP policy folds at 78; quoted-printable lines must stay within 76 (RFC 2045 §6.7), and
# the email package encodes the body to the policy's line length.
POLICY: Final = SMTP.clone(max_line_length=76)
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


def render(email: Email) -> bytes:
    """The message as CRLF-terminated bytes, ready for SMTP DATA or an ``.eml`` file."""
    return build(email).as_bytes()


def build(email: Email) -> EmailMessage:
    """The message as an ``EmailMessage`` with ``POLICY``. Looks nothing up (no hostname)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = email.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.date)
    message["Message-ID"] = email.message_id
    message["MIME-Version"] = "1.0"
    lines = body_lines(email.body)
    message.set_content(
        "\n".join(lines), subtype="plain", charset="utf-8", cte=transfer_encoding(lines)
    )
    return message


def body_lines(body: str) -> list[str]:
    """The body's lines, split on CRLF, bare LF and bare CR only (not on the other characters
    ``str.splitlines`` treats as line breaks, such as form feed)."""
    return _LINE_BREAK.split(body)


def transfer_encoding(lines: list[str]) -> str:
    """``"7bit"`` when every line is ASCII without NUL and at most 998 octets, else
    ``"quoted-printable"``."""
    fits_7bit = all(
        line.isascii() and "\0" not in line and len(line) <= MAX_LINE_OCTETS for line in lines
    )
    return "7bit" if fits_7bit else "quoted-printable"
