--[[ log.lua -- job.log(line) (bull-protocol.md §7.14, Bull's addLog): append to K(<id>:logs)
  while the job exists, keeping only the newest lines as Bull's keepLogs argument does. No
  event.

  KEYS[1]  K(<id>)
  KEYS[2]  K(<id>:logs)
  ARGV[1]  the line
  ARGV[2]  lines to keep (LTRIM to the newest N), "" = all

  Returns the number of lines now kept, or 0 when the job hash is gone. ]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('RPUSH', KEYS[2], ARGV[1])
local keep = tonumber(ARGV[2])
if keep and keep > 0 then
  redis.call('LTRIM', KEYS[2], -keep, -1)
  return math.min(keep, n)
end
return n
