#!/usr/bin/env bash
# What a job can reach, through a real pool on a password-protected TLS redis-server:
#  - document jobs read files beneath allowed_dirs only: /etc/passwd, the server's TLS key,
#    '..' escapes, symbolic links and chains of them leading out, a FIFO that would block,
#    /dev/zero, /proc/self/..., a directory, a path with a NUL byte and a very long path all
#    fail with a reason naming the path, the rule and allowed_dirs, and none of the secrets
#    reaches Redis; a FIFO does not hold a worker (the next job runs);
#  - a document handler without allowed_dirs refuses path jobs and serves text jobs;
#  - an exec program gets neither BULLPEN_REDIS_PASSWORD nor any other variable of bullpen's
#    environment but what its env setting names, no descriptor but 0-2 (no Redis socket),
#    and runs in /;
#  - `bullpen check` lists the roots and warns about a world-writable one and one that holds
#    the configuration and the password file.
set -euo pipefail
. "$BP_SOURCE_DIR/tests/support/redis.sh"
BP_REDIS_PASS="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
bp_redis_start --requirepass "$BP_REDIS_PASS"

docs=$BP_TMP/docs # the allowed directory
mkdir -p "$docs/sub" "$BP_TMP/outside"
conf=$BP_TMP/bullpen.conf
log=$BP_TMP/bullpen.log
bp_write_conf "$conf" "{ name = \"c\"; workers = 2; handlers = (
    { job = \"*\"; type = \"document\"; chunk_words = 50; overlap_words = 5;
      allowed_dirs = [ \"$docs\" ]; },
    { job = \"nodirs\"; type = \"document\"; },
    { job = \"env\"; type = \"exec\"; argv = [\"/usr/bin/env\"]; env = [ \"PASS_ME\", \"FIXED=1\" ]; },
    { job = \"fds\"; type = \"exec\"; argv = [\"/bin/ls\", \"-l\", \"/proc/self/fd\"]; },
    { job = \"pwd\"; type = \"exec\"; argv = [\"/bin/pwd\"]; }
  ); }"

# the password only in the environment, as an operator would pass it; a decoy secret too
export BULLPEN_REDIS_PASSWORD=$BP_REDIS_PASS SOME_TOKEN=tok-secret-123 PASS_ME=passed
"$BULLPEN_BIN" run -c "$conf" >"$log" 2>&1 &
master=$!
bp_track_pid "$master"
bp_wait_for grep -q 'pool ready: 2 workers on c' "$log" || { cat "$log"; bp_fail "pool not ready"; }

finished() { [ -n "$(bp_rcli HGET "bull:c:$1" finishedOn)" ]; }
run() { # run NAME JSON: enqueue, wait until finished, print the job id
    local id
    id=$("$BULLPEN_BIN" enqueue -c "$conf" -q c "$1" "$2")
    BP_WAIT_S=20 bp_wait_for finished "$id" || { tail -20 "$log"; bp_fail "job $id ($1) never finished"; }
    echo "$id"
}
field() { bp_rcli HGET "bull:c:$1" "$2"; }
# refused JSON RULE: the job fails naming its path, RULE and allowed_dirs
refused() {
    local id reason
    id=$(run doc "$1")
    reason=$(field "$id" failedReason)
    [ -z "$(field "$id" returnvalue)" ] || bp_fail "$1 completed: $(field "$id" returnvalue)"
    case "$reason" in
    *"refused: $2"*"allowed_dirs = [\"$docs\"]"*"(document handler for job \"*\""*) ;;
    *) bp_fail "$1: reason '$reason' lacks the rule '$2' or allowed_dirs" ;;
    esac
    echo "ok: refused $1 ($2)"
}

echo "inside" >"$docs/ok.txt"
cp "$BP_CERTS/server.key" "$BP_TMP/outside/tls.key"
ln -s /etc/passwd "$docs/abs-out"
ln -s ../outside/tls.key "$docs/rel-out"
ln -s chain-b "$docs/chain-a"
ln -s chain-c "$docs/chain-b"
ln -s ../certs/server.key "$docs/chain-c"
ln -s ../outside "$docs/dir-out"
ln -s /dev/zero "$docs/zero"
ln -s ok.txt "$docs/in-link"
mkfifo "$docs/fifo"

id=$(run doc "{\"path\": \"$docs/ok.txt\"}")
case "$(field "$id" returnvalue)" in *'"words":1,"chunks":1,"cached":false}') ;; *) bp_fail "ok.txt: $(field "$id" returnvalue) $(field "$id" failedReason)" ;; esac
id=$(run doc "{\"path\": \"$docs/in-link\"}")
case "$(field "$id" returnvalue)" in *'"cached":true}') ;; *) bp_fail "in-link: $(field "$id" returnvalue) $(field "$id" failedReason)" ;; esac
echo "ok: a file beneath allowed_dirs, and a link that stays inside"

