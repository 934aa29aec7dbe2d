--[[ extend_lock.lua -- Bull's extendLock (bull-protocol.md §7.4): compare-and-set on the token.

  KEYS[1]  K(<id>:lock)
  KEYS[2]  K(stalled)
  ARGV[1]  token
  ARGV[2]  lock duration (ms)
  ARGV[3]  job id

  Returns 1 when extended (and the id is no longer a stalled candidate), 0 when the lock is
  gone or held by another token. ]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[3])
  return 1
end
return 0
