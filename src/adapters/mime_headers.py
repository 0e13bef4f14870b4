"""A message's header fields, written directly (RFC 5322 §3.6, RFC 2047, RFC 6532).

The standard library's header machinery is most of the cost of rendering a message, and under
``email.policy.SMTP`` it writes a non-ASCII local part as an (invalid) encoded-word and encodes
long ``References`` ids. Here:

* Lines are folded (a CRLF inserted before a space) to stay within 78 characters where words
  allow; every line stays within 998 octets (every word is bounded: addresses, encoded-words of
  at most 75 characters, display-name atoms and quoted names and custom values of at most 900).
* Text (Subject, ``X-*`` values) is written as is when it is printable ASCII words separated by
  single spaces, each short enough to fold, and with no ``=?``; otherwise as UTF-8 base64
  encoded-words (RFC 2047 §4.1) of whole characters, which decode back exactly.
* Display names: atoms as they are, other ASCII names as one quoted-string; otherwise words that
  are atoms stay literal and each run of other words becomes encoded-words. A run longer than one
  encoded-word (about 45 UTF-8 octets) is split into adjacent encoded-words: RFC 2047 §6.2
  readers join them exactly, but Python's address parser (``email.headerregistry``) puts a space
  where they meet.
* Addresses: in ASCII mode domains become IDNA A-labels; in UTF-8 mode (the message travels
  with SMTPUTF8) they are written as UTF-8 (RFC 6532 §3.2).
* Bcc is never written.
"""

import re
from base64 import b64encode
from collections.abc import Iterable
from email.utils import format_datetime
from typing import Final

from adapters.smtp_addresses import ascii_address
from domain.message import Email, Mailbox
from domain.message_parts import ALLOWED_HEADERS

MAX_LINE_CHARS: Final = 78
ENCODED_WORD_BYTES: Final = 39
"""UTF-8 octets per encoded-word: 52 base64 characters, 64 in all, within RFC 2047's 75."""
_WORDS: Final = re.compile(r"[!-~]{1,76}(?: [!-~]{1,76})*")
_ATOM: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,900}")
"""A word of a display name that needs no quoting (RFC 5322 §3.2.3)."""
_MAX_QUOTED_NAME_CHARS: Final = 900
PHRASE_WORD_BYTES: Final = 45
"""UTF-8 octets per encoded-word in a display name: 72 characters, within RFC 2047's 75."""


def header_lines(email: Email, *, utf8: bool) -> list[str]:
    """The header fields, in order, each a string (folded with CRLF SP, no final CRLF); ends
    with ``MIME-Version``. Raises ``PermanentDeliveryError`` in ASCII mode for an address that
    has no ASCII form."""
    lines = [
        address_field("From", [Mailbox(email.sender)], utf8=utf8),
        address_field("To", [Mailbox(email.to, email.to_name)], utf8=utf8),
    ]
    if email.cc:
        lines.append(address_field("Cc", email.cc, utf8=utf8))
    if email.reply_to is not None:
        lines.append(address_field("Reply-To", [email.reply_to], utf8=utf8))
    lines.append(text_field("Subject", email.subject))
    lines.append(f"Date: {format_datetime(email.date)}")
    lines.append(f"Message-ID: {email.message_id}")
    lines.extend(custom_field(name, value) for name, value in email.headers)
    lines.append("MIME-Version: 1.0")
    return lines


def address_field(name: str, mailboxes: Iterable[Mailbox], *, utf8: bool) -> str:
    """``Name: mailbox, mailbox, ...`` (RFC 5322 §3.4)."""
    words: list[str] = []
    for mailbox in mailboxes:
        if words:
            words[-1] += ","
        words.extend(_mailbox_words(mailbox, utf8))
    return fold(name, words)


def text_field(name: str, value: str) -> str:
    """An unstructured field (RFC 5322 §3.2.5): literal when safe, else encoded-words."""
    if _WORDS.fullmatch(value) and "=?" not in value:
        return fold(name, value.split(" "))
    return fold(name, encoded_words(value))


def custom_field(name: str, value: str) -> str:
    """An ``X-*`` field is text; an allow-listed one is structured ASCII, folded at whitespace
    and never encoded (message ids must stay intact)."""
    if name not in ALLOWED_HEADERS:
        return text_field(name, value)
    return fold(name, value.split())


def fold(name: str, words: list[str]) -> str:
    """``Name: w1 w2 ...``, breaking before a space where a line would pass 78 characters."""
    lines: list[str] = []
    line = f"{name}:"
    for index, word in enumerate(words):
        if index and len(line) + 1 + len(word) > MAX_LINE_CHARS:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines)


def encoded_words(text: str, chunk_bytes: int = ENCODED_WORD_BYTES) -> list[str]:
    """``=?utf-8?b?...?=`` words covering ``text``, none splitting a character (RFC 2047 §5)."""
    data = text.encode()
    words = []
    start = 0
    while start < len(data):
        end = min(start + chunk_bytes, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a UTF-8 continuation octet
            end -= 1
        words.append(f"=?utf-8?b?{b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def _mailbox_words(mailbox: Mailbox, utf8: bool) -> list[str]:
    address = mailbox.address if utf8 else ascii_address(mailbox.address)
    if not mailbox.name:
        return [address]
    return [*_phrase(mailbox.name), f"<{address}>"]


def _phrase(name: str) -> list[str]:
    """A display name as atoms, one quoted-string, or atoms and encoded-words (RFC 5322
    §3.2.5, RFC 2047 §5 (3))."""
    words = name.split(" ")
    if " ".join(name.split()) != name or "=?" in name:  # spacing only encoded-words keep
        return encoded_words(name, PHRASE_WORD_BYTES)
    if all(_ATOM.fullmatch(word) for word in words):
        return words
    if name.isascii() and name.isprintable() and len(name) <= _MAX_QUOTED_NAME_CHARS:
        return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return _atoms_and_encoded_words(words)


def _atoms_and_encoded_words(words: list[str]) -> list[str]:
    """Atoms as they are; each run of other words as encoded-words. The single spaces between
    atoms and encoded-words are kept by every reader (RFC 2047 §6.2)."""
    phrase: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:  # "" ends the last run
        if word and not _ATOM.fullmatch(word):
            run.append(word)
            continue
        if run:
            phrase.extend(encoded_words(" ".join(run), PHRASE_WORD_BYTES))
            run = []
        if word:
            phrase.append(word)
    return phrase
