"""The email a task delivers, and what a delivery reports back.

``Email`` holds everything needed to render the message (RFC 5322): it is fixed when the task is
accepted, so every attempt sends the same Message-ID and Date and a receiver can drop duplicates.
"""

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final
from unicodedata import category

from domain.errors import InvalidEmail

_LINE_SEPARATORS: Final = frozenset("\u2028\u2029")
_NOT_IN_BARE_ADDRESS: Final = frozenset(' ,;<>()[]\\"')
"""Characters that would make an address a list, a display name or a comment (RFC 5322 §3.4)."""


def find_control_character(text: str) -> str | None:
    """Return the first control character in ``text`` (Unicode category Cc, or a line/paragraph
    separator), or None. Such characters in a header would allow header injection (RFC 5322 §2.2).
    """
    for char in text:
        if category(char) == "Cc" or char in _LINE_SEPARATORS:
            return char
    return None


def _require_header_safe(field_name: str, value: str) -> None:
    char = find_control_character(value)
    if char is not None:
        raise _invalid(field_name, f"must not contain control characters (found U+{ord(char):04X})")


def _invalid(field_name: str, reason: str) -> InvalidEmail:
    return InvalidEmail(field_name, reason)


def _require_address(field_name: str, value: str) -> None:
    if not value.strip():
        raise _invalid(field_name, "must not be empty")
    _require_header_safe(field_name, value)
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(char in _NOT_IN_BARE_ADDRESS for char in value):
        raise _invalid(field_name, "must be one bare address of the form local-part@domain")


@dataclass(frozen=True, slots=True)
class Email:
    """One email to one recipient, as it will be rendered.

    ``sender`` and ``to`` are bare addresses (``local@domain``); ``message_id`` is the full
    Message-ID header value including angle brackets (RFC 5322 §3.6.4); ``date`` is timezone-aware.
    Raises ``InvalidEmail`` when an address is empty or malformed, or a header field holds a
    control character.
    """

    sender: str
    to: str
    subject: str
    body: str
    message_id: str
    date: datetime

    def __post_init__(self) -> None:
        _require_address("email", self.to)
        _require_address("sender", self.sender)
        _require_header_safe("subject", self.subject)
        _require_header_safe("message_id", self.message_id)
        if self.date.tzinfo is None:
            raise _invalid("date", "must carry a UTC offset")


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """An SMTP reply: three-digit ``code`` and the server's ``text`` (RFC 5321 §4.2)."""

    code: int
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a mailer reports after the message was handed over.

    ``reply`` is the server's final reply to the message data (None for mailers that do not speak
    SMTP); ``refused`` maps each recipient the server refused to its reply; ``detail`` is a short
    human-readable note (for example where a file mailer wrote the message).
    """

    message_id: str
    reply: SmtpReply | None = None
    refused: MappingProxyType[str, SmtpReply] = field(default_factory=lambda: MappingProxyType({}))
    detail: str | None = None
