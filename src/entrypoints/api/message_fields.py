"""Request fields of a rich email: addresses with display names, attachments, custom headers.

Addresses are checked with ``email-validator`` (syntax only, no DNS) and normalized (domain
lower-cased, Unicode NFC). An address may carry a display name, ``Jörg Müller <j@example.com>``
or ``"Müller, Jörg" <j@example.com>``: an unquoted name is read as if it were quoted. The rules
for attachments and headers are the domain's (``domain.message_parts``), applied here so a 422
names the exact field.
"""

import base64
import binascii
import re
from typing import Annotated, Final

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from domain.message_parts import (
    ALLOWED_HEADERS,
    MAX_CUSTOM_HEADERS,
    MAX_FILENAME_CHARS,
    MAX_HEADER_NAME_CHARS,
    MAX_HEADER_VALUE_CHARS,
    MAX_RECIPIENTS,
    Attachment,
    Mailbox,
    content_type_problem,
    control_character_problem,
    filename_problem,
    headers_problem,
)

_UNQUOTED_NAME: Final = re.compile(r'\s*([^"<>]*?)\s*<([^<>]*)>\s*')

# The JSON Schema (OpenAPI) of each field states the same rules the validators apply, so clients
# and schema-driven tests know exactly what is accepted.
_NO_CONTROL: Final = r"\u0000-\u001f\u007f-\u009f\u2028\u2029"  # Unicode Cc, line separators
NO_CONTROL_SCHEMA: Final = {"type": "string", "pattern": f"^[^{_NO_CONTROL}]*$"}
"""JSON Schema of header text: any string without control characters."""
_TEXT_SCHEMA: Final = {**NO_CONTROL_SCHEMA, "maxLength": MAX_HEADER_VALUE_CHARS}
_ASCII_TEXT_SCHEMA: Final = {**_TEXT_SCHEMA, "pattern": "^[ -~]*$"}
_FILENAME_SCHEMA: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_FILENAME_CHARS,
    "pattern": f"^[^/\\\\{_NO_CONTROL}]*$",
    "not": {"enum": [".", ".."]},
}
_RESTRICTED_NAME: Final = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE_SCHEMA: Final = {
    "type": "string",
    "pattern": f"^{_RESTRICTED_NAME}/{_RESTRICTED_NAME}$",
    "not": {"pattern": "^([Mm][Uu][Ll][Tt][Ii][Pp][Aa][Rr][Tt]|[Mm][Ee][Ss][Ss][Aa][Gg][Ee])/"},
}
_BASE64_SCHEMA: Final = {
    "type": "string",
    "contentEncoding": "base64",
    # Canonical (RFC 4648 §3.5): the bits a final group leaves over are zero.
    "pattern": "^(?:[A-Za-z0-9+/]{4})*"
    "(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$",
}


_HEADERS_SCHEMA: Final = {
    "type": "object",
    "maxProperties": MAX_CUSTOM_HEADERS,
    "patternProperties": {
        f"^[Xx]-[!-9;-~]{{1,{MAX_HEADER_NAME_CHARS - 2}}}$": _TEXT_SCHEMA,
        f"^({'|'.join(ALLOWED_HEADERS)})$": _ASCII_TEXT_SCHEMA,
    },
    "additionalProperties": False,
}


def _require(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


def parse_mailbox(value: object) -> Mailbox:
    """A ``Mailbox`` from ``addr`` or ``name <addr>``. Raises ``ValueError`` (or pydantic's
    ``string_type`` error for a non-string) for anything else."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not value:
        raise ValueError("must not be empty")
    _require(control_character_problem(value))
    match = _UNQUOTED_NAME.fullmatch(value)
    if match is not None and match[1]:
        name = match[1].replace("\\", "\\\\")
        value = f'"{name}" <{match[2]}>'
    try:
        checked = validate_email(value, check_deliverability=False, allow_display_name=True)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return Mailbox(checked.normalized, checked.display_name or "")


def strict_base64(value: object) -> bytes:
    """Standard base64 (RFC 4648 §4) in canonical form: no whitespace, padding as required."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    try:
        content = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (RFC 4648, no line breaks or whitespace)") from None
    if base64.b64encode(content) != value.encode("ascii"):
        raise ValueError("must be base64 in canonical form (RFC 4648 §3.5)")
    return content


def _filename(value: str) -> str:
    _require(filename_problem(value))
    return value


def _content_type(value: str) -> str:
    _require(content_type_problem(value))
    return value


Address = Annotated[
    Mailbox,
    PlainValidator(parse_mailbox),
    # "idn-email" (RFC 6531), not "email": international addresses are accepted too; so is a
    # display name in front, which no JSON Schema format describes.
    WithJsonSchema(
        {"type": "string", "format": "idn-email", "examples": ["Jörg Müller <jorg@example.com>"]}
    ),
]
Base64Bytes = Annotated[bytes, PlainValidator(strict_base64), WithJsonSchema(_BASE64_SCHEMA)]
FileName = Annotated[StrictStr, AfterValidator(_filename), WithJsonSchema(_FILENAME_SCHEMA)]
ContentType = Annotated[
    StrictStr, AfterValidator(_content_type), WithJsonSchema(_CONTENT_TYPE_SCHEMA)
]


class AttachmentField(BaseModel):
    """One attachment: ``content`` is base64; ``content_type`` is ``type/subtype``."""

    model_config = ConfigDict(extra="forbid")

    filename: FileName = Field(description="A base name: no directories, no control characters.")
    content_type: ContentType = Field(
        description="type/subtype (RFC 6838), no parameters; not multipart/* or message/*."
    )
    content: Base64Bytes = Field(description="The file, base64 (RFC 4648) without line breaks.")

    def to_attachment(self) -> Attachment:
        return Attachment(self.filename, self.content_type, self.content)


def _headers(value: dict[str, str]) -> dict[str, str]:
    _require(headers_problem(tuple(value.items())))
    return value


CustomHeaders = Annotated[
    dict[StrictStr, StrictStr], AfterValidator(_headers), WithJsonSchema(_HEADERS_SCHEMA)
]
Recipients = Annotated[list[Address], Field(max_length=MAX_RECIPIENTS - 1)]
