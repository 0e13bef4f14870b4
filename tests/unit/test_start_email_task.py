import pytest

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.get_task_status import GetTaskStatus
from application.ports import TaskSummary
from application.start_email_task import SendEmail, StartEmailTask
from domain.errors import InvalidEmail, TaskNotFound
from domain.task import TaskStatus
from tests.unit.fakes import FakeClock

HELLO = SendEmail(email="user@example.com", subject="Hello", body="Test email")


async def test_an_accepted_email_is_stored_pending_and_queued(
    start: StartEmailTask, store: InMemoryTaskStore, queue: InMemoryTaskQueue, clock: FakeClock
) -> None:
    task = await start(HELLO)
    stored = await GetTaskStatus(store=store)(task.id)
    assert stored == TaskSummary.of(task)
    assert await store.get(task.id) == task
    assert (stored.status, stored.attempts, stored.created_at) == (TaskStatus.PENDING, 0, clock())
    leases = await queue.receive(10, wait_s=0)
    assert [lease.task_id for lease in leases] == [task.id]


async def test_the_message_id_and_date_are_fixed_at_acceptance(start: StartEmailTask) -> None:
    task = await start(HELLO)
    assert task.email.message_id == f"<{task.id}@example.org>"
    assert task.email.date == task.created_at
    assert (task.email.sender, task.email.to) == ("mailroom@example.org", "user@example.com")


async def test_an_invalid_email_stores_and_queues_nothing(
    start: StartEmailTask, store: InMemoryTaskStore, queue: InMemoryTaskQueue
) -> None:
    with pytest.raises(InvalidEmail):
        await start(SendEmail(email="user@example.com", subject="a\nBcc: x@y.z", body=""))
    assert len(store) == 0
    assert len(queue) == 0


async def test_an_unknown_task_is_not_found(store: InMemoryTaskStore) -> None:
    with pytest.raises(TaskNotFound):
        await GetTaskStatus(store=store)("00000000-0000-4000-8000-000000000000")
