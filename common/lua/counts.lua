--[[ counts.lua -- getJobCounts in one call (bull-protocol.md §10), plus the pause flag.

  KEYS[1]  K(wait)
  ARGV[1]  key base "P:Q:"

  Returns {waiting, active, completed, failed, delayed, paused, is_paused, limited} where
  is_paused is 1 when meta-paused exists or meta.paused is set (Bull's isPaused()) and
  limited counts the jobs the rate limiter parked (K(limiter:index) holds every group's). ]]
local base = ARGV[1]
local paused = redis.call('EXISTS', base .. 'meta-paused')
if paused == 0 and redis.call('HEXISTS', base .. 'meta', 'paused') == 1 then paused = 1 end
return {
  redis.call('LLEN', KEYS[1]),
  redis.call('LLEN', base .. 'active'),
  redis.call('ZCARD', base .. 'completed'),
  redis.call('ZCARD', base .. 'failed'),
  redis.call('ZCARD', base .. 'delayed'),
  redis.call('LLEN', base .. 'paused'),
  paused,
  redis.call('HLEN', base .. 'limiter:index'),
}
