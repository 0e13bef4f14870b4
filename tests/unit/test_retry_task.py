"""Retrying a failed task: the requeue transition and the use case, against the in-memory store."""

import pytest

from adapters.fake_mailer import FakeMailer
from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.deliver_email import DeliverEmail, Outcome
from application.errors import PermanentDeliveryError, TransientDeliveryError
from application.get_task_status import GetTaskStatus
from application.retry_task import RetryTask
from application.start_email_task import SendEmail, StartEmailTask
from domain.errors import InvalidTransition, TaskNotFound
from domain.task import Task, TaskStatus
from tests.unit.fakes import FakeClock

HELLO = SendEmail(email="ann@example.com", subject="Hello", body="Hi")


@pytest.fixture
def retry(store: InMemoryTaskStore, clock: FakeClock) -> RetryTask:
    return RetryTask(store=store, clock=clock)


async def deliver_next(queue: InMemoryTaskQueue, deliver: DeliverEmail) -> Outcome:
    [lease] = await queue.receive(1, wait_s=0)
    outcome = await deliver(lease)
    await queue.ack(lease)
    return outcome


async def failed_task(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    owner: str | None = "billing",
) -> Task:
    task = await start(HELLO, owner=owner)
    mailer.fail_next(PermanentDeliveryError("550 no such user", code=550))
    assert await deliver_next(queue, deliver) is Outcome.FAILED
    return task


async def test_a_failed_task_goes_back_to_pending_with_a_fresh_set_of_attempts(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    retry: RetryTask,
    clock: FakeClock,
) -> None:
    task = await failed_task(start, queue, deliver, mailer)
    clock.advance(5)

    requeued = await retry(task.id, owner="billing")

    assert (requeued.status, requeued.attempts, requeued.next_attempt_at) == (
        TaskStatus.PENDING,
        0,
        clock(),
    )
    assert requeued.error == "550 no such user"
    assert requeued.result == {"requeued_after_attempts": [1]}


async def test_a_retried_task_is_delivered_again_and_can_retry_in_full(
    start: StartEmailTask,
    store: InMemoryTaskStore,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    retry: RetryTask,
    clock: FakeClock,
) -> None:
    task = await failed_task(start, queue, deliver, mailer)
    await retry(task.id, owner="billing")
    mailer.fail_next(TransientDeliveryError("451 try later", code=451))

    assert await deliver_next(queue, deliver) is Outcome.RESCHEDULED  # attempt 1 of 3 again
    clock.advance(300)
    assert await deliver_next(queue, deliver) is Outcome.COMPLETED

    done = await store.get(task.id)
    assert (done.status, done.attempts) == (TaskStatus.COMPLETED, 2)
    assert done.result is not None
    assert done.result["requeued_after_attempts"] == [1]
    assert [email.message_id for email in mailer.sent] == [task.email.message_id]


@pytest.mark.parametrize("status", ["pending", "completed"])
async def test_only_a_failed_task_can_be_retried(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    retry: RetryTask,
    status: str,
) -> None:
    task = await start(HELLO, owner="billing")
    if status == "completed":
        await deliver_next(queue, deliver)

    with pytest.raises(InvalidTransition):
        await retry(task.id, owner="billing")


async def test_another_owners_task_is_not_found(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    retry: RetryTask,
    store: InMemoryTaskStore,
) -> None:
    task = await failed_task(start, queue, deliver, mailer, owner="billing")

    for other in ("reports", None):
        with pytest.raises(TaskNotFound):
            await retry(task.id, owner=other)
        with pytest.raises(TaskNotFound):
            await GetTaskStatus(store=store)(task.id, owner=other)
    assert (await store.get(task.id)).status is TaskStatus.FAILED


async def test_a_retried_task_outlives_the_failed_tasks_ttl(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    retry: RetryTask,
    store: InMemoryTaskStore,
    clock: FakeClock,
) -> None:
    task = await failed_task(start, queue, deliver, mailer)
    await retry(task.id, owner="billing")

    clock.advance(3600 + 1)  # the store's TTL, counted from the failure

    assert (await store.get(task.id)).status is TaskStatus.PENDING


def test_requeue_is_refused_from_every_status_but_failed(start: StartEmailTask) -> None:
    task = start.prepare(HELLO)
    processing = task.start_attempt(task.created_at)
    for not_failed in (task, processing):
        with pytest.raises(InvalidTransition):
            not_failed.requeue(task.created_at)
    again = processing.fail("550", task.created_at).requeue(task.created_at)
    assert (again.version, again.owner) == (task.version + 3, task.owner)
