"""The task codec: explicit JSON that reads back to the same task."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.codec import (
    email_to_json,
    status_to_json,
    task_from_json,
    task_from_parts,
    task_to_json,
)
from domain.message import DeliveryReceipt, Email, SmtpReply
from domain.task import Task

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def a_task() -> Task:
    email = Email(
        sender="app@example.com",
        to="zoë@example.org",
        subject="Grüße",
        body="Hello\r\n" * 3,
        message_id="<id-1@example.com>",
        date=NOW.astimezone(timezone(timedelta(hours=2))),
    )
    return Task.accept("id-1", email, NOW)


def a_finished_task() -> Task:
    started = a_task().start_attempt(NOW)
    retry = started.reschedule(
        "421 busy", NOW + timedelta(seconds=30), NOW, possibly_delivered=True
    )
    receipt = DeliveryReceipt("<id-1@example.com>", SmtpReply(250, "2.0.0 OK"))
    return retry.start_attempt(NOW).complete(receipt, NOW + timedelta(seconds=31))


@pytest.mark.parametrize("task", [a_task(), a_finished_task()], ids=["new", "finished"])
def test_a_task_reads_back_equal_whole_or_in_parts(task: Task) -> None:
    assert task_from_json(task_to_json(task)) == task
    assert task_from_parts(status_to_json(task), email_to_json(task.email)) == task
    assert (
        task_from_parts(status_to_json(task).encode(), email_to_json(task.email).encode()) == task
    )


def test_the_json_spells_every_field_out() -> None:
    fields = json.loads(task_to_json(a_finished_task()))

    assert fields["status"] == "completed"
    assert fields["updated_at"] == "2024-05-01T12:00:31.123456+00:00"
    assert fields["email"]["date"] == "2024-05-01T14:00:00.123456+02:00"
    assert fields["result"] == {
        "possibly_delivered_attempts": [1],
        "message_id": "<id-1@example.com>",
        "smtp_code": 250,
        "smtp_message": "2.0.0 OK",
    }
    assert "email" not in json.loads(status_to_json(a_task()))


def test_a_datetime_without_offset_is_refused() -> None:
    naive = replace(a_task(), created_at=datetime(2024, 5, 1, 12))

    with pytest.raises(ValueError, match="UTC offset"):
        status_to_json(naive)


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", "2"), ("version", True), ("status", "lost"), ("created_at", "yesterday")],
)
def test_a_corrupt_record_is_refused(field: str, value: object) -> None:
    status = {**json.loads(status_to_json(a_task())), field: value}

    with pytest.raises(ValueError, match="unreadable stored task"):
        task_from_parts(json.dumps(status), email_to_json(a_task().email))


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"id": "x"}'])
def test_text_that_is_not_a_task_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable stored task"):
        task_from_json(text)
