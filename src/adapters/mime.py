"""Render an ``Email`` as an RFC 5322 message: the exact bytes every mailer hands over.

Lines end in CRLF and none passes 998 octets (RFC 5322 §2.1.1). Header fields come from
``adapters.mime_headers``. A text body is UTF-8, sent as 7bit when that is valid (ASCII, no NUL,
every line at most 998 octets: RFC 2045 §2.7) and as quoted-printable otherwise (lines within 76
characters, RFC 2045 §6.7); bare CR and LF become CRLF and a final line break is added when
missing. Dot-stuffing (RFC 5321 §4.5.2) is left to the SMTP client.

The common message, one text/plain part, is written directly: the standard library's
``EmailMessage`` costs most of a delivery's CPU. With ``html`` or attachments the MIME tree is
built with ``email.message.MIMEPart`` and the SMTP policy: multipart/alternative for text and
HTML (RFC 2046 §5.1.4), inside multipart/mixed when there are attachments (base64, filename per
RFC 2231). Boundaries derive from the Message-ID, so every attempt renders the same bytes.

A message whose addresses have a non-ASCII local part is rendered for SMTPUTF8 (UTF-8 headers,
RFC 6532); any other is pure ASCII, domains as IDNA A-labels.
"""

import binascii
import hashlib
import re
from email.message import MIMEPart
from email.policy import SMTP
from typing import Final

from adapters.mime_headers import header_lines
from domain.message import Email

MAX_LINE_OCTETS: Final = 998
# The SMTP policy folds at 78; quoted-printable lines must stay within 76 (RFC 2045 §6.7), and
# the email package encodes the body to the policy's line length.
POLICY: Final = SMTP.clone(max_line_length=76)
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_TEXT_PLAIN: Final = 'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: '


def render(email: Email) -> bytes:
    """The message as CRLF-terminated bytes, ready for SMTP DATA or an ``.eml`` file. Raises
    ``PermanentDeliveryError`` for an address with no ASCII form in an ASCII message."""
    utf8 = email.needs_smtputf8
    head = "\r\n".join(header_lines(email, utf8=utf8)).encode("utf-8" if utf8 else "ascii")
    if email.html is None and not email.attachments:
        cte, body = encode_text(email.body)
        return b"%s\r\n%s%s\r\n\r\n%s" % (head, _TEXT_PLAIN.encode(), cte.encode(), body)
    return head + b"\r\n" + build_body(email).as_bytes()


def encode_text(text: str) -> tuple[str, bytes]:
    """The transfer encoding (``"7bit"`` or ``"quoted-printable"``) and the encoded UTF-8 text,
    CRLF line ends, ending in CRLF. Decodes to ``text`` with line ends normalized, as
    ``EmailMessage.set_content`` would encode it."""
    lines = body_lines(text)
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # a final line break is kept, not doubled
    joined = "\r\n".join(lines) + "\r\n"
    if transfer_encoding(lines) == "7bit":
        return "7bit", joined.encode("ascii")
    return "quoted-printable", binascii.b2a_qp(joined.encode(), istext=True)


def build_body(email: Email) -> MIMEPart:
    """The MIME tree of a message with ``html`` or attachments: its Content-* headers and parts,
    without the message's own header fields."""
    root = MIMEPart(policy=POLICY)
    text, cte = _text_content(email.body)
    root.set_content(text, subtype="plain", charset="utf-8", cte=cte)
    if email.html is not None:
        html, cte = _text_content(email.html)
        root.add_alternative(html, subtype="html", charset="utf-8", cte=cte)
    for attachment in email.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        root.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    _set_boundaries(root, email)
    return root


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


def _text_content(text: str) -> tuple[str, str]:
    """``set_content``'s text (line ends normalized) and transfer encoding for ``text``."""
    lines = body_lines(text)
    return "\n".join(lines), transfer_encoding(lines)


def _set_boundaries(root: MIMEPart, email: Email) -> None:
    """Boundaries from the Message-ID's hash, unless one could occur in a 7bit text part
    (quoted-printable and base64 never hold ``=_``); then the email package picks them."""
    digest = hashlib.sha256(email.message_id.encode()).hexdigest()[:32]
    texts = (email.body, email.html or "", *(a.filename for a in email.attachments))
    multiparts = [part for part in root.walk() if part.is_multipart()]
    for depth, part in enumerate(multiparts):
        boundary = f"=_mailroom_{digest}_{depth}"
        if any(boundary in text for text in texts):
            return
        part.set_boundary(boundary)
