from datetime import timedelta

import pytest

from adapters.fake_mailer import FakeMailer
from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.deliver_email import DeliverEmail, Outcome
from application.errors import ConcurrentUpdate, PermanentDeliveryError, TransientDeliveryError
from application.ports import Lease
from application.start_email_task import SendEmail, StartEmailTask
from domain.task import Task, TaskStatus
from tests.unit.fakes import FakeClock

HELLO = SendEmail(email="user@example.com", subject="Hello", body="Test email")


def try_later() -> TransientDeliveryError:
    return TransientDeliveryError("451 4.3.0 try later", code=451)


async def accepted(start: StartEmailTask, queue: InMemoryTaskQueue) -> Lease:
    await start(HELLO)
    (lease,) = await queue.receive(1, wait_s=0)
    return lease


async def test_a_delivered_email_completes_the_task(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
) -> None:
    lease = await accepted(start, queue)
    assert await deliver(lease) is Outcome.COMPLETED
    task = await store.get(lease.task_id)
    assert (task.status, task.attempts, task.error) == (TaskStatus.COMPLETED, 1, None)
    assert task.result is not None
    assert task.result["message_id"] == task.email.message_id
    assert [sent.message_id for sent in mailer.sent] == [task.email.message_id]


async def test_a_permanent_failure_fails_at_once(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
) -> None:
    mailer.fail_next(PermanentDeliveryError("550 5.1.1 no such user", code=550))
    lease = await accepted(start, queue)
    assert await deliver(lease) is Outcome.FAILED
    task = await store.get(lease.task_id)
    assert (task.status, task.attempts, task.error) == (
        TaskStatus.FAILED,
        1,
        "550 5.1.1 no such user",
    )


async def test_transient_failures_are_retried_with_backoff_until_delivered(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    clock: FakeClock,
) -> None:
    mailer.fail_next(try_later(), try_later())
    lease = await accepted(start, queue)
    assert await deliver(lease) is Outcome.RESCHEDULED
    waiting = await store.get(lease.task_id)
    assert (waiting.status, waiting.attempts, waiting.error) == (
        TaskStatus.PENDING,
        1,
        "451 4.3.0 try later",
    )
    assert waiting.next_attempt_at == clock() + timedelta(seconds=2)
    assert await queue.receive(1, wait_s=0) == []
    clock.advance(2)
    (retry,) = await queue.receive(1, wait_s=0)
    assert await deliver(retry) is Outcome.RESCHEDULED
    assert (await store.get(lease.task_id)).next_attempt_at == clock() + timedelta(seconds=4)
    clock.advance(4)
    (last,) = await queue.receive(1, wait_s=0)
    assert await deliver(last) is Outcome.COMPLETED
    done = await store.get(lease.task_id)
    assert (done.status, done.attempts) == (TaskStatus.COMPLETED, 3)


async def test_the_last_attempt_failing_fails_the_task_with_the_final_error(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    clock: FakeClock,
) -> None:
    mailer.fail_next(try_later(), try_later(), TransientDeliveryError("421 closing", code=421))
    lease = await accepted(start, queue)
    outcomes = [await deliver(lease)]
    for _ in range(2):
        clock.advance(300)
        (lease,) = await queue.receive(1, wait_s=0)
        outcomes.append(await deliver(lease))
    assert outcomes == [Outcome.RESCHEDULED, Outcome.RESCHEDULED, Outcome.FAILED]
    task = await store.get(lease.task_id)
    assert (task.status, task.attempts, task.error) == (TaskStatus.FAILED, 3, "421 closing")


async def test_a_failure_after_data_began_is_remembered(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
) -> None:
    mailer.fail_next(TransientDeliveryError("timeout after DATA", possibly_delivered=True))
    lease = await accepted(start, queue)
    await deliver(lease)
    task = await store.get(lease.task_id)
    assert task.result == {"possibly_delivered_attempts": [1]}


async def test_entries_for_missing_or_finished_tasks_are_skipped_without_sending(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    deliver: DeliverEmail,
    mailer: FakeMailer,
) -> None:
    lease = await accepted(start, queue)
    await deliver(lease)
    assert await deliver(lease) is Outcome.SKIPPED
    assert await deliver(Lease(task_id="missing", entry_id="1-0")) is Outcome.SKIPPED
    assert len(mailer.sent) == 1


async def test_a_task_another_worker_holds_is_left_alone_unless_reclaimed(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    clock: FakeClock,
) -> None:
    lease = await accepted(start, queue)
    task = await store.get(lease.task_id)
    await store.save(task.start_attempt(clock()))  # another worker started, then vanished
    assert await deliver(lease) is Outcome.SKIPPED
    assert mailer.sent == []
    reclaimed = Lease(task_id=lease.task_id, entry_id=lease.entry_id, reclaimed=True)
    assert await deliver(reclaimed) is Outcome.COMPLETED
    done = await store.get(lease.task_id)
    assert done.attempts == 2
    assert done.result is not None
    assert done.result["interrupted_attempts"] == [1]


async def test_a_reclaimed_task_out_of_attempts_fails_without_sending(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    clock: FakeClock,
) -> None:
    lease = await accepted(start, queue)
    task: Task = await store.get(lease.task_id)
    for _ in range(3):
        task = task.start_attempt(clock())
        await store.save(task)
    reclaimed = Lease(task_id=lease.task_id, entry_id=lease.entry_id, reclaimed=True)
    assert await deliver(reclaimed) is Outcome.FAILED
    assert mailer.sent == []
    assert (await store.get(lease.task_id)).error == "worker lost during delivery"


async def test_a_worker_that_loses_the_race_records_nothing(
    start: StartEmailTask,
    queue: InMemoryTaskQueue,
    store: InMemoryTaskStore,
    deliver: DeliverEmail,
    mailer: FakeMailer,
    clock: FakeClock,
) -> None:
    lease = await accepted(start, queue)
    original_send = mailer.send

    async def send_while_another_worker_takes_over(email):  # type: ignore[no-untyped-def]
        current = await store.get(lease.task_id)
        await store.save(current.start_attempt(clock()))  # a reclaiming worker moved it on
        return await original_send(email)

    mailer.send = send_while_another_worker_takes_over  # type: ignore[method-assign]
    assert await deliver(lease) is Outcome.SKIPPED
    task = await store.get(lease.task_id)
    assert (task.status, task.attempts) == (TaskStatus.PROCESSING, 2)


async def test_stale_writes_are_refused_by_the_store(
    start: StartEmailTask, store: InMemoryTaskStore, clock: FakeClock
) -> None:
    task = await start(HELLO)
    await store.save(task.start_attempt(clock()))
    with pytest.raises(ConcurrentUpdate):
        await store.save(task.start_attempt(clock()))