refused '{"path": "/etc/passwd"}' "not beneath any directory of allowed_dirs"
refused "{\"path\": \"$BP_CERTS/server.key\"}" "not beneath any directory of allowed_dirs"
refused "{\"path\": \"$docs/../certs/server.key\"}" "a '..' component is not allowed"
refused "{\"path\": \"$docs/sub/../../outside/tls.key\"}" "a '..' component is not allowed"
refused "{\"path\": \"$docs/abs-out\"}" "a symbolic link leads out of its allowed_dirs root"
refused "{\"path\": \"$docs/rel-out\"}" "a symbolic link leads out of its allowed_dirs root"
refused "{\"path\": \"$docs/chain-a\"}" "a symbolic link leads out of its allowed_dirs root"
refused "{\"path\": \"$docs/dir-out/tls.key\"}" "a symbolic link leads out of its allowed_dirs root"
refused "{\"path\": \"$docs/zero\"}" "a symbolic link leads out of its allowed_dirs root"
refused '{"path": "/dev/zero"}' "not beneath any directory of allowed_dirs"
refused '{"path": "/proc/self/environ"}' "not beneath any directory of allowed_dirs"
refused "{\"path\": \"$docs/fifo\"}" "a FIFO (named pipe), not a regular file"
refused "{\"path\": \"$docs/sub\"}" "a directory, not a regular file"
# `bullpen enqueue` (jansson) refuses \u0000, Bull's producer does not: add the job as Bull
# would, fields and all, then wake the workers
bp_rcli HSET bull:c:nul1 name doc data "{\"path\": \"$docs/ok.txt\\u0000.pdf\"}" opts '{"attempts":1}' \
    timestamp "$(date +%s%3N)" delay 0 priority 0 >/dev/null
bp_rcli LPUSH bull:c:wait nul1 >/dev/null
BP_WAIT_S=20 bp_wait_for finished nul1 || bp_fail "the NUL job never finished"
case "$(field nul1 failedReason)" in
*"refused: it holds a NUL byte"*) echo "ok: refused a path with a NUL byte" ;;
*) bp_fail "NUL path: $(field nul1 failedReason) $(field nul1 returnvalue)" ;;
esac
refused "{\"path\": \"$docs/$(printf 'a%.0s' $(seq 1 4200))\"}" "longer than PATH_MAX"
refused "{\"path\": \"$docs/$(printf 'b%.0s' $(seq 1 300))\"}" "cannot open it beneath allowed_dirs root"

# nothing of the secrets reached Redis: only ok.txt's result and chunks are stored
keys=$(bp_rcli --scan --pattern 'bull:c:doc:*' | sort | tr '\n' ' ')
[ "$(echo "$keys" | wc -w)" = 2 ] || bp_fail "document keys in Redis: $keys"
for k in $(bp_rcli --scan --pattern 'bull:c:*'); do
    [ "$(bp_rcli TYPE "$k")" = string ] || continue
    case "$(bp_rcli GET "$k")" in *PRIVATE*|*root:x:0*) bp_fail "a secret is in Redis under $k" ;; esac
done
echo "ok: no refused file reached Redis"

