--[[ take.lua -- Bull's moveToActive (bull-protocol.md §7.2, §7.3), with and without an id.

  KEYS[1]  K(active)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  token (the lock value)
  ARGV[3]  lock duration (ms)
  ARGV[4]  now (ms, the caller's clock): processedOn
  ARGV[5]  the id BRPOPLPUSH moved into active, or "" to pop wait -> active here
  ARGV[6]  limiter max (jobs per window), "" = no limiter
  ARGV[7]  limiter duration (ms)
  ARGV[8]  "1" = per-group limiter (limiter.group_key set): the group is the id's last
           ":"-separated part, as the producer builds such ids

  Returns
    nil                              nothing to take (wait empty: drained is published)
    {id}                             the job hash vanished (removed while waiting): the id
                                     was dropped from active, nothing else touched
    {id, "limited"}                  the rate limiter parked the job in delayed (§7.12)
    {id, name, data, opts, attemptsMade, timestamp, stalledCounter}
                                     taken: locked, out of stalled/priority, processedOn set,
                                     active@token published

  Unlike Bull, a missing hash (or a stub without name and data) is never resurrected as a
  stub. Without an id such ids are dropped and the next one is popped, so one call still
  returns a job when there is one.

  The rate limiter (bull-protocol.md §7.12) runs where Bull's moveToActive runs it, between
  the pop and the lock, with Bull's keys and arithmetic: K(limiter) counts the jobs started
  in the current window (PX duration), a job over the limit is parked in K(delayed) and
  remembered in K(limiter:limited) and K(limiter:index) so that it is let through when it
  comes back. Numbers go to redis.call as Lua numbers, as Bull's do, so the scores and
  payloads are the same text. Unlike Bull, a vanished hash is dropped before the limiter
  (it neither counts nor gets parked). Bull's bounceBack is not offered (it loses the job). ]]
local base = ARGV[1]
local active = KEYS[1]
local id = ARGV[5]
local popped = (id == '')
local lmax = tonumber(ARGV[6])

-- true when the limiter parked jid in delayed (and took it out of active)
local function limited(jid)
  local dur = tonumber(ARGV[7])
  local lkey = base .. 'limiter'
  local index = lkey .. ':index'
  if ARGV[8] == '1' then
    local group = string.match(jid, '[^:]+$')
    if group then lkey = lkey .. ':' .. group end
  end
  local lset = lkey .. ':limited'
  local delay = 0
  if redis.call('SISMEMBER', lset, jid) == 1 then
    -- its parking time is over: let it through (it still counts below)
    redis.call('SREM', lset, jid)
    redis.call('HDEL', index, jid)
  else
    local waiting = redis.call('SCARD', lset)
    if waiting > 0 then
      -- others are parked already: queue behind them (Bull's 10% slack for drift)
      delay = (waiting * dur * 1.1) / lmax + tonumber(redis.call('PTTL', lkey))
    end
  end
  local counter = tonumber(redis.call('GET', lkey)) or 0
  if delay == 0 and counter >= lmax then
    delay = tonumber(redis.call('PTTL', lkey)) + ((counter - lmax) * dur) / lmax
  end
  if delay > 0 then
    local due = delay + tonumber(ARGV[4])
    redis.call('ZADD', base .. 'delayed', due * 0x1000 + bit.band(counter, 0xfff), jid)
    redis.call('PUBLISH', base .. 'delayed', due)
    redis.call('SADD', lset, jid)
    redis.call('HSET', index, jid, lset)
    redis.call('LREM', active, 1, jid)
    return true
  end
  if counter == 0 then
    redis.call('PSETEX', lkey, dur, 1)
  else
    redis.call('INCR', lkey)
  end
  return false
end

while true do
  if popped then
    id = redis.call('RPOPLPUSH', base .. 'wait', active)
    if not id then
      redis.call('PUBLISH', base .. 'drained', '')
      return nil
    end
  else
    redis.call('SREM', base .. 'stalled', id)
  end
  local jk = base .. id
  -- read first: a hash without name and data is gone (or a stub another client left)
  local f = redis.call('HMGET', jk, 'name', 'data', 'opts', 'attemptsMade', 'timestamp',
                       'stalledCounter', 'priority')
  if f[1] or f[2] then
    if lmax and limited(id) then return {id, 'limited'} end
    redis.call('SET', jk .. ':lock', ARGV[2], 'PX', ARGV[3])
    -- only a prioritised job sits in the priority set: skip the ZREM for the others
    if (tonumber(f[7]) or 0) ~= 0 then redis.call('ZREM', base .. 'priority', id) end
    redis.call('PUBLISH', base .. 'active@' .. ARGV[2], id)
    redis.call('HSET', jk, 'processedOn', ARGV[4])
    return {id, f[1], f[2], f[3], f[4], f[5], f[6]}
  end
  redis.call('LREM', active, 1, id)
  if not popped then
    return {id}
  end
end
