"""FileMailer on a real filesystem (pytest's tmp_path)."""

import email
import email.policy
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.file_mailer import FileMailer, file_name
from adapters.mime import render
from application.errors import TransientDeliveryError
from application.ports import Mailer
from domain.message import Email

EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Grüße",
    body="Hello\n.\nbye",
    message_id="<task-1@example.org>",
    date=datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
)


def test_it_is_a_mailer(tmp_path: Path) -> None:
    assert isinstance(FileMailer(tmp_path), Mailer)


async def test_writes_the_rendered_message_and_reports_its_path(tmp_path: Path) -> None:
    receipt = await FileMailer(tmp_path).send(EMAIL)

    path = tmp_path / "20240102T030405Z-task-1.eml"
    assert receipt.detail == str(path)
    assert receipt.message_id == EMAIL.message_id
    assert path.read_bytes() == render(EMAIL)
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Grüße"


async def test_creates_the_outbox_directory(tmp_path: Path) -> None:
    outbox = tmp_path / "deep" / "outbox"

    await FileMailer(outbox).send(EMAIL)

    assert [path.name for path in outbox.iterdir()] == ["20240102T030405Z-task-1.eml"]


async def test_a_retried_message_replaces_its_file_and_leaves_no_temporaries(
    tmp_path: Path,
) -> None:
    mailer = FileMailer(tmp_path)

    await mailer.send(EMAIL)
    await mailer.send(EMAIL)

    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize(
    ("message_id", "stem"),
    [
        ("<a/../b c@example.org>", "a_.._b_c"),
        ("<../../etc/passwd@x>", "etc_passwd"),
        ("<@example.org>", "example.org"),
        ("no-brackets-or-at", "no-brackets-or-at"),
        ("<...@x>", "message"),
    ],
)
def test_file_names_are_filesystem_safe(message_id: str, stem: str) -> None:
    name = file_name(replace(EMAIL, message_id=message_id))

    assert name == f"20240102T030405Z-{stem}.eml"


async def test_unwritable_outbox_is_a_transient_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    with pytest.raises(TransientDeliveryError) as caught:
        await FileMailer(blocker).send(EMAIL)

    assert str(blocker) in caught.value.reason
