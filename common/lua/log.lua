--[[ log.lua -- job.log(line) (bull-protocol.md §7.14): append to K(<id>:logs) while the job
  exists. No event.

  KEYS[1]  K(<id>)
  KEYS[2]  K(<id>:logs)
  ARGV[1]  the line

  Returns the new number of lines, or 0 when the job hash is gone. ]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('RPUSH', KEYS[2], ARGV[1])
