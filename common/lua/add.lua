--[[ add.lua -- Bull's add (bull-protocol.md §5, §6): one job into wait, paused or delayed.

  KEYS[1]  K(wait)             (declared so a hash-tagged prefix routes the call)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  custom job id, or "" for the counter
  ARGV[3]  name
  ARGV[4]  data (JSON text, stored as given)
  ARGV[5]  opts (JSON text, Bull's defaults already filled in by the caller)
  ARGV[6]  timestamp (ms)
  ARGV[7]  delay (ms, integer)
  ARGV[8]  priority (0 = none)
  ARGV[9]  "1" for LIFO
  ARGV[10] token (suffix of waiting@ / duplicated@ / debounced@)
  ARGV[11] debounce id, or ""
  ARGV[12] debounce ttl in ms, or "" / "0"

  Returns the job id (the existing holder's id for a duplicate or a debounced add). ]]

--@include queue_ops

local base = ARGV[1]
local n = redis.call('INCR', base .. 'id')
local id = ARGV[2]
if id == '' then
  id = tostring(n)
elseif redis.call('EXISTS', base .. id) == 1 then
  redis.call('PUBLISH', base .. 'duplicated@' .. ARGV[10], id)
  return id
end

local deid = ARGV[11]
if deid ~= '' then
  local dekey = base .. 'de:' .. deid
  local ttl = tonumber(ARGV[12]) or 0
  local ok
  if ttl > 0 then
    ok = redis.call('SET', dekey, id, 'NX', 'PX', ttl)
  else
    ok = redis.call('SET', dekey, id, 'NX')
  end
  if not ok then
    local holder = redis.call('GET', dekey)
    redis.call('PUBLISH', base .. 'debounced@' .. ARGV[10], holder)
    return holder
  end
end

local jk = base .. id
local delay = tonumber(ARGV[7]) or 0
local priority = tonumber(ARGV[8]) or 0
if deid ~= '' then
  redis.call('HMSET', jk, 'name', ARGV[3], 'data', ARGV[4], 'opts', ARGV[5], 'timestamp',
             ARGV[6], 'delay', ARGV[7], 'priority', ARGV[8], 'deid', deid)
else
  redis.call('HMSET', jk, 'name', ARGV[3], 'data', ARGV[4], 'opts', ARGV[5], 'timestamp',
             ARGV[6], 'delay', ARGV[7], 'priority', ARGV[8])
end

if delay > 0 then
  local due = tonumber(ARGV[6]) + delay
  local score = due * 4096 + bit.band(n, 4095)
  redis.call('ZADD', base .. 'delayed', string.format('%.0f', score), id)
  redis.call('PUBLISH', base .. 'delayed', string.format('%.0f', due))
  return id
end

local target = base .. 'wait'
if redis.call('EXISTS', base .. 'meta-paused') == 1 then
  target = base .. 'paused'
end
bp_push_waiting(base, target, id, priority, ARGV[9] == '1')
redis.call('PUBLISH', base .. 'waiting@' .. ARGV[10], id)
return id
