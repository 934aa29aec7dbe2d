#!/usr/bin/env bash
# test_url_env.sh -- one Redis setting for the app, Bull and bullpen (redis.url_env). The
# producer snippet of README.md (between the producer-snippet markers) is run as it stands
# by url_env.js: the app's node-redis cache client and Bull's ioredis connections built
# from REDIS_URL and the CA, a pool reading the same REDIS_URL through url_env, a job going
# through. The password, only in REDIS_URL, stays out of bullpen's log and check output;
# an unset variable is one clear error naming it and the config line.
set -u
. "$(dirname "$0")/setup.sh"
bp_interop_deps
BP_REDIS_PASS="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
bp_redis_start --requirepass "$BP_REDIS_PASS"

export REDIS_URL="rediss://default:$BP_REDIS_PASS@localhost:$BP_TLS_PORT/0"
export REDIS_CA_FILE=$BP_CERTS/ca.crt
BP_CONF=$BP_TMP/bullpen.conf
cat >"$BP_CONF" <<CONF
redis = {
  url_env = "REDIS_URL";
  tls = { ca_file = "$BP_CERTS/ca.crt"; };
};
pool = { heartbeat_ms = 200; hung_after_ms = 3000; shutdown_timeout_ms = 5000; };
queues = ( { name = "document-processing"; workers = 2;
             handlers = ( { job = "*"; type = "document"; } ); } );
CONF

# check: the URL shown redacted with where it came from; never the password
out=$("$BULLPEN_BIN" check -c "$BP_CONF" 2>&1) || { echo "$out"; bp_fail "bullpen check failed"; }
echo "$out" | grep -qF "# url = \"rediss://default:***@localhost:$BP_TLS_PORT/0\"; # from the environment variable REDIS_URL" ||
    { echo "$out"; bp_fail "check does not show the redacted URL from REDIS_URL"; }
echo "$out" | grep -qF "$BP_REDIS_PASS" && bp_fail "check printed the password"
echo "ok: bullpen check reads REDIS_URL (password redacted)"

# unset: one line naming the variable and the line
out=$(env -u REDIS_URL "$BULLPEN_BIN" check -c "$BP_CONF" 2>&1)
rc=$?
[ "$rc" = 78 ] || { echo "$out"; bp_fail "unset REDIS_URL: exit $rc, not 78"; }
echo "$out" | grep -qF "$BP_CONF:2: redis.url_env: the environment variable REDIS_URL is not set" ||
    { echo "$out"; bp_fail "unset REDIS_URL: unclear error"; }
out=$(REDIS_URL="redis://:$BP_REDIS_PASS@localhost:99999" "$BULLPEN_BIN" check -c "$BP_CONF" 2>&1)
[ $? = 78 ] || bp_fail "invalid REDIS_URL: not exit 78"
echo "$out" | grep -qF "$BP_CONF:2: redis.url_env: the URL in the environment variable REDIS_URL: port" ||
    { echo "$out"; bp_fail "invalid REDIS_URL: unclear error"; }
echo "$out" | grep -qF "$BP_REDIS_PASS" && bp_fail "the error printed the password"
echo "ok: unset or invalid REDIS_URL is one line naming it and $BP_CONF:2"

bp_pool_start

# the README's snippet, exactly as written there
BP_SNIPPET=$BP_TMP/redis.js
awk '/<!-- producer-snippet:begin -->/{on=1; next} /<!-- producer-snippet:end -->/{on=0} on' \
    "$BP_SOURCE_DIR/README.md" | sed '1{/^```/d}; ${/^```/d}' >"$BP_SNIPPET"
grep -q "createClient" "$BP_SNIPPET" || bp_fail "no producer snippet found in README.md"
export BP_SNIPPET NODE_PATH=$BP_INTEROP_DIR/node_modules
bp_node url_env.js || { tail -30 "$BP_POOL_LOG" >&2; bp_fail "the README producer snippet did not work"; }

bp_pool_check_log
grep -qF "$BP_REDIS_PASS" "$BP_POOL_LOG" && bp_fail "the password is in the pool log"
echo "ok: one REDIS_URL for the cache, Bull and bullpen"
