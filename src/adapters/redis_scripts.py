"""Lua scripts for the Redis store and queue; each runs atomically on the server.

Integer replies are used for outcomes, so they read the same whether or not the client decodes
responses.
"""

from typing import Final

OK: Final = 1
MISSING: Final = 0
CONFLICT: Final = -1

ADD_TASK: Final = """
-- KEYS: task hash, stream. ARGV: task id, version, status JSON, email JSON.
-- Queue first: if XADD fails nothing was written. A retried call (reply lost) finds the hash and
-- does nothing, so a retry can neither queue the task twice nor overwrite a newer version.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('XADD', KEYS[2], '*', 'task_id', ARGV[1])
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'status', ARGV[3], 'email', ARGV[4])
return 1
"""

SAVE_TASK: Final = """
-- KEYS: task hash, delayed zset.
-- ARGV: expected version, new version, writer token, status JSON, retry score or '',
--       expiry in ms or '', task id.
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
return 1
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
