"""The optional parts of a stored email: written only when set, read back equal."""

import json
from datetime import UTC, datetime

import pytest

from adapters.codec import (
    email_to_json,
    status_to_json,
    task_from_json,
    task_from_parts,
    task_to_json,
)
from domain.message import Attachment, Email, Mailbox
from domain.task import Task

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLAIN = Email(
    sender="app@example.com",
    to="user@example.org",
    subject="Hi",
    body="Hello",
    message_id="<id-1@example.com>",
    date=NOW,
)
RICH = Email(
    sender="app@example.com",
    to="zoë@bücher.example",
    to_name="Zoë",
    subject="Grüße",
    body="Hello",
    message_id="<id-1@example.com>",
    date=NOW,
    cc=(Mailbox("a@example.com", "Ann"), Mailbox("b@example.com")),
    bcc=("hidden@example.com",),
    reply_to=Mailbox("support@example.com", "Support"),
    html="<p>Hello</p>",
    attachments=(Attachment("a.bin", "application/octet-stream", bytes(range(256))),),
    headers=(("X-Tag", "☃"), ("In-Reply-To", "<p@example.org>")),
)


@pytest.mark.parametrize("email", [PLAIN, RICH], ids=["plain", "rich"])
def test_an_email_reads_back_equal(email: Email) -> None:
    task = Task.accept("id-1", email, NOW)

    assert task_from_json(task_to_json(task)) == task
    assert task_from_parts(status_to_json(task), email_to_json(email)) == task


def test_a_plain_email_stores_only_the_original_fields() -> None:
    assert set(json.loads(email_to_json(PLAIN))) == {
        "sender",
        "to",
        "subject",
        "body",
        "message_id",
        "date",
    }


def test_attachments_are_stored_as_base64() -> None:
    [stored] = json.loads(email_to_json(RICH))["attachments"]

    assert stored == {
        "filename": "a.bin",
        "content_type": "application/octet-stream",
        "content": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4"
        "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3"
        "eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2"
        "t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T1"
        "9vf4+fr7/P3+/w==",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cc", "a@example.com"),
        ("cc", [{"address": 1, "name": ""}]),
        ("bcc", [None]),
        ("reply_to", ["x"]),
        ("attachments", [{"filename": "a", "content_type": "text/plain", "content": "%%"}]),
        ("headers", [["X-Tag"]]),
        ("html", 3),
    ],
)
def test_a_corrupt_optional_part_is_refused(field: str, value: object) -> None:
    stored = {**json.loads(email_to_json(PLAIN)), field: value}

    with pytest.raises(ValueError, match="unreadable stored task"):
        task_from_parts(status_to_json(Task.accept("id-1", PLAIN, NOW)), json.dumps(stored))
