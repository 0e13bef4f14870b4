"""Lua scripts for the Redis store and queue; each runs atomically on the server.

Integer replies are used for outcomes, so they read the same whether or not the client decodes
responses.
"""

from typing import Final

OK: Final = 1
MISSING: Final = 0
CONFLICT: Final = -1

_PRUNE: Final = """
-- Forgets index entries whose task hash expired: checks the ``count`` oldest entries of ``index``
-- and removes each missing one from every index in ``indexes``.
local function prune(index, indexes, task_prefix, count)
  for _, id in ipairs(redis.call('ZRANGE', index, 0, count - 1)) do
    if redis.call('EXISTS', task_prefix .. id) == 0 then
      for _, other in ipairs(indexes) do
        redis.call('ZREM', other, id)
      end
    end
  end
end
"""

ADD_TASKS: Final = (
    _PRUNE
    + """
-- KEYS: stream, idempotency record (the stream again when there is none), then 5 per task:
--   task hash, owner's index, owner's pending, completed and failed indexes.
-- ARGV: idempotency record JSON or '', its expiry in ms, task-key prefix, then 5 per task:
--   id, version, status JSON, email JSON, index score.
-- Returns {0, record} when the idempotency key is recorded already (nothing written), else {1}.
local record = ARGV[1]
if record ~= '' then
  local kept = redis.call('GET', KEYS[2])
  if kept then
    return {0, kept}
  end
end
local new, seen = {}, {}
-- Queue first: a failing XADD leaves nothing stored, and workers drop an entry whose task is
-- missing. An id already stored is left as it is: a retried call neither queues it twice nor
-- overwrites a newer version.
for k = 3, #KEYS, 5 do
  local a = k + 1
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('XADD', KEYS[1], '*', 'task_id', ARGV[a])
    new[#new + 1] = k
  end
end
for _, k in ipairs(new) do
  local a = k + 1
  redis.call('HSET', KEYS[k], 'version', ARGV[a + 1], 'status', ARGV[a + 2], 'email', ARGV[a + 3])
  redis.call('ZADD', KEYS[k + 1], ARGV[a + 4], ARGV[a])
  redis.call('ZADD', KEYS[k + 2], ARGV[a + 4], ARGV[a])
  local owner = seen[KEYS[k + 1]]
  if owner then
    owner.count = owner.count + 1
  else
    seen[KEYS[k + 1]] = {count = 1, indexes = {KEYS[k + 1], KEYS[k + 3], KEYS[k + 4]}}
  end
end
if record ~= '' then
  redis.call('SET', KEYS[2], record, 'PX', ARGV[2])
end
for index, owner in pairs(seen) do
  prune(index, owner.indexes, ARGV[3], owner.count + 4)
end
return {1}
"""
)

READ_STATUS: Final = """
return redis.call('HGET', KEYS[1], 'status')
"""
"""KEYS: the task hash. The status part, or nil for a task not stored (or expired). Run through
``redis_batch.CoalescedScript``: the status reads of concurrent requests share one round trip."""

READ_TASK: Final = """
return redis.call('HMGET', KEYS[1], 'status', 'email')
"""
"""KEYS: the task hash. Its status and email parts (each nil when the task is not stored). Run
through ``redis_batch.CoalescedScript``, as ``READ_STATUS``."""

