"""Group commit: the calls of one Lua script made by concurrent requests share one round trip.

Under load, the client-side cost of a Redis round trip in redis-py (connection checkout, command
packing, reply parsing, one event-loop wake-up per reply) is as large as a web framework's own
cost per request. ``CoalescedScript`` queues each call; one flusher sends all the calls queued so
far as one ``EVALSHA`` of a wrapper script that runs the script once per call, each with its own
``KEYS`` and ``ARGV``, and returns the replies in order; then it repeats while calls keep
arriving. An idle store adds no delay: the first call is sent at the next turn of the event loop.

What a call does and guarantees is the script's, unchanged: the wrapper runs the calls one after
the other inside one atomic script (so no other client's command runs between them), and a call
that raises an error (``redis.call`` failing) fails alone, through ``pcall``: its caller gets
``ResponseError``, the others their replies. As with a single script, writes a failing call made
before its error stay. One ``EVALSHA`` per group instead of one per call costs about 8 us of
client CPU per call instead of 23 us here (docs/benchmarks.md, "Redis client").

Against a Redis that does not answer, a call waits no longer than a single command would (the
client's ``socket_timeout``): when a group fails, the calls queued behind it fail with it instead
of being sent in turn (each would otherwise wait for the group's timeout and then for its own).
A call whose caller stopped waiting before its group was sent (cancelled) is never sent; one
already sent may still run, as a single command whose reply was lost may have.
"""

import asyncio
from collections.abc import Sequence
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Call = tuple[Sequence[str], Sequence[str | int | float], "asyncio.Future[Any]"]

_WRAPPER_HEAD: Final = """
local function call(KEYS, ARGV)
"""
_WRAPPER_TAIL: Final = """
end
-- ARGV: number of calls n, then n pairs (number of keys, number of arguments), then every
-- call's arguments in order; KEYS: every call's keys in order. Returns the n replies in order,
-- a failed call's as an error reply.
local n = tonumber(ARGV[1])
local next_key, next_arg = 1, 2 + 2 * n
local replies = {}
for c = 1, n do
  local key_count, arg_count = tonumber(ARGV[2 * c]), tonumber(ARGV[2 * c + 1])
  local keys, args = {}, {}
  for i = 1, key_count do keys[i] = KEYS[next_key + i - 1] end
  for i = 1, arg_count do args[i] = ARGV[next_arg + i - 1] end
  next_key, next_arg = next_key + key_count, next_arg + arg_count
  local ok, reply = pcall(call, keys, args)
  if ok then
    replies[c] = reply
  else
    replies[c] = redis.error_reply(type(reply) == 'table' and reply.err or tostring(reply))
  end
end
return replies
"""


class CoalescedScript:
    """``await script(keys, args)`` like redis-py's ``AsyncScript`` for ``source``, with
    concurrent calls sent together. ``source`` uses ``KEYS`` and ``ARGV`` as any script does and
    may ``return`` anywhere. Raises what the single call would (``RedisError``, ``OSError``); a
    script the server forgot (``NOSCRIPT``, after a restart) is loaded again and the group sent
    once more (nothing of it ran)."""

    def __init__(self, client: Redis, source: str) -> None:
        self._client = client
        self._script = client.register_script(_WRAPPER_HEAD + source + _WRAPPER_TAIL)
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
        batch = [call for call in batch if not call[2].done()]  # callers still waiting
        if not batch:
            return
        try:
            replies = list(await self._evalsha(batch))
        except Exception as exc:  # the connection failed: no call of the batch has a reply
            replies = [exc] * len(batch)
            if isinstance(exc, (RedisTimeoutError, RedisConnectionError, OSError)):
                # Redis did not answer in time, or could not be reached: the calls queued
                # meanwhile fail with the group rather than wait for a timeout of their own.
                queued, self._waiting = self._waiting, []
                for _, _, future in queued:
                    _settle(future, exc)
        if len(replies) != len(batch):  # a call returned nil, which ends a Lua array early
            error = ResponseError(f"{len(replies)} replies to a group of {len(batch)} calls")
            replies = [error] * len(batch)
        for (_, _, future), reply in zip(batch, replies, strict=True):
            _settle(future, reply)

    async def _evalsha(self, batch: list[Call]) -> Any:
        counts: list[int] = []
        keys: list[str] = []
        args: list[str | int | float] = []
        for call_keys, call_args, _ in batch:
            counts += (len(call_keys), len(call_args))
            keys += call_keys
            args += call_args
        sha, arguments = self._script.sha, (*keys, len(batch), *counts, *args)
        try:
            return await self._client.evalsha(sha, len(keys), *arguments)
        except NoScriptError:  # the server restarted: nothing ran; load and send again
            await self._client.script_load(self._script.script)
            return await self._client.evalsha(sha, len(keys), *arguments)


def _settle(future: "asyncio.Future[Any]", outcome: Any) -> None:
    if future.done():  # the caller gave up (its request was cancelled)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