# no allowed_dirs: path jobs refused, text jobs served
id=$(run nodirs "{\"path\": \"$docs/ok.txt\"}")
case "$(field "$id" failedReason)" in
*"refused: this handler has no allowed_dirs, so jobs may not name files"*) ;;
*) bp_fail "nodirs path job: $(field "$id" failedReason)" ;;
esac
id=$(run nodirs '{"text": "still served"}')
case "$(field "$id" returnvalue)" in *'"words":2,'*) ;; *) bp_fail "nodirs text job: $(field "$id" returnvalue)" ;; esac
echo "ok: without allowed_dirs path jobs are refused and text jobs run"

# exec: the environment, the descriptors and the directory a program gets
id=$(run env '{}')
envout=$(field "$id" returnvalue)
case "$envout" in *"$BP_REDIS_PASS"* | *tok-secret-123* | *BULLPEN_REDIS* | *SOME_TOKEN*) bp_fail "exec environment leaks: $envout" ;; esac
case "$envout" in *PASS_ME=passed*FIXED=1*BULLPEN_JOB_ID=$id*) ;; *) bp_fail "exec environment lacks the allowed variables: $envout" ;; esac
id=$(run fds '{}')
fds=$(field "$id" returnvalue)
case "$fds" in *socket:*) bp_fail "exec program inherited a socket: $fds" ;; esac
n=$(printf '%b' "$(echo "$fds" | sed 's/^"//; s/"$//')" | grep -c -- '->' || true)
[ "$n" = 4 ] || bp_fail "exec program holds $n descriptors, not 0-2 and ls's own: $fds"
id=$(run pwd '{}')
[ "$(field "$id" returnvalue)" = '"/"' ] || bp_fail "exec cwd: $(field "$id" returnvalue)"
echo "ok: exec programs get no Redis password, no other secret, no socket, and run in /"

# bullpen check: the roots, and warnings about a shared or secret-holding root
out=$("$BULLPEN_BIN" check -c "$conf" 2>&1) || { echo "$out"; bp_fail "check failed"; }
echo "$out" | grep -qF "ok      allowed_dirs of 'c' job \"*\" (line 8): $docs (files opened beneath them only)" ||
    { echo "$out"; bp_fail "check does not list the roots"; }
echo "$out" | grep -qF "allowed_dirs of 'c' job \"nodirs\" (line 10): none; jobs naming a file are refused" ||
    { echo "$out"; bp_fail "check does not say nodirs has none"; }
echo "$out" | grep -q "^warning" && { echo "$out"; bp_fail "check warns about a sound setup"; }
echo "$BP_REDIS_PASS" >"$BP_TMP/redis.pass"
chmod 600 "$BP_TMP/redis.pass"
sed -i "s|allowed_dirs = \[ \"$docs\" \]|allowed_dirs = [ \"$docs\", \"$BP_TMP\" ]|" "$conf"
sed -i "s|^  url = \(.*\);|  url = \1; password_file = \"$BP_TMP/redis.pass\";|" "$conf"
chmod 1777 "$docs"
out=$(env -u BULLPEN_REDIS_PASSWORD "$BULLPEN_BIN" check -c "$conf" 2>&1) || { echo "$out"; bp_fail "check failed"; }
echo "$out" | grep -qF "warning allowed_dirs root $docs is writable by every user (mode 1777)" ||
    { echo "$out"; bp_fail "no world-writable warning"; }
echo "$out" | grep -qF "warning allowed_dirs root $BP_TMP holds the configuration file ($conf)" ||
    { echo "$out"; bp_fail "no warning for the configuration file"; }
echo "$out" | grep -qF "warning allowed_dirs root $BP_TMP holds redis.password_file ($BP_TMP/redis.pass)" ||
    { echo "$out"; bp_fail "no warning for the password file"; }
echo "$out" | grep -qF "$BP_REDIS_PASS" && bp_fail "check printed the password"
chmod 755 "$docs"
echo "ok: bullpen check lists the roots and warns about a world-writable or secret-holding one"

grep -E '\[(alert|crit)\]|Sanitizer' "$log" && bp_fail "alert, crit or sanitizer lines in the log"
grep -qF "$BP_REDIS_PASS" "$log" && bp_fail "the password is in the log"
echo "ok: confinement end to end"
