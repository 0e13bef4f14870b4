"""Group commit: the calls of one Lua script made by concurrent requests share one round trip.

Under load, the client-side cost of a Redis round trip in redis-py (connection checkout, command
packing, reply parsing, one event-loop wake-up per reply) is as large as a web framework's own
cost per request. ``CoalescedScript`` queues each call; one flusher sends all the calls queued so
far as one non-transactional pipeline of ``EVALSHA`` commands, resolves each caller with its own
reply, and repeats while calls keep arriving. An idle store adds no delay: the first call is sent
at the next turn of the event loop. Each script still runs atomically on its own, so batching
changes nothing about what a single call does or guarantees.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

Call = tuple[Sequence[str], Sequence[str | int | float], "asyncio.Future[Any]"]


class CoalescedScript:
    """``await script(keys, args)`` like redis-py's ``AsyncScript``, with concurrent calls sent
    together. Raises what the single call would (``RedisError``, ``OSError``); a script the server
    forgot (``NOSCRIPT``, after a restart) is loaded again and the affected calls re-sent once."""

    def __init__(self, client: Redis, source: str) -> None:
        self._client = client
        self._script = client.register_script(source)
        self._waiting: list[Call] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, args, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._send(batch)
        finally:
            self._flusher = None

    async def _send(self, batch: list[Call]) -> None:
        try:
            replies = await self._pipeline(batch)
            forgotten = [index for index, reply in enumerate(replies) if _noscript(reply)]
            if forgotten:  # the server restarted: those calls did not run; load and send them again
                await self._client.script_load(self._script.script)
                again = await self._pipeline([batch[index] for index in forgotten])
                for index, reply in zip(forgotten, again, strict=True):
                    replies[index] = reply
        except Exception as exc:  # the connection failed: no call of the batch has a reply
            replies = [exc] * len(batch)
        for (_, _, future), reply in zip(batch, replies, strict=True):
            _settle(future, reply)

    async def _pipeline(self, batch: list[Call]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self._script.sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


def _noscript(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT")
    )


def _settle(future: "asyncio.Future[Any]", outcome: Any) -> None:
    if future.done():  # the caller gave up (its request was cancelled)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
