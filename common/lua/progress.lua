--[[ progress.lua -- job.progress(x) (bull-protocol.md §7.14).

  KEYS[1]  K(<id>)
  KEYS[2]  K(progress)   (the channel)
  ARGV[1]  job id
  ARGV[2]  progress as JSON text (a number or any JSON value)

  Returns 1, or 0 when the job hash is gone. The event nests progress as JSON, not as a
  string: {"jobId":"1","progress":50}. ]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
redis.call('PUBLISH', KEYS[2], '{"jobId":' .. cjson.encode(ARGV[1]) .. ',"progress":' .. ARGV[2] .. '}')
return 1
