"""The optional parts of a stored email, as JSON values (used by ``adapters.codec``).

Each is written only when set, so a plain email's JSON is ``{"sender", "to", "subject", "body",
"message_id", "date"}`` and emails stored before these parts existed read back unchanged:

* ``"to_name"``: text; ``"html"``: text;
* ``"cc"``: ``[{"address", "name"}]``; ``"reply_to"``: ``{"address", "name"}``;
* ``"bcc"``: ``[address]``;
* ``"attachments"``: ``[{"filename", "content_type", "content"}]``, ``content`` base64;
* ``"headers"``: ``[[name, value]]``, in order.

``optional_values`` raises ``ValueError`` for values of the wrong shape.
"""

import base64
from collections.abc import Mapping
from typing import Any

from domain.message import Attachment, Email, Mailbox


def optional_fields(email: Email) -> dict[str, Any]:
    """The JSON values of ``email``'s optional parts that are set."""
    fields: dict[str, Any] = {}
    if email.to_name:
        fields["to_name"] = email.to_name
    if email.cc:
        fields["cc"] = [_mailbox_json(mailbox) for mailbox in email.cc]
    if email.bcc:
        fields["bcc"] = list(email.bcc)
    if email.reply_to is not None:
        fields["reply_to"] = _mailbox_json(email.reply_to)
    if email.html is not None:
        fields["html"] = email.html
    if email.attachments:
        fields["attachments"] = [_attachment_json(item) for item in email.attachments]
    if email.headers:
        fields["headers"] = [[name, value] for name, value in email.headers]
    return fields


def optional_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``Email`` keyword arguments for the optional parts present in ``fields``."""
    values: dict[str, Any] = {}
    if "to_name" in fields:
        values["to_name"] = _text(fields["to_name"], "to_name")
    if "cc" in fields:
        values["cc"] = tuple(_mailbox(item) for item in _list(fields["cc"], "cc"))
    if "bcc" in fields:
        values["bcc"] = tuple(_text(item, "bcc") for item in _list(fields["bcc"], "bcc"))
    if "reply_to" in fields:
        values["reply_to"] = _mailbox(fields["reply_to"])
    if "html" in fields:
        values["html"] = _text(fields["html"], "html")
    if "attachments" in fields:
        items = _list(fields["attachments"], "attachments")
        values["attachments"] = tuple(_attachment(item) for item in items)
    if "headers" in fields:
        values["headers"] = tuple(_header(item) for item in _list(fields["headers"], "headers"))
    return values


def _mailbox_json(mailbox: Mailbox) -> dict[str, str]:
    return {"address": mailbox.address, "name": mailbox.name}


def _attachment_json(attachment: Attachment) -> dict[str, str]:
    return {
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "content": base64.b64encode(attachment.content).decode("ascii"),
    }


def _mailbox(value: object) -> Mailbox:
    fields = _object(value, "mailbox")
    return Mailbox(_text(fields.get("address"), "address"), _text(fields.get("name"), "name"))


def _attachment(value: object) -> Attachment:
    fields = _object(value, "attachment")
    content = base64.b64decode(_text(fields.get("content"), "content"), validate=True)
    return Attachment(
        _text(fields.get("filename"), "filename"),
        _text(fields.get("content_type"), "content_type"),
        content,
    )


def _header(value: object) -> tuple[str, str]:
    pair = _list(value, "header")
    if len(pair) != 2:
        raise ValueError(f"stored header is not a [name, value] pair: {value!r}")
    return _text(pair[0], "header name"), _text(pair[1], "header value")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"stored {what} is not text: {value!r}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"stored {what} is not a list")
    return value


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"stored {what} is not a JSON object")
    return value
