--[[ take.lua -- Bull's moveToActive (bull-protocol.md §7.2, §7.3), with and without an id.

  KEYS[1]  K(active)
  ARGV[1]  key base "P:Q:"
  ARGV[2]  token (the lock value)
  ARGV[3]  lock duration (ms)
  ARGV[4]  now (ms, the caller's clock): processedOn
  ARGV[5]  the id BRPOPLPUSH moved into active, or "" to pop wait -> active here

  Returns
    nil                              nothing to take (wait empty: drained is published)
    {id}                             the job hash vanished (removed while waiting): the id
                                     was dropped from active, nothing else touched
    {id, name, data, opts, attemptsMade, timestamp, stalledCounter}
                                     taken: locked, out of stalled/priority, processedOn set,
                                     active@token published

  Unlike Bull, a missing hash (or a stub without name and data) is never resurrected as a
  stub. Without an id such ids are dropped and the next one is popped, so one call still
  returns a job when there is one. ]]
local base = ARGV[1]
local active = KEYS[1]
local id = ARGV[5]
local popped = (id == '')

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
