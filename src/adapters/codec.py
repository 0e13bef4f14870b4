"""Tasks as JSON text (orjson), written and read field by field.

A task is stored in two parts so that a status read need not load a large body:

* the status part, every field but the email:
  ``{"id", "status", "created_at", "updated_at", "attempts", "result", "error",
  "next_attempt_at", "version", "owner"}`` (``owner`` may be absent: None);
* the email part: ``{"sender", "to", "subject", "body", "message_id", "date"}`` and the
  optional parts that are set (``adapters.codec_email``).

``task_to_json`` nests the email part under ``"email"`` in the status part. Datetimes are
ISO 8601 with their UTC offset (``2024-05-01T12:00:00.123456+00:00``); ``result`` stays a JSON
object. Readers raise ``ValueError`` ("unreadable stored task: ...") for text that is not a task
written by this module, and ``InvalidEmail`` when a stored email breaks an ``Email`` invariant.

An idempotency record is ``{"fingerprint": hex, "task_ids": [id, ...]}``.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import orjson

from adapters.codec_email import optional_fields, optional_values
from application.ports import IdempotencyRecord, TaskSummary
from domain.message import Email
from domain.task import Task, TaskStatus

_T = TypeVar("_T")


def task_to_json(task: Task) -> str:
    """The whole task, the email nested as an object."""
    return _dumps({**_status_fields(task), "email": _email_fields(task.email)})


def task_from_json(text: str | bytes) -> Task:
    """Read ``task_to_json`` output."""
    with _reading():
        fields = _object(orjson.loads(text), "task")
        return _task(fields, _email(_object(fields.get("email"), "email")))


def status_to_json(task: Task) -> str:
    """The status part: everything but the email."""
    return _dumps(_status_fields(task))


def email_to_json(email: Email) -> str:
    """The email part."""
    return _dumps(_email_fields(email))


def task_from_parts(status_json: str | bytes, email_json: str | bytes) -> Task:
    """Read a task back from ``status_to_json`` and ``email_to_json`` output."""
    with _reading():
        email = _email(_object(orjson.loads(email_json), "email"))
        return _task(_object(orjson.loads(status_json), "status"), email)


def summary_from_json(status_json: str | bytes) -> TaskSummary:
    """Read the status part alone (no email), as listings need it."""
    with _reading():
        return TaskSummary(**_status_values(_object(orjson.loads(status_json), "status")))


def record_to_json(fingerprint: str, task_ids: Sequence[str]) -> str:
    """An idempotency record."""
    return _dumps({"fingerprint": fingerprint, "task_ids": list(task_ids)})


def record_from_json(text: str | bytes) -> IdempotencyRecord:
    """Read ``record_to_json`` output."""
    with _reading():
        fields = _object(orjson.loads(text), "idempotency record")
        task_ids = _typed(fields, "task_ids", list)
        if not all(isinstance(task_id, str) for task_id in task_ids):
            raise ValueError("stored task_ids are not all text")
        return IdempotencyRecord(_typed(fields, "fingerprint", str), tuple(task_ids))


@contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise ValueError(f"unreadable stored task: {exc}") from exc


def _dumps(fields: dict[str, Any]) -> str:
    return orjson.dumps(fields).decode()


def _status_fields(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "status": task.status.value,
        "created_at": _aware(task.created_at),
        "updated_at": _aware(task.updated_at),
        "attempts": task.attempts,
        "result": None if task.result is None else dict(task.result),
        "error": task.error,
        "next_attempt_at": None if task.next_attempt_at is None else _aware(task.next_attempt_at),
        "version": task.version,
        "owner": task.owner,
    }


def _email_fields(email: Email) -> dict[str, Any]:
    return {
        "sender": email.sender,
        "to": email.to,
        "subject": email.subject,
        "body": email.body,
        "message_id": email.message_id,
        "date": _aware(email.date),
        **optional_fields(email),
    }


def _task(fields: Mapping[str, Any], email: Email) -> Task:
    return Task(email=email, **_status_values(fields))


def _status_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _typed(fields, "id", str),
        "status": TaskStatus(_typed(fields, "status", str)),
        "created_at": _datetime(_typed(fields, "created_at", str)),
        "updated_at": _datetime(_typed(fields, "updated_at", str)),
        "attempts": _typed(fields, "attempts", int),
        "result": _optional(fields, "result", dict),
        "error": _optional(fields, "error", str),
        "next_attempt_at": _optional_datetime(_optional(fields, "next_attempt_at", str)),
        "version": _typed(fields, "version", int),
        "owner": _optional(fields, "owner", str),
    }


def _email(fields: Mapping[str, Any]) -> Email:
    return Email(
        sender=_typed(fields, "sender", str),
        to=_typed(fields, "to", str),
        subject=_typed(fields, "subject", str),
        body=_typed(fields, "body", str),
        message_id=_typed(fields, "message_id", str),
        date=_datetime(_typed(fields, "date", str)),
        **optional_values(fields),
    )


def _aware(moment: datetime) -> datetime:
    """``moment`` for orjson, which writes it as ``datetime.isoformat`` does (RFC 3339 with the
    offset); a datetime without a UTC offset is refused."""
    if moment.utcoffset() is None:
        raise ValueError(f"cannot store a datetime without a UTC offset: {moment!r}")
    return moment


def _datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"stored datetime has no UTC offset: {text!r}")
    return moment


def _optional_datetime(text: str | None) -> datetime | None:
    return None if text is None else _datetime(text)


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"stored {what} is not a JSON object")
    return value


def _typed(fields: Mapping[str, Any], name: str, kind: type[_T]) -> _T:
    value = fields.get(name)
    # bool is an int subclass, but never a valid count or version.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"stored field {name!r} is not a {kind.__name__}: {value!r}")
    return value


def _optional(fields: Mapping[str, Any], name: str, kind: type[_T]) -> _T | None:
    return None if fields.get(name) is None else _typed(fields, name, kind)
