"""The benchmark harness (``benchmarks/``) measures what it says: the ceiling validates like
Mailroom, the tutorial pattern works, prefilled stores hold real tasks in the store's own layout,
the SMTP sink counts what a real client sends, and wrk's figures and the report are read right.
(``make bench`` itself needs wrk and two CPUs; these tests need neither.)"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
import redis.asyncio
from benchmarks import ceiling, report, tutorial, wrk
from benchmarks.prefill import fill_memory, fill_redis
from benchmarks.smtp_sink import Counter, MinimalSmtp

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from adapters.redis_store import RedisKeys, RedisTaskStore
from domain.task import TaskStatus

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/send-email
  1 threads and 50 connections
  Latency Distribution
     50%   25.26ms
     99%  446.35ms
  3689 requests in 2.01s, 720.64KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
Requests/sec:   1832.88
non2xx=7
latency_us p50=25257 p90=52076 p99=446353 max=644438 requests=3689
"""

VALID = {"email": "user@example.com", "subject": "Hello", "body": "Hi"}


def test_wrk_figures_are_read_from_the_lua_hook() -> None:
    run = wrk.parse(WRK_OUTPUT)
    assert run.rps == pytest.approx(1832.88)
    assert (run.p50_ms, run.p99_ms, run.max_ms) == (25.257, 446.353, 644.438)
    assert (run.requests, run.non2xx, run.socket_errors) == (3689, 7, 5)
    figures = wrk.Figures.of([run, run, run])
    assert figures.errors == 36


def test_wrk_output_without_figures_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_report_replaces_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text(
        f"# Benchmarks\n\n## SMTP pool\n\nhand-written\n\n{report.BEGIN}\nold\n{report.END}\n\n"
        "## After\n\nkept\n"
    )
    report.splice(path, f"{report.BEGIN}\nnew\n{report.END}\n")
    text = path.read_text()
    assert "old" not in text
    assert text.count(report.BEGIN) == 1
    assert text.index("hand-written") < text.index("new") < text.index("kept")


def test_report_section_is_appended_to_a_file_without_one(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\n## SMTP pool\n\nhand-written\n")
    report.splice(path, f"{report.BEGIN}\nnew\n{report.END}\n")
    assert path.read_text().startswith("# Benchmarks\n\n## SMTP pool\n\nhand-written\n\n<!--")


@pytest.mark.parametrize(
    "body",
    [
        {**VALID, "email": "not-an-address"},
        {**VALID, "subject": "two\nlines"},
        {**VALID, "extra": "field"},
        {**VALID, "body": 5},
    ],
)
async def test_ceiling_rejects_what_mailroom_rejects(body: dict[str, object]) -> None:
    async with _client(ceiling.create_app()) as client:
        assert (await client.post("/send-email", json=body)).status_code == 422


async def test_ceiling_answers_constants() -> None:
    async with _client(ceiling.create_app()) as client:
        accepted = await client.post("/send-email", json=VALID)
        status = await client.get(f"/task/{uuid.uuid4()}/status")
        malformed = await client.get("/task/not-a-uuid/status")
    assert (accepted.status_code, accepted.json()) == (202, ceiling.ACCEPTED)
    assert (status.status_code, status.json()) == (200, ceiling.STATUS)
    assert malformed.status_code == 422


async def test_tutorial_pattern_completes_its_task() -> None:
    async with _client(tutorial.create_app()) as client:
        task_id = (await client.post("/send-email", json=VALID)).json()["task_id"]
        status = (await client.get(f"/task/{task_id}/status")).json()
        rejected = await client.post("/send-email", json={**VALID, "email": "nope"})
    assert status["status"] == "completed"
    assert rejected.status_code == 422


async def test_memory_prefill_stores_completed_tasks_and_empties_the_queue() -> None:
    queue = InMemoryTaskQueue(clock=lambda: datetime.now(UTC))
    store = InMemoryTaskStore(queue=queue, clock=lambda: datetime.now(UTC), ttl_s=3600)
    ids = await fill_memory(store, queue, 2_500)
    assert len(store) == 2_500
    assert len(queue) == 0
    assert len(set(ids)) == len(ids) == 2_500
    task = await store.get(ids[0])
    assert task.status is TaskStatus.COMPLETED
    assert task.email.message_id == f"<{ids[0]}@example.com>"


async def test_redis_prefill_copies_the_stores_own_layout(redis_url: str) -> None:
    prefix = f"bench-test-{uuid.uuid4().hex[:8]}:"
    keys = RedisKeys(prefix=prefix)
    ids = await fill_redis(redis_url, prefix, 2_345, ttl_s=3600)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        store = RedisTaskStore(client=client, keys=keys, ttl_s=3600)
        assert len(ids) == 2_345
        for task_id in ids[:50]:
            task = await store.get(task_id)
            assert (task.id, task.status) == (task_id, TaskStatus.COMPLETED)
            assert task.result is not None
            assert task.result["message_id"] == f"<{task_id}@example.com>"
            assert 0 < await client.pttl(keys.task(task_id)) <= 3_600_000
        assert len([key async for key in client.scan_iter(f"{prefix}task:*", count=1000)]) == 2_345
        assert await client.xlen(keys.queue) == 0
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[tuple[int, Counter]]:
    counter = Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: MinimalSmtp(counter), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], counter
    server.close()
    await server.wait_closed()


async def test_minimal_sink_counts_messages_a_real_client_sends(
    sink: tuple[int, Counter],
) -> None:
    port, counter = sink
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "x"
    message.set_content("first line\n.leading dot, stuffed by the client\n.\nlast\n")
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="t.test") as smtp:
        for _ in range(3):
            errors, reply = await smtp.send_message(message)
            assert (errors, reply.split()[0]) == ({}, "2.0.0")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, local_hostname="t.test")
    assert counter.messages == 4
    assert counter.octets >= 4 * len(message.as_bytes())


async def test_minimal_sink_refuses_data_before_a_recipient(sink: tuple[int, Counter]) -> None:
    port, counter = sink
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="t.test") as smtp:
        await smtp.mail("a@example.com")
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await smtp.data(b"Subject: x\r\n\r\nbody\r\n")
    assert refused.value.code == 503
    assert counter.messages == 0


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")  # type: ignore[arg-type]
