"""A mailer that writes each message to an outbox directory as an ``.eml`` file (RFC 5322)."""

import asyncio
import os
import re
import tempfile
from datetime import UTC
from pathlib import Path
from typing import Final

from adapters.mime import render
from application.errors import TransientDeliveryError
from domain.message import DeliveryReceipt, Email

_UNSAFE_CHARACTERS: Final = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM_CHARACTERS: Final = 100


class FileMailer:
    """``Mailer`` port: writes ``<UTC Date>-<Message-ID local part>.eml`` into ``outbox_dir``.

    The name comes from the email's own Date and Message-ID, so a retried delivery replaces its
    earlier file rather than adding a copy. Each file appears whole or not at all (written to a
    temporary file, then renamed). The directory is created when missing. Raises
    ``TransientDeliveryError`` when the file cannot be written; the receipt's ``detail`` is the
    file's path.
    """

    def __init__(self, outbox_dir: Path) -> None:
        self._outbox_dir = outbox_dir

    async def send(self, email: Email) -> DeliveryReceipt:
        path = self._outbox_dir / file_name(email)
        content = render(email)
        try:
            await asyncio.to_thread(_write_atomically, path, content)
        except OSError as exc:
            raise TransientDeliveryError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return DeliveryReceipt(message_id=email.message_id, detail=str(path))


def file_name(email: Email) -> str:
    """``20240102T030405Z-<local part>.eml``, safe on any filesystem."""
    stamp = email.date.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    local_part = email.message_id.strip().strip("<>").rpartition("@")[0] or email.message_id
    stem = _UNSAFE_CHARACTERS.sub("_", local_part).strip("._")[:_MAX_STEM_CHARACTERS]
    return f"{stamp}-{stem or 'message'}.eml"


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
