"""The codec's owner field, status-only summaries and idempotency records."""

import json
from datetime import UTC, datetime

import pytest

from adapters.codec import (
    email_to_json,
    record_from_json,
    record_to_json,
    status_to_json,
    summary_from_json,
    task_from_parts,
)
from application.ports import IdempotencyRecord, TaskSummary
from domain.message import Email
from domain.task import Task

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def a_task(owner: str | None) -> Task:
    email = Email(
        sender="app@example.com",
        to="user@example.org",
        subject="Hi",
        body="Hello",
        message_id="<id-1@example.com>",
        date=NOW,
    )
    return Task.accept("id-1", email, NOW, owner=owner)


@pytest.mark.parametrize("owner", ["billing", None])
def test_the_owner_is_kept_in_the_status_part_only(owner: str | None) -> None:
    task = a_task(owner)

    assert json.loads(status_to_json(task))["owner"] == owner
    assert "owner" not in json.loads(email_to_json(task.email))
    assert task_from_parts(status_to_json(task), email_to_json(task.email)).owner == owner


def test_a_task_stored_before_owners_existed_has_none() -> None:
    fields = json.loads(status_to_json(a_task("billing")))
    del fields["owner"]

    assert task_from_parts(json.dumps(fields), email_to_json(a_task(None).email)).owner is None


def test_a_summary_reads_the_status_part_alone() -> None:
    task = a_task("billing").start_attempt(NOW).fail("550 no", NOW)

    assert summary_from_json(status_to_json(task).encode()) == TaskSummary.of(task)


def test_an_idempotency_record_reads_back() -> None:
    text = record_to_json("ab" * 32, ["t1", "t2"])

    assert record_from_json(text) == IdempotencyRecord("ab" * 32, ("t1", "t2"))


@pytest.mark.parametrize(
    "text", ["[]", '{"fingerprint": "x"}', '{"fingerprint": "x", "task_ids": [1]}', "{"]
)
def test_an_unreadable_record_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable stored task"):
        record_from_json(text)
