"""What the Redis store and queue share: key names, error translation, reply decoding.

Replies are decoded here so that both ``decode_responses=True`` and ``False`` clients, and RESP2
and RESP3 connections, work: nothing Redis-shaped leaves the adapters.
"""

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from application.errors import StoreUnavailable


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every Redis name Mailroom uses, derived from ``prefix``.

    ``task(id)`` is a task's hash (``version``, ``status``, ``email``, ``writer``), ``queue`` the
    delivery stream, ``delayed`` the sorted set of retries waiting for their time (score: epoch
    seconds), ``group`` the stream's consumer group. ``tasks_of(owner)`` is the sorted set of an
    owner's task ids (score: creation time in microseconds since the epoch) and
    ``tasks_of(owner, status)`` the same for the tasks now in ``status``; ``idempotency(owner,
    key)`` holds an idempotency record. On Redis Cluster, use a hash-tagged prefix such as
    ``"{mailroom}:"``: the scripts touch task keys, indexes and the stream together, and derive
    task keys from ``prefix``.
    """

    prefix: str = "mailroom:"
    group: str = "mailroom-workers"

    def task(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def queue(self) -> str:
        return f"{self.prefix}queue"

    @property
    def delayed(self) -> str:
        return f"{self.prefix}delayed"

    def tasks_of(self, owner: str | None, status: str | None = None) -> str:
        """``{prefix}owner:{name}:tasks[:{status}]``; tasks created while the API was open (owner
        None) are under ``{prefix}open:tasks[:{status}]``, a name no owner can take."""
        index = f"{self._owner(owner)}:tasks"
        return index if status is None else f"{index}:{status}"

    def idempotency(self, owner: str | None, key: str) -> str:
        """``{prefix}owner:{name}:idempotency:{SHA-256 of key}``: the key is hashed so that any
        text the client sends makes a short, safe name."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"{self._owner(owner)}:idempotency:{digest}"

    def _owner(self, owner: str | None) -> str:
        return f"{self.prefix}open" if owner is None else f"{self.prefix}owner:{owner}"


@contextmanager
def unavailable_on_redis_errors() -> Iterator[None]:
    """Turn ``RedisError`` and ``OSError`` raised inside the block into ``StoreUnavailable``."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"redis: {exc or type(exc).__name__}") from exc


def is_error(exc: ResponseError, code: str) -> bool:
    """True when Redis answered with the error ``code`` (``NOGROUP``, ``BUSYGROUP``): the reply
    starts with it, or, raised by ``redis.call`` inside a script, it follows a ``": "``. Redis
    before 7.0 puts the script's location first in such an error (``"@user_script: 52: NOGROUP
    ..."``, ``luaPushError`` in ``scripting.c``), and an error a script does not catch comes
    back as ``"Error running script (call to f_<sha>): @user_script: 1: NOGROUP ..."``."""
    message = str(exc)
    return message.startswith(f"{code} ") or f": {code} " in message


def as_text(value: object) -> str:
    """A reply value as text, whether the client decodes responses or not."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def stream_entries(reply: Any) -> list[tuple[str, str]]:
    """``(entry_id, task_id)`` pairs from an XREADGROUP reply on one stream, in any of the shapes
    redis-py returns (RESP2 list of ``[stream, entries]``, RESP3 dict ``stream -> entries``, with
    or without an extra list around the entries)."""
    if not reply:
        return []
    per_stream = reply.values() if isinstance(reply, Mapping) else (item[1] for item in reply)
    pairs: list[tuple[str, str]] = []
    for entries in per_stream:
        if entries and isinstance(entries[0], list):
            entries = entries[0]
        pairs.extend(entry_pairs(entries))
    return pairs


def entry_pairs(entries: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """``(entry_id, task_id)`` from ``(entry_id, fields)`` items; skips deleted entries (no fields).

    An entry without a ``task_id`` field yields an empty task id: the task is then not found and
    the entry dropped like one whose task expired.
    """
    for entry_id, fields in entries:
        if entry_id is not None and fields is not None:
            yield as_text(entry_id), _task_id(fields)


def _task_id(fields: Mapping[Any, Any]) -> str:
    for name, value in fields.items():
        if as_text(name) == "task_id":
            return as_text(value)
    return ""
