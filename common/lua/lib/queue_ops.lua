-- lib/queue_ops.lua -- helpers shared by several scripts, pasted into each at build time
-- where it says `--@include queue_ops` (common/embed_lua.cmake): a script sent to Redis must
-- be whole. They use only their arguments and redis.call.

-- A JSON object from the job hash as a table; {} for nil, bad JSON or a non-object (a job
-- written by another producer must not stop a script).
local function bp_decode(s)
  if not s then return {} end
  local ok, v = pcall(cjson.decode, s)
  if ok and type(v) == 'table' then return v end
  return {}
end

-- Push id onto target (wait or paused) by Bull's rule (bull-protocol.md §6.2): without a
-- priority LPUSH (RPUSH for lifo); with one, ZADD it to K(priority) and insert it ahead of
-- every job of a later priority, FIFO within its level.
local function bp_push_waiting(base, target, id, priority, lifo)
  if priority == 0 then
    if lifo then redis.call('RPUSH', target, id) else redis.call('LPUSH', target, id) end
    return
  end
  local pkey = base .. 'priority'
  redis.call('ZADD', pkey, priority, id)
  local c = redis.call('ZCOUNT', pkey, 0, priority)
  local len = redis.call('LLEN', target)
  local pivot = redis.call('LINDEX', target, len - (c - 1))
  if pivot then
    redis.call('LINSERT', target, 'BEFORE', pivot, id)
  else
    redis.call('RPUSH', target, id)
  end
end

-- Delete a job's hash and logs.
local function bp_drop_job(base, jid)
  redis.call('DEL', base .. jid, base .. jid .. ':logs')
end

-- Retention of a finished set (completed or failed), which trims the whole set, not only
-- jobs that carried the option (pitfall 13): entries age seconds old or older, then all but
-- the newest count. Their hashes go too.
local function bp_trim(base, set, nowN, age, count)
  if age then -- Bull trims by age whenever it is given, 0 included (it then keeps nothing)
    local limit = string.format('%.0f', nowN - age * 1000)
    local old = redis.call('ZRANGEBYSCORE', set, '-inf', limit)
    for _, jid in ipairs(old) do bp_drop_job(base, jid) end
    if #old > 0 then redis.call('ZREMRANGEBYSCORE', set, '-inf', limit) end
  end
  if count and count > 0 then
    local old = redis.call('ZREVRANGE', set, count, -1)
    for _, jid in ipairs(old) do bp_drop_job(base, jid) end
    if #old > 0 then redis.call('ZREMRANGEBYRANK', set, 0, -(count + 1)) end
  end
end
