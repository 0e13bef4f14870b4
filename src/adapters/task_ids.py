"""Task ids: random UUIDs (version 4, RFC 9562 §5.4) in canonical text form.

``RandomUuids`` reads the kernel's random bytes (``os.urandom``) for 256 ids at a time instead of
one system call per id as ``uuid.uuid4`` does; the bytes are the same kind (a CSPRNG), the
version and variant bits are set as ``uuid.UUID(bytes=..., version=4)`` sets them. A forked
child process starts with an empty buffer, so parent and child never hand out the same ids.
"""

import os
import weakref
from typing import Final

_BATCH: Final = 256
_live: "weakref.WeakSet[RandomUuids]" = weakref.WeakSet()


class RandomUuids:
    """``ids()`` -> ``"xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"`` (y in 8-b), a new one per call."""

    def __init__(self) -> None:
        self._buffer = b""
        self._next = 0
        _live.add(self)

    def __call__(self) -> str:
        if self._next >= len(self._buffer):
            self._buffer, self._next = os.urandom(16 * _BATCH), 0
        raw = bytearray(self._buffer[self._next : self._next + 16])
        self._next += 16
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # variant 10 (RFC 9562)
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def _forget(self) -> None:
        self._buffer, self._next = b"", 0


def _after_fork() -> None:
    for ids in list(_live):
        ids._forget()


os.register_at_fork(after_in_child=_after_fork)
