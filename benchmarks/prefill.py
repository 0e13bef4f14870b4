"""Fill a task store with N completed tasks before a measurement, fast and through Mailroom's own
code, so that "N tasks stored" means what it would after N real deliveries.

* Memory store (``fill_memory``, run inside the server process before it serves): each task goes
  through the store's and queue's own methods exactly as a delivery would take it: ``add``
  (pending, queued), ``save`` (processing), ``save`` (completed, with an SMTP-like receipt),
  and the queue entry received and acknowledged. Every task has its own strings and datetimes,
  as tasks decoded from separate requests would.
* Redis store (``fill_redis``): one task is written by ``RedisTaskStore`` itself (``add``,
  ``save``, ``save``) and its hash is then copied server-side by a Lua script, in batches, to N
  new ids (the id replaced wherever it occurs in the values; same TTL). The copies are read back
  through ``RedisTaskStore.get`` to check the layout. The template's queue entry is acknowledged
  and deleted as the worker would, so the stream holds no entry for a completed task.

Both return a sample of the new ids (for the status benchmark's wrk script).
"""

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis

from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
from adapters.redis_store import RedisKeys, RedisTaskStore
from domain.message import DeliveryReceipt, Email, SmtpReply
from domain.task import Task

SAMPLE = 10_000
_BATCH = 2_000

# KEYS: the template hash, then the new task hashes. ARGV: template id, then the new ids.
_COPY = """
local fields = redis.call('HGETALL', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
local template_id = ARGV[1]
local function with_id(value, id)
  local out, start = {}, 1
  while true do
    local i, j = string.find(value, template_id, start, true)
    if not i then break end
    out[#out + 1] = string.sub(value, start, i - 1)
    out[#out + 1] = id
    start = j + 1
  end
  out[#out + 1] = string.sub(value, start)
  return table.concat(out)
end
for k = 2, #KEYS do
  local id = ARGV[k]
  local copy = {}
  for f = 1, #fields, 2 do
    copy[#copy + 1] = fields[f]
    copy[#copy + 1] = with_id(fields[f + 1], id)
  end
  redis.call('HSET', KEYS[k], unpack(copy))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[k], ttl) end
end
return #KEYS - 1
"""


def lifecycle(number: int, now: datetime) -> tuple[Task, Task, Task]:
    """The pending, processing and completed versions of a delivered task, with its own strings,
    as one built from request number ``number``."""
    task_id = str(uuid.uuid4())
    email = Email(
        sender="bench@example.com",
        to=f"user{number}@example.com",
        subject=f"Benchmark {number}",
        body=f"Hello from the benchmark, message {number}.",
        message_id=f"<{task_id}@example.com>",
        date=now,
    )
    receipt = DeliveryReceipt(
        message_id=email.message_id, reply=SmtpReply(250, f"2.0.0 Ok: queued as {number:x}")
    )
    pending = Task.accept(task_id, email, now)
    processing = pending.start_attempt(now)
    return pending, processing, processing.complete(receipt, now)


async def fill_memory(store: InMemoryTaskStore, queue: InMemoryTaskQueue, count: int) -> list[str]:
    """Add ``count`` completed tasks through the store's and queue's methods; returns a sample of
    their ids."""
    ids: list[str] = []
    for number in range(count):
        pending, processing, completed = lifecycle(number, datetime.now(UTC))
        await store.add(pending)
        await store.save(processing)
        await store.save(completed)
        ids.append(completed.id)
        if len(queue) >= _BATCH or number == count - 1:
            await _drain(queue)
    return _sample(ids)


async def _drain(queue: InMemoryTaskQueue) -> None:
    while len(queue):
        for lease in await queue.receive(_BATCH, 0.0):
            await queue.ack(lease)


async def fill_redis(url: str, prefix: str, count: int, ttl_s: float) -> list[str]:
    """Store ``count`` completed tasks in Redis at ``url`` under ``prefix``; returns a sample of
    their ids. Raises ``AssertionError`` if a copy does not read back as the template."""
    keys = RedisKeys(prefix=prefix)
    async with Redis.from_url(url, socket_timeout=60) as client:
        store = RedisTaskStore(client=client, keys=keys, ttl_s=ttl_s)
        pending, processing, template = lifecycle(0, datetime.now(UTC))
        await store.add(pending)
        await store.save(processing)
        await store.save(template)
        await _drop_queue_entries(client, keys)
        copy = client.register_script(_COPY)
        ids: list[str] = []
        for start in range(0, count, _BATCH):
            batch = [str(uuid.uuid4()) for _ in range(min(_BATCH, count - start))]
            await copy(
                keys=[keys.task(template.id), *map(keys.task, batch)], args=[template.id, *batch]
            )
            ids.extend(batch)
        await client.delete(keys.task(template.id))
        for task_id in random.sample(ids, min(len(ids), 20)):
            stored = await store.get(task_id)
            assert stored.id == task_id, stored
            assert stored.status == template.status, stored
            assert stored.email.message_id == f"<{task_id}@example.com>", stored
    return _sample(ids)


async def _drop_queue_entries(client: Redis, keys: RedisKeys) -> None:
    """The template's stream entry, acknowledged and deleted as a worker does after delivery."""
    entries = await client.xrange(keys.queue)
    if entries:
        await client.xdel(keys.queue, *[entry_id for entry_id, _ in entries])


def _sample(ids: list[str]) -> list[str]:
    return random.sample(ids, min(len(ids), SAMPLE))


def fill_redis_sync(url: str, prefix: str, count: int, ttl_s: float) -> tuple[list[str], float]:
    """``fill_redis`` from synchronous code; also returns the seconds it took."""
    started = time.monotonic()
    ids = asyncio.run(fill_redis(url, prefix, count, ttl_s))
    return ids, time.monotonic() - started
