"""The email a task delivers, and what a delivery reports back.

``Email`` holds everything needed to render the message (RFC 5322): it is fixed when the task is
accepted, so every attempt sends the same Message-ID and Date and a receiver can drop duplicates.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

from domain.errors import InvalidEmail
from domain.message_parts import (
    MAX_ATTACHMENTS,
    MAX_RECIPIENTS,
    Attachment,
    Mailbox,
    content_type_problem,
    control_character_problem,
    filename_problem,
    find_control_character,
    headers_problem,
    text_problem,
)

__all__ = [
    "Attachment",
    "DeliveryReceipt",
    "Email",
    "Mailbox",
    "SmtpReply",
    "find_control_character",
]

_NOT_IN_BARE_ADDRESS: Final = frozenset(' ,;<>()[]\\"')
"""Characters that would make an address a list, a display name or a comment (RFC 5322 §3.4)."""


def _require(field_name: str, problem: str | None) -> None:
    if problem is not None:
        raise InvalidEmail(field_name, problem)


def _require_address(field_name: str, value: str) -> None:
    if not value.strip():
        raise InvalidEmail(field_name, "must not be empty")
    _require(field_name, control_character_problem(value) or text_problem(value))
    local, at, domain = value.rpartition("@")
    if not (at and local and domain) or any(char in _NOT_IN_BARE_ADDRESS for char in value):
        raise InvalidEmail(field_name, "must be one bare address of the form local-part@domain")


def require_bare_address(field_name: str, value: str) -> None:
    """Raises ``InvalidEmail`` (naming ``field_name``) unless ``value`` is one bare address,
    ``local-part@domain``, without control characters, display name or list separators."""
    _require_address(field_name, value)


def _require_mailbox(field_name: str, mailbox: Mailbox) -> None:
    _require_address(field_name, mailbox.address)
    _require(field_name, control_character_problem(mailbox.name) or text_problem(mailbox.name))


def _require_attachment(attachment: Attachment) -> None:
    problem = filename_problem(attachment.filename) or content_type_problem(attachment.content_type)
    _require("attachments", problem)


@dataclass(frozen=True, slots=True)
class Email:
    """One email, as it will be rendered.

    ``sender``, ``to`` and ``bcc`` are bare addresses (``local@domain``); ``to_name`` is the
    recipient's display name ("" for none); ``message_id`` is the full Message-ID header value
    including angle brackets (RFC 5322 §3.6.4); ``date`` is timezone-aware. ``html``, when set, is
    sent as an alternative to ``body`` (RFC 2046 §5.1.4). ``headers`` are custom (name, value)
    pairs following ``domain.message_parts``' rules. Bcc recipients are in the SMTP envelope
    only, never in the message. At most ``MAX_RECIPIENTS`` recipients.

    Raises ``InvalidEmail`` (``field`` names the request field) when an address is empty or
    malformed, a header field holds a control character, text is not valid Unicode, or an
    attachment, custom header or the recipient count breaks a rule.
    """

    sender: str
    to: str
    subject: str
    body: str
    message_id: str
    date: datetime
    to_name: str = ""
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: Mailbox | None = None
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _require_mailbox("email", Mailbox(self.to, self.to_name))
        _require_address("sender", self.sender)
        _require("subject", control_character_problem(self.subject) or text_problem(self.subject))
        _require("body", text_problem(self.body))
        _require("html", None if self.html is None else text_problem(self.html))
        _require("message_id", control_character_problem(self.message_id))
        if self.date.tzinfo is None:
            raise InvalidEmail("date", "must carry a UTC offset")
        self._check_recipients()
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise InvalidEmail("attachments", f"at most {MAX_ATTACHMENTS} attachments")
        for attachment in self.attachments:
            _require_attachment(attachment)
        _require("headers", headers_problem(self.headers))

    def _check_recipients(self) -> None:
        for mailbox in self.cc:
            _require_mailbox("cc", mailbox)
        for address in self.bcc:
            _require_address("bcc", address)
        if self.reply_to is not None:
            _require_mailbox("reply_to", self.reply_to)
        if 1 + len(self.cc) + len(self.bcc) > MAX_RECIPIENTS:
            field_name = "bcc" if self.bcc else "cc"
            raise InvalidEmail(field_name, f"at most {MAX_RECIPIENTS} recipients in total")

    @property
    def recipients(self) -> tuple[str, ...]:
        """The envelope recipients (RFC 5321 RCPT): To, Cc, then Bcc, each address once."""
        return tuple(dict.fromkeys((self.to, *(mailbox.address for mailbox in self.cc), *self.bcc)))

    @property
    def needs_smtputf8(self) -> bool:
        """True when an address has a non-ASCII local part: such a message can only travel with
        the SMTPUTF8 extension (RFC 6531); non-ASCII domains can go as IDNA A-labels instead."""
        return any(not address.rpartition("@")[0].isascii() for address in self._addresses())

    def _addresses(self) -> Iterator[str]:
        yield self.sender
        yield from self.recipients
        if self.reply_to is not None:
            yield self.reply_to.address


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """An SMTP reply: three-digit ``code`` and the server's ``text`` (RFC 5321 §4.2)."""

    code: int
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a mailer reports after the message was handed over.

    ``reply`` is the server's final reply to the message data (None for mailers that do not speak
    SMTP); ``accepted`` lists the recipients the server accepted (empty for mailers that do not
    speak SMTP); ``refused`` maps each recipient the server refused to its reply; ``detail`` is a
    short human-readable note (for example where a file mailer wrote the message).
    """

    message_id: str
    reply: SmtpReply | None = None
    refused: MappingProxyType[str, SmtpReply] = field(default_factory=lambda: MappingProxyType({}))
    detail: str | None = None
    accepted: tuple[str, ...] = ()
