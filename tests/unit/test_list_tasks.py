"""Listing an owner's tasks, newest first, with cursors, against the in-memory store."""

from datetime import timedelta

import pytest

from adapters.memory import InMemoryTaskStore
from application.errors import InvalidCursor
from application.list_tasks import ListTasks, decode_cursor, encode_cursor
from application.ports import Position
from application.start_email_task import SendEmail, StartEmailTask
from domain.task import Task, TaskStatus
from tests.unit.fakes import FakeClock

HELLO = SendEmail(email="ann@example.com", subject="Hello", body="Hi")


@pytest.fixture
def listing(store: InMemoryTaskStore) -> ListTasks:
    return ListTasks(listing=store)


async def accepted(start: StartEmailTask, clock: FakeClock, owner: str | None, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        ids.append((await start(HELLO, owner=owner)).id)
        clock.advance(1)
    return ids


async def all_pages(listing: ListTasks, owner: str | None, limit: int, **filters: object) -> list:
    pages, cursor = [], None
    while True:
        page = await listing(owner=owner, limit=limit, cursor=cursor, **filters)  # type: ignore[arg-type]
        pages.append([task.id for task in page.tasks])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_an_owner_sees_only_its_tasks_newest_first(
    listing: ListTasks, start: StartEmailTask, clock: FakeClock
) -> None:
    billing = await accepted(start, clock, "billing", 3)
    reports = await accepted(start, clock, "reports", 2)
    anonymous = await accepted(start, clock, None, 1)

    assert [t.id for t in (await listing(owner="billing")).tasks] == billing[::-1]
    assert [t.id for t in (await listing(owner="reports")).tasks] == reports[::-1]
    assert [t.id for t in (await listing(owner=None)).tasks] == anonymous
    assert (await listing(owner="nobody")).tasks == ()


async def test_pages_follow_each_other_through_the_cursor(
    listing: ListTasks, start: StartEmailTask, clock: FakeClock
) -> None:
    ids = await accepted(start, clock, "billing", 7)

    pages = await all_pages(listing, "billing", 3)

    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[:1]]


async def test_tasks_created_in_the_same_microsecond_are_all_listed_once(
    listing: ListTasks, start: StartEmailTask
) -> None:
    ids = [(await start(HELLO, owner="billing")).id for _ in range(5)]  # the clock stands still

    pages = await all_pages(listing, "billing", 2)

    assert sorted(task_id for page in pages for task_id in page) == sorted(ids)
    assert [len(page) for page in pages] == [2, 2, 1]


async def test_failed_tasks_are_the_dead_letter_list(
    listing: ListTasks, start: StartEmailTask, store: InMemoryTaskStore, clock: FakeClock
) -> None:
    ids = await accepted(start, clock, "billing", 4)
    for task_id in ids[1::2]:
        started = (await store.get(task_id)).start_attempt(clock())
        await store.save(started)
        await store.save(started.fail("550 no such user", clock()))

    failed = await listing(owner="billing", status=TaskStatus.FAILED)
    pending = await listing(owner="billing", status=TaskStatus.PENDING)

    assert [t.id for t in failed.tasks] == [ids[3], ids[1]]
    assert {t.error for t in failed.tasks} == {"550 no such user"}
    assert [t.id for t in pending.tasks] == [ids[2], ids[0]]


async def test_expired_tasks_are_not_listed(
    listing: ListTasks, start: StartEmailTask, store: InMemoryTaskStore, clock: FakeClock
) -> None:
    [done, kept] = await accepted(start, clock, "billing", 2)
    started = (await store.get(done)).start_attempt(clock())
    await store.save(started)
    await store.save(started.fail("550", clock()))

    clock.advance(3601)  # the store's TTL

    assert [t.id for t in (await listing(owner="billing")).tasks] == [kept]


@pytest.mark.parametrize("limit", [0, -1, 501])
async def test_a_limit_out_of_range_is_refused(listing: ListTasks, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await listing(owner=None, limit=limit)


@pytest.mark.parametrize("cursor", ["", "12", "12.", ".abc", "x.abc", "12.a_b", "1" * 20 + ".a"])
async def test_a_cursor_we_did_not_hand_out_is_refused(listing: ListTasks, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await listing(owner=None, cursor=cursor)


def test_a_cursor_reads_back_as_its_position() -> None:
    position = Position(1_767_323_045_000_001, "00000000-0000-4000-8000-000000000001")

    cursor = encode_cursor(position)

    assert decode_cursor(cursor) == position


def test_a_position_counts_whole_microseconds_since_the_epoch(start: StartEmailTask) -> None:
    task: Task = start.prepare(HELLO, owner="billing")  # at 2026-01-02T03:04:05Z
    later = task.created_at + timedelta(microseconds=1)

    assert Position.of(task.id, task.created_at) == Position(1_767_323_045_000_000, task.id)
    assert Position.of(task.id, later).created_us == 1_767_323_045_000_001
