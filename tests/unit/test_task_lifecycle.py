from datetime import timedelta

import pytest

from domain.errors import InvalidTransition
from domain.message import DeliveryReceipt, Email, SmtpReply
from domain.task import Task, TaskStatus
from tests.unit.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_task(task_id: str, clock: FakeClock) -> Task:
    email = Email(
        sender="mailroom@example.org",
        to="user@example.com",
        subject="Hello",
        body="Hi",
        message_id=f"<{task_id}@example.org>",
        date=clock(),
    )
    return Task.accept(task_id, email, clock())


@pytest.fixture
def task(clock: FakeClock) -> Task:
    return make_task("t1", clock)


def receipt() -> DeliveryReceipt:
    return DeliveryReceipt(message_id="<t1@example.org>", reply=SmtpReply(250, "2.0.0 queued"))


def test_a_new_task_is_pending_with_no_attempts(task: Task) -> None:
    assert (task.status, task.attempts, task.version) == (TaskStatus.PENDING, 0, 1)


def test_a_delivered_task_completes_with_the_smtp_reply_in_its_result(
    task: Task, clock: FakeClock
) -> None:
    started = task.start_attempt(clock())
    clock.advance(1)
    done = started.complete(receipt(), clock())
    assert done.status is TaskStatus.COMPLETED
    assert done.attempts == 1
    assert done.result == {
        "message_id": "<t1@example.org>",
        "smtp_code": 250,
        "smtp_message": "2.0.0 queued",
    }
    assert done.updated_at == task.created_at + timedelta(seconds=1)
    assert done.version == task.version + 2


@pytest.mark.parametrize("terminal", ["complete", "fail"])
def test_a_terminal_task_never_changes_again(task: Task, clock: FakeClock, terminal: str) -> None:
    started = task.start_attempt(clock())
    ended = (
        started.complete(receipt(), clock())
        if terminal == "complete"
        else started.fail("x", clock())
    )
    with pytest.raises(InvalidTransition):
        ended.start_attempt(clock())
    with pytest.raises(InvalidTransition):
        ended.complete(receipt(), clock())
    with pytest.raises(InvalidTransition):
        ended.fail("again", clock())
    with pytest.raises(InvalidTransition):
        ended.reschedule("again", clock(), clock())


def test_a_pending_task_cannot_complete_without_an_attempt(task: Task, clock: FakeClock) -> None:
    with pytest.raises(InvalidTransition):
        task.complete(receipt(), clock())


def test_a_rescheduled_task_waits_until_its_retry_time(task: Task, clock: FakeClock) -> None:
    retry_at = clock() + timedelta(seconds=4)
    waiting = task.start_attempt(clock()).reschedule("451 try later", retry_at, clock())
    assert (waiting.status, waiting.error, waiting.next_attempt_at) == (
        TaskStatus.PENDING,
        "451 try later",
        retry_at,
    )
    assert not waiting.is_due(clock())
    clock.advance(4)
    assert waiting.is_due(clock())
    again = waiting.start_attempt(clock())
    assert (again.attempts, again.next_attempt_at) == (2, None)


def test_an_attempt_that_may_have_reached_the_server_is_remembered(
    task: Task, clock: FakeClock
) -> None:
    first = task.start_attempt(clock()).reschedule(
        "timeout", clock(), clock(), possibly_delivered=True
    )
    second = first.start_attempt(clock()).reschedule(
        "timeout", clock(), clock(), possibly_delivered=True
    )
    done = second.start_attempt(clock()).complete(receipt(), clock())
    assert done.result is not None
    assert done.result["possibly_delivered_attempts"] == [1, 2]
    assert done.result["message_id"] == "<t1@example.org>"


def test_a_reclaimed_attempt_notes_the_interrupted_one(task: Task, clock: FakeClock) -> None:
    reclaimed = task.start_attempt(clock()).start_attempt(clock())
    assert (reclaimed.status, reclaimed.attempts) == (TaskStatus.PROCESSING, 2)
    assert reclaimed.result == {"interrupted_attempts": [1]}
