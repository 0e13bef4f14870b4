"""Logging for every ``mailroom`` command: one JSON object per line (or plain text), on stderr.

Each record carries the request id (``X-Request-ID``, see ``entrypoints.api.request_id``) and the
task id of the delivery it belongs to when there is one, from the context variables below.
Email addresses anywhere in a record are masked (``user@example.com`` -> ``u***@example.com``).
Message bodies, passwords and API keys are never passed to a logger in the first place.

JSON fields: ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, then
``request_id``, ``task_id`` and any ``extra`` fields, and ``exc_info`` for an exception.
"""

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any, Final, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

request_id: ContextVar[str | None] = ContextVar("mailroom_request_id", default=None)
"""The id of the HTTP request being handled (set by the ``RequestId`` middleware)."""

task_id: ContextVar[str | None] = ContextVar("mailroom_task_id", default=None)
"""The id of the task being delivered (set for the duration of one delivery)."""

LogFormat = Literal["json", "text"]

_ADDRESS: Final = re.compile(
    r"""([^\s@<>()\[\]"',;:])[^\s@<>()\[\]"',;:]*@([^\s@<>()\[\]"',;:]+)"""
)
_HANDLER_NAME: Final = "mailroom"


def mask_addresses(text: str) -> str:
    """``text`` with every email address reduced to its first character and its domain:
    ``"to user@example.com"`` -> ``"to u***@example.com"``."""
    if "@" not in text:
        return text
    return _ADDRESS.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    return f"{match[1]}***@{match[2]}"


class _Context(logging.Filter):
    """Adds ``request_id`` and ``task_id`` from the context variables, when set and not given
    explicitly as ``extra``."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("task_id", task_id)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class MaskingJsonFormatter(OrjsonFormatter):
    """python-json-logger's formatter (orjson: several times faster than the json module's), with
    addresses masked in every string field and fields
    without a value (None) left out."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {
            key: mask_addresses(value) if isinstance(value, str) else value
            for key, value in log_data.items()
            if value is not None
        }


class MaskingTextFormatter(logging.Formatter):
    """``time level logger message [request_id=... task_id=...]``, addresses masked."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(
            f"{name}={getattr(record, name)}"
            for name in ("request_id", "task_id")
            if hasattr(record, name)
        )
        return mask_addresses(f"{text} [{ids}]" if ids else text)


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    if log_format == "text":
        return MaskingTextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    return MaskingJsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI-coloured copy
        timestamp=True,
    )


def configure_logging(level: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Send every logger's records (uvicorn's included) to one handler writing to ``stream``
    (default: stderr) at ``level`` (``"info"``, ...), formatted as ``log_format``. Calling it
    again replaces the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_Context())
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
