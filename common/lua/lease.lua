--[[ lease.lua -- a worker's lease of several waiting jobs, and what follows from it.

  A lease moves up to n jobs wait -> active and locks each with the worker's token, like
  Bull's moveToActive, but does NOT set processedOn nor publish active@token: a leased job
  has not started. The worker marks each one when its handler starts (finish.lua's
  ARGV[12] for a job it finishes within the same batch, mode "mark" for one still running),
  so Bull's API and bull-board see a job as started only once it is. Jobs a worker leased but
  did not start go back to the front of wait (mode "return"), without a stall: a job that
  runs long gives back the rest of its lease at once, and a dead worker's leased jobs are
  returned by the master (mode "return_token", before its running job is recovered by the
  token with a stall).

  KEYS[1]  K(active)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  token (the lock value)
  ARGV[3]  mode: "take", "mark", "return" or "return_token"
  take:          ARGV[4] lock duration (ms), ARGV[5] most jobs to lease, ARGV[6] share
                 divisor: at most ceil(LLEN(wait) / divisor) jobs, so the other workers
                 and hosts keep their share of a short backlog
  mark:          ARGV[4..] pairs of id, processedOn (ms): set processedOn and publish
                 active@token for each whose lock still holds the token
  return:        ARGV[4..] ids in the order they were leased: each whose lock holds the
                 token leaves active and goes back to the front of wait (paused while
                 paused) in that order; its lock is deleted
  return_token:  ARGV[4] the id the dead worker was running ("" = none): every other job in
                 active whose lock holds the token goes back as in "return"

  Returns
    take:          {{id, name, data, opts, attemptsMade, timestamp, stalledCounter}, ...}
    mark:          the number marked
    return(_token): the ids returned ]]
local base = ARGV[1]
local token = ARGV[2]
local mode = ARGV[3]
local active = KEYS[1]

local function wait_target()
  if redis.call('EXISTS', base .. 'meta-paused') == 1 then return base .. 'paused' end
  return base .. 'wait'
end

-- ids in lease order: the first leased was at the right end of wait, so it goes back last
local function give_back(ids)
  local back = {}
  for _, id in ipairs(ids) do
    local lk = base .. id .. ':lock'
    if redis.call('GET', lk) == token and redis.call('LREM', active, -1, id) > 0 then
      redis.call('DEL', lk)
      back[#back + 1] = id
    end
  end
  if #back > 0 then
    local target = wait_target()
    for i = #back, 1, -1 do redis.call('RPUSH', target, back[i]) end
  end
  return back
end

if mode == 'take' then
  local n = tonumber(ARGV[5]) or 1
  local div = tonumber(ARGV[6]) or 1
  local wait = base .. 'wait'
  local len = redis.call('LLEN', wait)
  if len == 0 then return {} end
  if div > 1 then
    local share = math.ceil(len / div)
    if share < n then n = share end
  end
  local out = {}
  while #out < n do
    local id = redis.call('RPOPLPUSH', wait, active)
    if not id then break end
    local jk = base .. id
    local f = redis.call('HMGET', jk, 'name', 'data', 'opts', 'attemptsMade', 'timestamp',
                         'stalledCounter', 'priority')
    if f[1] or f[2] then
      redis.call('SET', jk .. ':lock', token, 'PX', ARGV[4])
      if (tonumber(f[7]) or 0) ~= 0 then redis.call('ZREM', base .. 'priority', id) end
      out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6]}
    else
      redis.call('LREM', active, 1, id) -- the hash is gone: drop the id, as take.lua does
    end
  end
  return out
end

if mode == 'mark' then
  local n = 0
  for i = 4, #ARGV - 1, 2 do
    local id = ARGV[i]
    if redis.call('GET', base .. id .. ':lock') == token then
      redis.call('HSET', base .. id, 'processedOn', ARGV[i + 1])
      redis.call('PUBLISH', base .. 'active@' .. token, id)
      n = n + 1
    end
  end
  return n
end

if mode == 'return' then
  local ids = {}
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
  return give_back(ids)
end

if mode == 'return_token' then
  local running = ARGV[4] or ''
  local ids = {}
  -- active is LPUSHed by RPOPLPUSH: the oldest lease is at the right end
  local all = redis.call('LRANGE', active, 0, -1)
  for i = #all, 1, -1 do
    local id = all[i]
    if id ~= running and redis.call('GET', base .. id .. ':lock') == token then
      ids[#ids + 1] = id
    end
  end
  return give_back(ids)
end

return redis.error_reply('lease.lua: unknown mode ' .. tostring(mode))
