-- echo_args.lua -- returns KEYS and ARGV unchanged: proves SCRIPT LOAD, EVALSHA and the
-- EVAL fallback work (bullpen check and the connection tests use it).
local out = {}
for _, k in ipairs(KEYS) do out[#out + 1] = k end
for _, a in ipairs(ARGV) do out[#out + 1] = a end
return out
