"""Accepting emails in a batch and under idempotency keys, against the in-memory store."""

import asyncio

import pytest

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from application.errors import IdempotencyKeyReused
from application.start_email_batch import (
    IdempotencyKey,
    InvalidBatchMessage,
    StartEmailBatch,
)
from application.start_email_task import SendEmail, StartEmailTask
from domain.errors import InvalidEmail
from domain.task import TaskStatus
from tests.unit.fakes import FakeClock

HELLO = SendEmail(email="ann@example.com", subject="Hello", body="Hi Ann")
BYE = SendEmail(email="bob@example.com", subject="Bye", body="Bye Bob")
BAD = SendEmail(email="eve@example.com", subject="a\r\nBcc: x@y.z", body="")
KEY = IdempotencyKey(key="order-17", fingerprint="f" * 64)


@pytest.fixture
def batch(start: StartEmailTask, store: InMemoryTaskStore) -> StartEmailBatch:
    return StartEmailBatch(prepare=start, intake=store)


async def queued(queue: InMemoryTaskQueue) -> list[str]:
    return [lease.task_id for lease in await queue.receive(1000, wait_s=0)]


async def test_a_batch_is_stored_and_queued_in_request_order(
    batch: StartEmailBatch, store: InMemoryTaskStore, queue: InMemoryTaskQueue
) -> None:
    accepted = await batch([HELLO, BYE, HELLO], owner="billing")

    assert len(accepted.task_ids) == 3
    assert not accepted.replayed
    tasks = [await store.get(task_id) for task_id in accepted.task_ids]
    assert [task.email.to for task in tasks] == [HELLO.email, BYE.email, HELLO.email]
    assert {(task.status, task.owner) for task in tasks} == {(TaskStatus.PENDING, "billing")}
    assert await queued(queue) == list(accepted.task_ids)


async def test_one_invalid_message_refuses_the_batch_naming_its_index(
    batch: StartEmailBatch, store: InMemoryTaskStore, queue: InMemoryTaskQueue
) -> None:
    with pytest.raises(InvalidBatchMessage) as raised:
        await batch([HELLO, BYE, BAD, HELLO])

    assert (raised.value.index, raised.value.field) == (2, "subject")
    assert len(store) == 0
    assert len(queue) == 0


async def test_a_single_command_is_not_indexed(batch: StartEmailBatch) -> None:
    with pytest.raises(InvalidEmail) as raised:
        await batch(BAD)
    assert not isinstance(raised.value, InvalidBatchMessage)
    assert raised.value.field == "subject"


async def test_the_same_key_and_request_answers_the_first_tasks_and_stores_nothing(
    batch: StartEmailBatch, store: InMemoryTaskStore, queue: InMemoryTaskQueue
) -> None:
    first = await batch([HELLO, BYE], owner="billing", idempotency=KEY)
    again = await batch([HELLO, BYE], owner="billing", idempotency=KEY)

    assert (again.task_ids, again.replayed) == (first.task_ids, True)
    assert len(store) == 2
    assert await queued(queue) == list(first.task_ids)


async def test_the_same_key_with_another_request_is_refused(
    batch: StartEmailBatch, store: InMemoryTaskStore
) -> None:
    await batch(HELLO, owner="billing", idempotency=KEY)

    with pytest.raises(IdempotencyKeyReused):
        await batch(BYE, owner="billing", idempotency=IdempotencyKey(KEY.key, "0" * 64))
    assert len(store) == 1


async def test_keys_are_scoped_to_their_owner(
    batch: StartEmailBatch, store: InMemoryTaskStore
) -> None:
    billing = await batch(HELLO, owner="billing", idempotency=KEY)
    reports = await batch(HELLO, owner="reports", idempotency=KEY)
    anonymous = await batch(HELLO, owner=None, idempotency=KEY)

    assert not reports.replayed
    assert not anonymous.replayed
    assert len({billing.task_ids, reports.task_ids, anonymous.task_ids}) == 3
    assert len(store) == 3


async def test_a_key_is_forgotten_after_its_ttl_whatever_the_tasks_ttl(
    start: StartEmailTask, queue: InMemoryTaskQueue, clock: FakeClock
) -> None:
    store = InMemoryTaskStore(queue=queue, clock=clock, ttl_s=10, idempotency_ttl_s=60)
    batch = StartEmailBatch(prepare=start, intake=store)
    first = await batch(HELLO, idempotency=KEY)
    clock.advance(59)
    assert (await batch(HELLO, idempotency=KEY)).task_ids == first.task_ids

    clock.advance(1)
    later = await batch(HELLO, idempotency=KEY)

    assert not later.replayed
    assert later.task_ids != first.task_ids


async def test_twenty_concurrent_requests_with_one_key_create_one_task(
    batch: StartEmailBatch, store: InMemoryTaskStore, queue: InMemoryTaskQueue
) -> None:
    results = await asyncio.gather(*(batch(HELLO, idempotency=KEY) for _ in range(20)))

    assert len({result.task_ids for result in results}) == 1
    assert sum(not result.replayed for result in results) == 1
    assert len(store) == 1
    assert len(await queued(queue)) == 1