SAVE_TASK: Final = """
-- KEYS: task hash, delayed zset, then the owner's pending, processing, completed and failed
--   indexes.
-- ARGV: expected version, new version, writer token, status JSON, retry score or '',
--       expiry in ms or '', task id, index of the new status (3 to 6 in KEYS), index score.
-- Returns 1 written, 0 no such task, -1 the version moved on.
local stored = redis.call('HMGET', KEYS[1], 'version', 'writer')
if not stored[1] then
  return 0
end
if tonumber(stored[1]) == tonumber(ARGV[2]) and stored[2] == ARGV[3] then
  return 1  -- this very write, retried by the client after its reply was lost
end
if tonumber(stored[1]) ~= tonumber(ARGV[1]) then
  return -1
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'status', ARGV[4], 'writer', ARGV[3])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[7])
end
if ARGV[6] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
else
  redis.call('PERSIST', KEYS[1])
end
local target = tonumber(ARGV[8])
for k = 3, 6 do
  if k ~= target then
    redis.call('ZREM', KEYS[k], ARGV[7])
  end
end
redis.call('ZADD', KEYS[target], ARGV[9], ARGV[7])
return 1
"""

LIST_TASKS: Final = """
-- KEYS: index to read, then the owner's index and its completed and failed indexes.
-- ARGV: task-key prefix, limit, most entries to look at, cursor score or '', cursor id.
-- Walks the index newest first (score descending, then id descending in byte order) from just
-- after the cursor, skipping and forgetting entries whose task expired.
-- Returns {next score or '', next id or '', id, status JSON, id, status JSON, ...}.
local prefix, limit, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local score, member = ARGV[4], ARGV[5]

local function before(a, b)  -- byte order, as sorted sets order members (not strcoll's)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

local function after_cursor(count)
  if score == '' then
    return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, count)
  end
  local rank = redis.call('ZREVRANK', KEYS[1], member)
  if rank then
    return redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + count, 'WITHSCORES')
  end
  -- The cursor's task left this index (expired, or changed status): go by score, then by id.
  local entries = {}
  local ties = redis.call('ZREVRANGEBYSCORE', KEYS[1], score, score, 'WITHSCORES')
  for i = 1, #ties, 2 do
    if before(ties[i], member) then
      entries[#entries + 1] = ties[i]
      entries[#entries + 1] = ties[i + 1]
    end
  end
  local older = redis.call(
    'ZREVRANGEBYSCORE', KEYS[1], '(' .. score, '-inf', 'WITHSCORES', 'LIMIT', 0, count)
  for _, value in ipairs(older) do
    entries[#entries + 1] = value
  end
  return entries
end

local out, found, examined = {'', ''}, 0, 0
local kept_score, kept_member = '', ''
while true do
  local wanted = math.min(limit + 1 - found, budget - examined)
  local entries = after_cursor(wanted)
  local i = 1
  while i < #entries and found <= limit and examined < budget do
    local id = entries[i]
    score, member = entries[i + 1], id
    examined = examined + 1
    local status = redis.call('HGET', prefix .. id, 'status')
    if not status then
      for k = 1, 4 do
        redis.call('ZREM', KEYS[k], id)
      end
    else
      found = found + 1
      if found <= limit then
        out[#out + 1] = id
        out[#out + 1] = status
        kept_score, kept_member = score, id
      end
    end
    i = i + 2
  end
  if found > limit then
    out[1], out[2] = kept_score, kept_member  -- one more task follows this page
    return out
  end
  if i > #entries and #entries < 2 * wanted then
    return out  -- the end of the index: no next page
  end
  if examined >= budget then
    out[1], out[2] = score, member  -- out of budget: go on from the last entry looked at
    return out
  end
end
"""

PROMOTE_DUE: Final = """
-- KEYS: delayed zset, stream. ARGV: now (epoch seconds), batch size.
-- Moves up to ARGV[2] due retries into the stream; returns how many.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, task_id in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'task_id', task_id)
  redis.call('ZREM', KEYS[1], task_id)
end
return #due
"""

_IF_OWNER: Final = """
-- KEYS: stream. ARGV: group, entry id, consumer.
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][2] ~= ARGV[3] then
  return 0  -- acknowledged already, or reclaimed by another consumer: not ours to touch
end
"""

ACK_IF_OWNER: Final = (
    _IF_OWNER
    + """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""
)

EXTEND_IF_OWNER: Final = (
    _IF_OWNER
    + """
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""
)
