--[[ promote.lua -- Bull's updateDelaySet (bull-protocol.md §7.9): every delayed job that is due
  (at most 1000 per call) moves to wait, or paused while the queue is paused, in score order,
  with the priority insertion rule.

  KEYS[1]  K(delayed)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  now (ms)
  ARGV[3]  token (the waiting@ suffix; must be non-empty for global:waiting)

  Returns {promoted, next_due_ms} where next_due_ms is the earliest ms at which the first
  remaining job becomes due (0 when none remain). ]]

--@include queue_ops

local base = ARGV[1]
local delayed = KEYS[1]
local max = string.format('%.0f', tonumber(ARGV[2]) * 4096)
local ids = redis.call('ZRANGEBYSCORE', delayed, 0, max, 'LIMIT', 0, 1000)
if #ids > 0 then
  redis.call('ZREM', delayed, unpack(ids))
  local target = base .. 'wait'
  if redis.call('EXISTS', base .. 'meta-paused') == 1 then target = base .. 'paused' end
  for _, id in ipairs(ids) do
    local jk = base .. id
    redis.call('LREM', base .. 'active', 0, id)
    local priority = tonumber(redis.call('HGET', jk, 'priority')) or 0
    bp_push_waiting(base, target, id, priority, false)
    redis.call('PUBLISH', base .. 'waiting@' .. ARGV[3], id)
    redis.call('HSET', jk, 'delay', 0)
  end
end
local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local nextdue = 0
if first[2] then
  nextdue = math.ceil(tonumber(first[2]) / 4096)
  redis.call('PUBLISH', base .. 'delayed', string.format('%.0f', nextdue))
end
return {#ids, string.format('%.0f', nextdue)}
