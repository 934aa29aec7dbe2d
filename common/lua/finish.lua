--[[ finish.lua -- the end of a run, in one atomic call: Bull's moveToFinished (completed or
  final failure), saveStacktrace + moveToDelayed / retryJob (a failed run with attempts
  left), and the optional fetch-next (bull-protocol.md §7.6-§7.8, §7.15, §13).

  The lock is compared with the token before anything is written: a worker that lost its
  lock changes nothing (not even the stacktrace), and whoever owns the job settles it.

  KEYS[1]  K(active)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  token: the lock value expected (and the one fetch-next locks with)
  ARGV[3]  job id, or "" for "the job in active whose lock holds the token" (the master
           failing a timed-out worker's job)
  ARGV[4]  "completed" or "failed"
  ARGV[5]  completed: the returnvalue JSON text; failed: the failedReason (raw)
  ARGV[6]  now (ms): finishedOn, and processedOn of the fetched job
  ARGV[7]  failed: the stack line to append to stacktrace, "" for none
  ARGV[8]  "1" to take the next job from wait in the same call
  ARGV[9]  lock duration (ms) for the fetched job
  ARGV[10] metrics: maxDataPoints of K(metrics:completed|failed), "" = no metrics
  ARGV[11] "1": a failure for good, attempts left or not (Bull's job.discard()); the input
           itself fails, so a retry would end the same way (absent = "0")
  ARGV[12] processedOn of a leased job (lease.lua) whose handler started without being
           marked yet: set it and publish active@token before the job is finished, so its
           events keep their order; "" or absent = already marked

  The caller never asks for fetch-next when the queue has a rate limiter (Bull does not
  either): the limiter runs in take.lua only.

  Returns {code, next, id}
    code  1 completed, 2 failed for good, 3 retry after a backoff (delayed),
          4 retry at once (wait/paused), 0 no job holds the token (ARGV[3] ""),
          -1 hash missing, -2 lock missing, -6 lock held by another token, -3 not in active
    next  false, or the fetched job as take.lua returns it
    id    the job id the code is about ]]
local base = ARGV[1]
local token = ARGV[2]
local id = ARGV[3]
local mode = ARGV[4]
local value = ARGV[5]
local now = ARGV[6]
local nowN = tonumber(now)
local active = KEYS[1]

-- JSON string literal for s (cjson escapes '/' as '\/', which JSON.parse reads back)
local function jstr(s)
  return cjson.encode(tostring(s))
end

--@include queue_ops

local function push_waiting(jk, jid, lifo)
  local target = base .. 'wait'
  if redis.call('EXISTS', base .. 'meta-paused') == 1 then target = base .. 'paused' end
  bp_push_waiting(base, target, jid, tonumber(redis.call('HGET', jk, 'priority')) or 0, lifo)
end

-- removeOnComplete / removeOnFail -> age (s) and count; count nil = keep everything. As
-- Bull's moveToFinishedArgs reads them: an object gives its age and count, a number is a
-- count, anything else is "remove" when truthy (true, a non-empty string) and "keep" when not.
local function retention(v)
  if type(v) == 'table' then return tonumber(v.age), tonumber(v.count) end
  if type(v) == 'number' then return nil, v end
  if v == true or (type(v) == 'string' and v ~= '') then return nil, 0 end
  return nil, nil
end

local function finished(jk, set, field, val, keepopt, deid)
  if deid then
    local dekey = base .. 'de:' .. deid
    local pttl = redis.call('PTTL', dekey)
    if pttl == 0 or pttl == -1 then redis.call('DEL', dekey) end
  end
  local age, count = retention(keepopt)
  if count == 0 then
    bp_drop_job(base, id)
  else
    redis.call('ZADD', set, now, id)
    redis.call('HMSET', jk, field, val, 'finishedOn', now)
    bp_trim(base, set, nowN, age, count)
  end
end

-- Bull's metrics (bull-protocol.md §7.13) at a completion or final failure: count every
-- finish, and once a new minute has started push the finishes of the minutes since
-- (newest at the head, a 0 per skipped minute, at most maxp points), then trim. As in
-- Bull, the finish that opens the new minute is counted in the next point, not this one.
local function metrics(key, maxp)
  local before = redis.call('HINCRBY', key, 'count', 1) - 1
  local prev = redis.call('HGET', key, 'prevTS')
  if not prev then
    redis.call('HSET', key, 'prevTS', now, 'prevCount', 0)
    return
  end
  local n = math.min(math.floor(nowN / 60000) - math.floor(tonumber(prev) / 60000), maxp)
  if n <= 0 then return end
  local points = {before - (tonumber(redis.call('HGET', key, 'prevCount')) or 0)}
  for i = 2, n do points[i] = 0 end
  for from = 1, #points, 7000 do
    redis.call('LPUSH', key .. ':data', unpack(points, from, math.min(from + 6999, #points)))
  end
  redis.call('LTRIM', key .. ':data', 0, maxp - 1)
  redis.call('HSET', key, 'prevCount', before, 'prevTS', now)
end

local function collect(kind)
  local maxp = tonumber(ARGV[10])
  if maxp and maxp > 0 then metrics(base .. 'metrics:' .. kind, maxp) end
end

-- The backoff delay of a retry (bull-protocol.md §4), or nil and why bullpen cannot compute
-- it: another type is a custom strategy, which lives in a Node worker's
-- settings.backoffStrategies (JavaScript bullpen cannot run); a backoff that is neither a
-- number nor an object has no strategy at all. Bull's own worker throws "Unknown backoff
-- strategy" for both and leaves the job in active for the stalled check; bullpen fails it.
local function backoff_ms(b, made)
  if b == nil or b == false or b == cjson.null or b == '' then return 0 end
  if type(b) == 'number' then return math.floor(b) end
  if type(b) ~= 'table' then
    return nil, 'backoff ' .. cjson.encode(b) .. ' is neither a number of ms nor '
      .. '{"type": "fixed" or "exponential", "delay": ms}'
  end
  local d = tonumber(b.delay) or 0
  if b.type == 'fixed' then return math.floor(d) end
  if b.type == 'exponential' then return math.floor((2 ^ made - 1) * d + 0.5) end
  if b.type == nil or b.type == cjson.null then
    return nil, 'backoff has no type; use "fixed" or "exponential"'
  end
  return nil, 'backoff type ' .. cjson.encode(b.type) .. " is a custom strategy of a Node "
    .. "worker's settings.backoffStrategies, which bullpen cannot run; use \"fixed\" or "
    .. '"exponential"'
end

if id == '' then
  for _, a in ipairs(redis.call('LRANGE', active, 0, -1)) do
    if redis.call('GET', base .. a .. ':lock') == token then
      id = a
      break
    end
  end
  if id == '' then return {0, false, ''} end
end

local jk = base .. id
-- the lock first: on the normal path the hash is read once (HMGET below) instead of an
-- EXISTS; a missing hash is told apart from a missing lock only on the error path
local lock = redis.call('GET', jk .. ':lock')
if not lock then
  if redis.call('EXISTS', jk) == 0 then return {-1, false, id} end
  return {-2, false, id}
end
if lock ~= token then return {-6, false, id} end
-- opts, deid, stacktrace, and name to tell a missing hash (every field nil)
local f = redis.call('HMGET', jk, 'opts', 'deid', 'stacktrace', 'name')
if not f[1] and not f[4] then return {-1, false, id} end
if ARGV[12] and ARGV[12] ~= '' then -- a leased job started in this batch
  redis.call('HSET', jk, 'processedOn', ARGV[12])
  redis.call('PUBLISH', base .. 'active@' .. token, id)
end
redis.call('DEL', jk .. ':lock')
redis.call('SREM', base .. 'stalled', id)
if redis.call('LREM', active, -1, id) == 0 then return {-3, false, id} end

local code
if mode == 'completed' then
  -- a completion needs only removeOnComplete from opts: skip the JSON decode (a tenth of
  -- this script's Redis time) when the text cannot hold it
  local keep = nil
  if f[1] and string.find(f[1], 'removeOnComplete', 1, true) then
    keep = bp_decode(f[1]).removeOnComplete
  end
  finished(jk, base .. 'completed', 'returnvalue', value, keep, f[2])
  collect('completed')
  redis.call('PUBLISH', base .. 'completed', '{"jobId":' .. jstr(id) .. ',"val":' .. jstr(value) .. '}')
  code = 1
else
  local opts = bp_decode(f[1])
  local made = redis.call('HINCRBY', jk, 'attemptsMade', 1)
  local st = bp_decode(f[3])
  if ARGV[7] ~= '' then st[#st + 1] = ARGV[7] end
  local limit = tonumber(opts.stackTraceLimit)
  if limit and limit > 0 and #st > limit then
    local kept = {}
    for i = #st - limit + 1, #st do kept[#kept + 1] = st[i] end
    st = kept
  end
  local stjson = '[]'
  if #st > 0 then stjson = cjson.encode(st) end
  redis.call('HMSET', jk, 'failedReason', value, 'stacktrace', stjson)
  local attempts = tonumber(opts.attempts) or 1
  local delay, custom = 0, nil
  local discard = ARGV[11] == '1'
  if made < attempts and not discard then
    delay, custom = backoff_ms(opts.backoff, made)
    if custom then value = value .. ' (not retried: ' .. custom .. ')' end
  end
  if made < attempts and not custom and not discard then
    if delay > 0 then
      local due = nowN + delay
      local low = tonumber(id)
      if low then low = bit.band(low, 4095) else low = 0 end
      redis.call('ZADD', base .. 'delayed', string.format('%.0f', due * 4096 + low), id)
      redis.call('PUBLISH', base .. 'delayed', string.format('%.0f', due))
      code = 3
    else
      -- Bull tests opts.lifo for JS truthiness: "yes" and 1 mean lifo too
      local l = opts.lifo
      push_waiting(jk, id, l ~= nil and l ~= false and l ~= cjson.null and l ~= 0 and l ~= '')
      code = 4
    end
  else
    finished(jk, base .. 'failed', 'failedReason', value, opts.removeOnFail, f[2])
    collect('failed')
    redis.call('PUBLISH', base .. 'failed', '{"jobId":' .. jstr(id) .. ',"val":' .. jstr(value) .. '}')
    code = 2
  end
end

if ARGV[8] == '1' then
  while true do
    local nid = redis.call('RPOPLPUSH', base .. 'wait', active)
    if not nid then break end
    local nk = base .. nid
    local n = redis.call('HMGET', nk, 'name', 'data', 'opts', 'attemptsMade', 'timestamp',
                         'stalledCounter', 'priority')
    if n[1] or n[2] then -- else the hash is gone: drop the id, as take.lua does
      redis.call('SET', nk .. ':lock', token, 'PX', ARGV[9])
      -- only a prioritised job sits in the priority set: skip the ZREM for the others
      if (tonumber(n[7]) or 0) ~= 0 then redis.call('ZREM', base .. 'priority', nid) end
      redis.call('PUBLISH', base .. 'active@' .. token, nid)
      redis.call('HSET', nk, 'processedOn', now)
      return {code, {nid, n[1], n[2], n[3], n[4], n[5], n[6]}, id}
    end
    redis.call('LREM', active, 1, nid)
  end
end
return {code, false, id}
