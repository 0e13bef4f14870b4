"""Builders shared by the store and queue tests: a clock the test moves, tasks, Redis adapters."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from adapters.redis_store import RedisKeys, RedisTaskQueue, RedisTaskStore
from domain.message import Email
from domain.task import Task

KEYS = RedisKeys()
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A ``Clock`` that stands still until the test advances it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def new_task(now: datetime = START, *, body: str = "Hello, Zoë!\n") -> Task:
    task_id = str(uuid4())
    email = Email(
        sender="app@example.com",
        to="user@example.org",
        subject="Grüße",
        body=body,
        message_id=f"<{task_id}@example.com>",
        date=now,
    )
    return Task.accept(task_id, email, now)


def redis_store(client: Redis, *, ttl_s: float = 60.0) -> RedisTaskStore:
    return RedisTaskStore(client=client, keys=KEYS, ttl_s=ttl_s)


def redis_queue(
    client: Redis,
    consumer: str = "worker-a",
    *,
    clock: ManualClock | None = None,
    visibility_timeout_s: float = 0.2,
) -> RedisTaskQueue:
    """A queue that looks for due retries and abandoned entries on every ``receive``."""
    return RedisTaskQueue(
        client=client,
        keys=KEYS,
        consumer=consumer,
        clock=clock or ManualClock(),
        visibility_timeout_s=visibility_timeout_s,
        promote_every_s=0.0,
        reclaim_every_s=0.0,
    )


def count_round_trips(client: Redis, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands of every pipeline and single command the client sends from now on (one list
    per round trip)."""
    sent: list[list[str]] = []
    make_pipeline = client.pipeline
    execute_command: Callable[..., Awaitable[Any]] = client.execute_command

    async def counting_command(*args: Any, **options: Any) -> Any:
        sent.append([str(args[0]).upper()])
        return await execute_command(*args, **options)

    def counting_pipeline(*args: Any, **options: Any) -> Any:
        pipe = make_pipeline(*args, **options)
        execute: Callable[..., Awaitable[Any]] = pipe.execute

        async def counting_execute(*args: Any, **options: Any) -> Any:
            sent.append([str(command[0][0]).upper() for command in pipe.command_stack])
            return await execute(*args, **options)

        pipe.execute = counting_execute  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(client, "pipeline", counting_pipeline)
    monkeypatch.setattr(client, "execute_command", counting_command)
    return sent
