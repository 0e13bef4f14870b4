"""The parts of an email beyond its text: mailboxes, attachments, custom headers, and the rules
each must follow. Each ``*_problem`` function returns why a value is refused, or None, so the HTTP
layer can name the exact field and ``Email`` can enforce the same rules.
"""

import re
from dataclasses import dataclass, field
from typing import Final
from unicodedata import category

MAX_RECIPIENTS: Final = 50
"""To, Cc and Bcc together, counted as submitted."""

MAX_CUSTOM_HEADERS: Final = 20
MAX_ATTACHMENTS: Final = 20
"""Attachments per message: each is a MIME part built on the event loop, so their number is
bounded as well as their total size."""
MAX_HEADER_NAME_CHARS: Final = 64
MAX_HEADER_VALUE_CHARS: Final = 900
"""Keeps every folded header line within 998 octets (RFC 5322 §2.1.1)."""

ALLOWED_HEADERS: Final = (
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
)
"""Custom headers allowed besides ``X-*`` ones (RFC 5322 §3.6.4, RFC 2369, RFC 2919, RFC 8058,
RFC 3834), spelled exactly so, each at most once. Their values must be ASCII: they are structured
and are never encoded. ``X-*`` names may repeat (RFC 5322 §3.6.8); their values may hold any text
and are RFC 2047 encoded when needed."""

MAX_FILENAME_CHARS: Final = 255
_LINE_SEPARATORS: Final = frozenset("\u2028\u2029")
_FIELD_NAME: Final = re.compile(r"[!-9;-~]+")
"""Printable ASCII but colon (RFC 5322 §3.6.8)."""
_MEDIA_TYPE: Final = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})"
)
"""``type/subtype`` with RFC 6838 §4.2 restricted names; no parameters."""
_PATH_SEPARATORS: Final = frozenset("/\\")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """An address and an optional display name (RFC 5322 §3.4 ``name-addr``); ``address`` is
    bare (``local@domain``), ``name`` any text without control characters ("" for none)."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with the message: ``content_type`` is ``type/subtype`` (no parameters),
    ``filename`` a base name (no directories, no control characters)."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)


def find_control_character(text: str) -> str | None:
    """Return the first control character in ``text`` (Unicode category Cc, or a line/paragraph
    separator), or None. Such characters in a header would allow header injection (RFC 5322 §2.2).
    """
    if text.isascii() and text.isprintable():
        return None
    for char in text:
        if category(char) == "Cc" or char in _LINE_SEPARATORS:
            return char
    return None


def control_character_problem(text: str) -> str | None:
    char = find_control_character(text)
    return (
        None if char is None else f"must not contain control characters (found U+{ord(char):04X})"
    )


def text_problem(text: str) -> str | None:
    """Text that cannot be written as UTF-8 (a lone surrogate, e.g. from a JSON ``\\ud800``)."""
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"must be valid Unicode text (lone surrogate at position {exc.start})"
    return None


def filename_problem(filename: str) -> str | None:
    if not filename or filename in (".", ".."):
        return "must be a file name"
    if len(filename) > MAX_FILENAME_CHARS:
        return f"must be at most {MAX_FILENAME_CHARS} characters"
    if any(char in _PATH_SEPARATORS for char in filename):
        return "must not contain path separators (/ or \\)"
    return control_character_problem(filename) or text_problem(filename)


def content_type_problem(content_type: str) -> str | None:
    match = _MEDIA_TYPE.fullmatch(content_type)
    if match is None:
        return "must be a media type of the form type/subtype (RFC 6838), without parameters"
    if match[1].lower() in ("multipart", "message"):
        return "must not be multipart/* or message/* (send such files as application/octet-stream)"
    return None


def header_name_problem(name: str) -> str | None:
    """Only ``X-*`` names and ``ALLOWED_HEADERS``: never one that could override From, To, Cc,
    Bcc, Subject, Date, Message-ID or a MIME header."""
    if not name or len(name) > MAX_HEADER_NAME_CHARS or not _FIELD_NAME.fullmatch(name):
        return f"header names are 1 to {MAX_HEADER_NAME_CHARS} printable ASCII characters, no colon"
    if not (name[:2].lower() == "x-" and len(name) > 2) and name not in ALLOWED_HEADERS:
        allowed = ", ".join(ALLOWED_HEADERS)
        return f"header {name!r} is not allowed: use an X- name or one of {allowed} (so spelled)"
    return None


def header_value_problem(name: str, value: str) -> str | None:
    if len(value) > MAX_HEADER_VALUE_CHARS:
        return f"header {name!r} must be at most {MAX_HEADER_VALUE_CHARS} characters"
    if name in ALLOWED_HEADERS and not value.isascii():
        return f"header {name!r} must be ASCII"
    problem = control_character_problem(value) or text_problem(value)
    return None if problem is None else f"header {name!r} {problem}"


def headers_problem(headers: tuple[tuple[str, str], ...]) -> str | None:
    """The first problem with a list of custom headers: too many, an allow-listed name given
    twice, or a bad name or value."""
    if len(headers) > MAX_CUSTOM_HEADERS:
        return f"at most {MAX_CUSTOM_HEADERS} custom headers"
    seen: set[str] = set()
    for name, value in headers:
        problem = header_name_problem(name) or header_value_problem(name, value)
        if problem is None and name in seen:
            problem = f"header {name!r} is given twice"
        if problem is not None:
            return problem
        if name in ALLOWED_HEADERS:
            seen.add(name)
    return None
