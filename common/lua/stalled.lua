--[[ stalled.lua -- Bull's stalled checker (moveStalledJobsToWait, bull-protocol.md §7.10), and
  the same recovery for the jobs of one dead worker, found by its lock token.

  KEYS[1]  K(active)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  now (ms)
  ARGV[3]  stalled interval (ms): the PX of stalled-check
  ARGV[4]  maxStalledCount
  ARGV[5]  "check": the periodic check, at most once per interval across every process;
           "token": every job in active whose lock holds ARGV[6] (a worker that died);
           "orphans": list the jobs in active that hold no lock, each with its processedOn
           ("" when absent): the first pass of the master's sweep after a worker died,
           taken once the dead worker's connections are closed on the server side;
           "settle": the second pass, a second later, over the candidates of the first
  ARGV[6]  token (mode "token"); JSON [[id, processedOn seen, put back by the master], ...]
           (mode "settle")
  ARGV[7]  failedReason and failed-event text when a dead worker's job fails (mode "token");
           lock duration in ms (mode "settle")

  A stalled job goes back to the front of wait (RPUSH; paused while paused) with
  stalledCounter + 1 and a stalled@ event, or fails for good once stalledCounter exceeds
  maxStalledCount (attempts are not consulted). Bull's texts differ between the hash and
  the event; both are kept as they are.

  "settle" tells a job nobody ever took from a stalled one. A candidate still in active,
  still without a lock and with the processedOn of the first pass was moved there by a pull
  whose worker never locked it (a live worker locks a pulled job within milliseconds). It
  was never run in this attempt when its processedOn is absent, or the master itself put
  it back with that processedOn, or it is younger than the lock duration (a take sets the
  lock and processedOn together, and the lock cannot have expired yet): then it goes back
  to the front of wait WITHOUT a stall (stalledCounter unchanged; a crash that ran nothing
  costs nothing). Otherwise it counts as a stall, as Bull's checker would count it.

  Returns {failed ids, recovered ids, ran, processedOn of each recovered id} (mode "token"
  fills the fourth), {failed, recovered, 1, put back unstalled ids} (mode "settle"), a flat
  {id, processedOn, ...} (mode "orphans"); ran is 0 when another process checked less than
  an interval ago (mode "check"). ]]
local base = ARGV[1]
local now = ARGV[2]
local nowN = tonumber(now)
local maxStalled = tonumber(ARGV[4]) or 1
local active = KEYS[1]
local failed, recovered = {}, {}

--@include queue_ops

local function apply_remove_on_fail(id, v)
  local set = base .. 'failed'
  local age, count
  if v == true then
    count = 0
  elseif type(v) == 'number' then
    count = v
  elseif type(v) == 'table' then
    age, count = tonumber(v.age), tonumber(v.count)
  end
  if count == 0 then
    bp_drop_job(base, id)
    redis.call('ZREM', set, id)
    return
  end
  bp_trim(base, set, nowN, age, count)
end

local function stall(id, hash_text, event_text)
  local jk = base .. id
  if redis.call('LREM', active, 1, id) == 0 then return end -- another worker settled it
  if redis.call('EXISTS', jk) == 0 then return end       -- removed: nothing to bring back
  local c = redis.call('HINCRBY', jk, 'stalledCounter', 1)
  if c > maxStalled then
    local f = redis.call('HMGET', jk, 'opts', 'deid')
    redis.call('ZADD', base .. 'failed', now, id)
    redis.call('HMSET', jk, 'failedReason', hash_text, 'finishedOn', now)
    if f[2] then
      local dekey = base .. 'de:' .. f[2]
      local pttl = redis.call('PTTL', dekey)
      if pttl == 0 or pttl == -1 then redis.call('DEL', dekey) end
    end
    redis.call('PUBLISH', base .. 'failed',
               '{"jobId":' .. cjson.encode(id) .. ', "val": ' .. cjson.encode(event_text) .. '}')
    apply_remove_on_fail(id, bp_decode(f[1]).removeOnFail)
    failed[#failed + 1] = id
  else
    local target = base .. 'wait'
    if redis.call('EXISTS', base .. 'meta-paused') == 1 then target = base .. 'paused' end
    redis.call('RPUSH', target, id)
    redis.call('PUBLISH', base .. 'stalled@', id)
    recovered[#recovered + 1] = id
  end
end

local function wait_target()
  if redis.call('EXISTS', base .. 'meta-paused') == 1 then return base .. 'paused' end
  return base .. 'wait'
end

if ARGV[5] == 'token' then
  local token = ARGV[6]
  local pons = {}
  for _, id in ipairs(redis.call('LRANGE', active, 0, -1)) do
    local lk = base .. id .. ':lock'
    if redis.call('GET', lk) == token then
      redis.call('DEL', lk)
      redis.call('SREM', base .. 'stalled', id)
      local n = #recovered
      local p = redis.call('HGET', base .. id, 'processedOn') or ''
      stall(id, ARGV[7], ARGV[7])
      if #recovered > n then pons[#pons + 1] = p end
    end
  end
  return {failed, recovered, 1, pons}
end

if ARGV[5] == 'orphans' then
  local out = {}
  for _, id in ipairs(redis.call('LRANGE', active, 0, -1)) do
    if redis.call('EXISTS', base .. id .. ':lock') == 0 then
      out[#out + 1] = id
      out[#out + 1] = redis.call('HGET', base .. id, 'processedOn') or ''
    end
  end
  return out
end

if ARGV[5] == 'settle' then
  local lockMs = tonumber(ARGV[7]) or 30000
  local unstalled = {}
  local ok, cands = pcall(cjson.decode, ARGV[6])
  if not ok or type(cands) ~= 'table' then cands = {} end
  for _, c in ipairs(cands) do
    local id, seen, ours = tostring(c[1]), tostring(c[2] or ''), c[3] == true
    local jk = base .. id
    local p = redis.call('HGET', jk, 'processedOn') or ''
    if redis.call('EXISTS', jk .. ':lock') == 0 and p == seen and
       redis.call('LPOS', active, id) then
      local pn = tonumber(p)
      if p == '' or ours or (pn and nowN - pn < lockMs) then
        redis.call('LREM', active, 1, id)
        redis.call('SREM', base .. 'stalled', id)
        if redis.call('EXISTS', jk) == 1 then
          redis.call('RPUSH', wait_target(), id)
          unstalled[#unstalled + 1] = id
        end
      else
        redis.call('SREM', base .. 'stalled', id)
        stall(id, 'job stalled more than allowable limit', 'job stalled more than maxStalledCount')
      end
    end
  end
  return {failed, recovered, 1, unstalled}
end

if ARGV[5] == 'check' then
  local check = base .. 'stalled-check'
  if redis.call('EXISTS', check) == 1 then return {{}, {}, 0} end
  redis.call('SET', check, now, 'PX', ARGV[3])
end

local skey = base .. 'stalled'
local candidates = redis.call('SMEMBERS', skey)
if #candidates > 0 then
  redis.call('DEL', skey)
  for _, id in ipairs(candidates) do
    if redis.call('EXISTS', base .. id .. ':lock') == 0 then
      stall(id, 'job stalled more than allowable limit', 'job stalled more than maxStalledCount')
    end
  end
end

local ids = redis.call('LRANGE', active, 0, -1)
for i = 1, #ids, 7000 do
  redis.call('SADD', skey, unpack(ids, i, math.min(i + 6999, #ids)))
end
return {failed, recovered, 1}
