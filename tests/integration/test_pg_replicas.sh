#!/usr/bin/env bash
# test_pg_replicas.sh: two `cmon server` replicas on one PostgreSQL database
# (a private PostgreSQL 15 cluster this test starts).  Three agents -- curl
# loops speaking the agent protocol (POST /api/v1/agent/results), each
# failing over to the other replica when one does not answer -- send batches
# while the leader (the replica holding the advisory lock that runs the
# background jobs) is killed with kill -9.  Checks: any request works on any
# replica; exactly one leader; the survivor takes over; states keep
# updating; alerts keep updating (a rule stored before the kill fires on the
# failing rounds, evaluated by the new leader); roll-ups keep running; every
# batch is stored once (none lost, none duplicated).  The agents register
# through either replica with a workspace key; /api/v1/agents lists all three
# on both; action groups written on one replica are read on the other; a
# one-off write waits while another session holds the writes' lock.
# Servers listen on 127.0.0.1 only; PostgreSQL on a unix socket only.
set -u
: "${CMON:?set CMON to the cmon binary}"
: "${CMON_SOURCE_DIR:?}"
. "$CMON_SOURCE_DIR/tests/integration/lib/pg.sh"
TMP=$(mktemp -d /tmp/cmon-replicas-XXXXXX)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/server-*.err; do echo "--- $f" >&2; tail -15 "$f" >&2; done
    exit 1
}
pass() { echo "ok: $*"; }

pg_start || exit $?
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }

mint() { "$CMON" token create --store "$PG_URL" --role "$1" ${2:+--name "$2"} 2>/dev/null; }
ADMIN=$(mint admin) || fail "token create admin"
KEY=$(mint agent) || fail "token create workspace key"

# start_replica NAME [PORT [URL]]: on the first free port from PORT up; sets PORT_NAME, PID_NAME
start_replica() {
    local name=$1 port=${2:-$((20000 + ($$ * 3) % 20000))} url=${3:-$PG_URL}
    for _ in $(seq 30); do
        "$CMON" server --listen "127.0.0.1:$port" --store "$url" \
            >"$TMP/server-$name.out" 2>"$TMP/server-$name.err" &
        local pid=$!
        for _ in $(seq 100); do
            # our own banner first: a healthz answer alone could come from
            # another test's server that holds the port
            grep -q "serving " "$TMP/server-$name.out" 2>/dev/null &&
                curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && {
                PIDS+=("$pid"); declare -g "PORT_$name=$port" "PID_$name=$pid"; return 0; }
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        wait "$pid" 2>/dev/null
        grep -q "Address already in use\|cannot listen" "$TMP/server-$name.err" ||
            fail "replica $name did not start"
        port=$((port + 1))
    done
    fail "no free port"
}
start_replica a
# b's URL carries a password (trust auth ignores it): logs must not show it
start_replica b $((PORT_a + 1)) "postgresql://cmon:s3cret@/cmon?host=$PG_DIR"
grep -q 's3cret' "$TMP"/server-b.* && fail "the store password appears in b's output"
grep -q 'postgresql://cmon:\*\*\*@/cmon' "$TMP/server-b.err" || fail "b does not log the redacted URL"
URL_a=http://127.0.0.1:$PORT_a
URL_b=http://127.0.0.1:$PORT_b

leaders() { grep -l "leader: running background jobs" "$TMP"/server-*.err 2>/dev/null | wc -l; }
# each replica logs its first leader check, whichever way it went
decided() {
    grep -qE "leader: running background jobs|standby: not the leader" "$TMP/server-a.err" &&
        grep -qE "leader: running background jobs|standby: not the leader" "$TMP/server-b.err"
}
for _ in $(seq 600); do decided && break; sleep 0.1; done
decided || fail "a replica never logged its leader check"
[ "$(leaders)" -eq 1 ] || fail "want exactly one leader, have $(leaders)"
if grep -q "leader: running" "$TMP/server-a.err"; then LEAD=a; OTHER=b; else LEAD=b; OTHER=a; fi
grep -q "standby: not the leader" "$TMP/server-$OTHER.err" || fail "$OTHER does not say it stands by"
pass "one leader ($LEAD), one standby ($OTHER)"

# ---- agents register through either replica (agent-2 on b, the others on a) ----
for k in 1 2 3; do
    u=$URL_a; [ "$k" = 2 ] && u=$URL_b
    code=$(curl -s -o "$TMP/reg-$k.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"name\":\"agent-$k\",\"version\":\"test\",\"heartbeatSec\":60}" \
        "$u/api/v1/agents/register")
    [ "$code" = 201 ] || fail "register agent-$k: $code $(cat "$TMP/reg-$k.json")"
    declare "AGENT$k=$(jq -r .token "$TMP/reg-$k.json")"
done
for u in "$URL_a" "$URL_b"; do
    curl -sf -H "Authorization: Bearer $ADMIN" "$u/api/v1/agents" >"$TMP/agents.json" || fail "GET agents on $u"
    [ "$(jq -c '[.items[] | [.name, .state]]' "$TMP/agents.json")" = \
        '[["agent-1","running"],["agent-2","running"],["agent-3","running"]]' ] ||
        fail "agents on $u: $(cat "$TMP/agents.json")"
done
# registering agent-1 again (on b) revokes the token a handed out: one valid token each
code=$(curl -s -o "$TMP/reg-1b.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' --data-binary '{"name":"agent-1","heartbeatSec":60}' \
    "$URL_b/api/v1/agents/register")
[ "$code" = 201 ] || fail "re-register agent-1 on b: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $AGENT1" \
    -H 'Content-Type: application/json' --data-binary '{}' "$URL_a/api/v1/agent/heartbeat")
[ "$code" = 401 ] || [ "$code" = 403 ] || fail "agent-1's revoked token still works on a: $code"
AGENT1=$(jq -r .token "$TMP/reg-1b.json")
[ "$(pg_psql -c "SELECT string_agg(name, ',' ORDER BY name) FROM tokens WHERE role = 'agent' AND name <> ''")" = \
    agent-1,agent-2,agent-3 ] || fail "agent tokens: $(pg_psql -c "SELECT name FROM tokens WHERE role = 'agent'")"
pass "three agents registered through both replicas, listed on both, one valid token each"

# ---- any request on any replica ----
cat >"$TMP/mon.json" <<'JSON'
{"properties": {
  "endpoints": [
    {"name": "agent-1", "type": "Agent", "address": "agent-1"},
    {"name": "agent-2", "type": "Agent", "address": "agent-2"},
    {"name": "agent-3", "type": "Agent", "address": "agent-3"},
    {"name": "db", "type": "ExternalAddress", "address": "127.0.0.1"}],
  "testConfigurations": [{"name": "tcp", "protocol": "Tcp", "testFrequencySec": 30,
    "tcpConfiguration": {"port": 9}, "successThreshold": {"checksFailedPercent": 10}}],
  "testGroups": [{"name": "tg", "sources": ["agent-1", "agent-2", "agent-3"],
    "destinations": ["db"], "testConfigurations": ["tcp"]}]}}
JSON
code=$(curl -s -o "$TMP/put.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' --data-binary "@$TMP/mon.json" \
    "$URL_a/api/v1/connectionMonitors/replicated")
[ "$code" = 200 ] || [ "$code" = 201 ] || fail "PUT monitor on a: $code $(cat "$TMP/put.json")"
curl -sf -H "Authorization: Bearer $ADMIN" "$URL_b/api/v1/tests?monitor=replicated" \
    >"$TMP/tests.json" || fail "GET tests on b"
[ "$(jq '.items | length' "$TMP/tests.json")" = 3 ] || fail "b sees $(cat "$TMP/tests.json")"
for k in 1 2 3; do
    declare "TEST$k=$(jq -r ".items[] | select(.source == \"agent-$k\") | .id" "$TMP/tests.json")"
done
pass "a monitor written on a is read on b"

# an action group written on b is read on a; a rule written on a before the
# kill (ChecksFailedPercent > 40 over 5 min per destination) stays quiet
# while every round passes
code=$(curl -s -o "$TMP/ag.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' \
    --data-binary '{"name":"ops","webhooks":[{"url":"http://127.0.0.1:9/hook","secret":"x"}]}' \
    "$URL_b/api/v1/actionGroups/ops")
[ "$code" = 201 ] || fail "PUT action group on b: $code $(cat "$TMP/ag.json")"
curl -sf -H "Authorization: Bearer $ADMIN" "$URL_a/api/v1/actionGroups" >"$TMP/ags.json" || fail "GET action groups on a"
[ "$(jq -r '[.items[].name] | join(",")' "$TMP/ags.json")" = ops ] || fail "action groups on a: $(cat "$TMP/ags.json")"
code=$(curl -s -o "$TMP/rule.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' \
    --data-binary '{"name":"loss","metric":"ChecksFailedPercent","operator":"GreaterThan","threshold":40,"windowSizeSec":300,"evaluationFrequencySec":10,"dimensions":{"monitor":"replicated","destination":"*"}}' \
    "$URL_a/api/v1/alertRules/loss")
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "PUT alert rule on a: $code $(cat "$TMP/rule.json")"
pass "action group written on b read on a; alert rule stored"

# one-off writes check and then write in steps (a deleted action group is
# unused, a rule's groups exist, the monitor limit): each replica runs them
# under one lock, so another replica's write cannot fall between the steps.
# A session holding that lock (pg_advisory_lock('cmon', 5)) holds a's write.
lock_rows() { pg_psql -c "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1668116334 AND objid = 5 AND objsubid = 2" | tr '|' ' '; }
psql -X -q -h "$PG_DIR" -U cmon -d cmon -c "SELECT pg_advisory_lock(1668116334, 5)" \
    -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
HOLDER=$!
PIDS+=("$HOLDER")
for _ in $(seq 300); do [ "$(lock_rows)" = "1 0" ] && break; sleep 0.1; done
[ "$(lock_rows)" = "1 0" ] || fail "the holding session did not take the lock: $(lock_rows)"
curl -s -o "$TMP/ag2.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' --data-binary '{"name":"ops2","webhooks":[{"url":"http://127.0.0.1:9/hook","secret":"x"}]}' \
    "$URL_a/api/v1/actionGroups/ops2" >"$TMP/ag2.code" &
PUTTER=$!
for _ in $(seq 300); do [ "$(lock_rows)" = "1 1" ] && break; sleep 0.1; done
[ "$(lock_rows)" = "1 1" ] || fail "a's write did not wait for the lock: $(lock_rows), $(cat "$TMP/ag2.code")"
kill -0 "$PUTTER" 2>/dev/null || fail "a answered while the lock was held: $(cat "$TMP/ag2.code")"
[ "$(pg_psql -c "SELECT count(*) FROM action_groups WHERE name = 'ops2'")" = 0 ] ||
    fail "a wrote while the lock was held"
pg_psql -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1668116334 AND objid = 5 AND granted" >/dev/null
wait "$PUTTER"
[ "$(cat "$TMP/ag2.code")" = 201 ] || fail "a's write after the lock: $(cat "$TMP/ag2.code") $(cat "$TMP/ag2.json")"
wait "$HOLDER" 2>/dev/null
[ "$(lock_rows)" = "0 0" ] || fail "a kept the lock after its write: $(lock_rows)"
pass "a one-off write on a waits while another session runs one, then lands"

# ---- three agents, failing over between replicas ----
# agent K SEQ_FROM SEQ_TO FAILED: one batch per SEQ with one round; the round
# starts at BASE + SEQ s so every (test, start) is unique; retried on the
# other replica until acked (exactly once is the server's job).
BASE=$(($(date -u +%s) - 45)) # rounds end before now; none is stale (2 x 30 s + 30 s)
agent() {
    local k=$1 from=$2 to=$3 failed=$4 tok test seq body code try
    tok=AGENT$k; tok=${!tok}; test=TEST$k; test=${!test}
    for seq in $(seq "$from" "$to"); do
        body=$(printf '{"batch":%d,"results":[{"testId":"%s","startTime":"%s","checksTotal":10,"checksFailed":%d,%s"diagnostic":"%s","detail":""}]}' \
            "$seq" "$test" "$(date -u -d "@$((BASE + seq))" +%Y-%m-%dT%H:%M:%SZ)" "$failed" \
            "$([ "$failed" -lt 10 ] && echo '"rtt":{"min":1,"avg":2,"max":3,"jitter":0},')" \
            "$([ "$failed" -gt 0 ] && echo connection_refused)")
        for try in $(seq 200); do
            local url=$URL_a; [ $(((seq + try + k) % 2)) = 0 ] && url=$URL_b
            code=$(curl -s -m 10 -o "$TMP/ack-$k" -w '%{http_code}' -X POST \
                -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
                --data-binary "$body" "$url/api/v1/agent/results") || code=000
            [ "$code" = 200 ] && break
            [ -n "${DEBUG:-}" ] && echo "agent-$k seq $seq: $code $(cat "$TMP/ack-$k" 2>/dev/null)" >&2
            sleep 0.1
        done
        [ "$code" = 200 ] || { echo "agent-$k: batch $seq never acked" >"$TMP/agent-$k.fail"; return 1; }
        echo "$seq $(jq -c .duplicate "$TMP/ack-$k")" >>"$TMP/agent-$k.acks"
        sleep 0.05
    done
}
AGENTS=()
for k in 1 2 3; do agent $k 1 20 0 & AGENTS+=($!); done
wait "${AGENTS[@]}"
for k in 1 2 3; do [ -f "$TMP/agent-$k.fail" ] && fail "$(cat "$TMP/agent-$k.fail")"; done
SURV=URL_$OTHER; SURV=${!SURV}
curl -sf -H "Authorization: Bearer $ADMIN" "$SURV/api/v1/tests?monitor=replicated" >"$TMP/t1.json" ||
    fail "GET tests"
[ "$(jq -c '[.items[].state] | unique' "$TMP/t1.json")" = '["Pass"]' ] || fail "phase 1 states: $(cat "$TMP/t1.json")"
pass "three agents, 60 batches through both replicas, every test Pass"
# let the leader evaluate the rule at least once on the passing rounds
sleep 11
curl -sf -H "Authorization: Bearer $ADMIN" "$URL_a/api/v1/alerts" >"$TMP/al0.json" || fail "GET alerts"
[ "$(jq '.items | length' "$TMP/al0.json")" = 0 ] || fail "alerts while every round passes: $(cat "$TMP/al0.json")"

# ---- kill -9 the leader while the agents send failing rounds ----
AGENTS=()
for k in 1 2 3; do agent $k 21 40 10 & AGENTS+=($!); done
sleep 0.5
LEAD_PID=PID_$LEAD
kill -9 "${!LEAD_PID}"
KILLED_AT=$(date +%s.%N)
wait "${AGENTS[@]}"
for k in 1 2 3; do [ -f "$TMP/agent-$k.fail" ] && fail "$(cat "$TMP/agent-$k.fail")"; done
# the standby takes the lock at its next try (every 5 s evaluation period)
for _ in $(seq 300); do grep -q "leader: running" "$TMP/server-$OTHER.err" && break; sleep 0.1; done
grep -q "leader: running" "$TMP/server-$OTHER.err" || fail "$OTHER never became the leader"
# measured from the survivor's own log stamp, not from when this script looks
# (the agents above may take a while on a loaded machine)
LEAD_TS=$(grep -m1 "leader: running" "$TMP/server-$OTHER.err" | sed -n 's/^ts=\([^ ]*\) .*/\1/p')
TOOK=$(awk -v a="$(date -d "$LEAD_TS" +%s.%N)" -v k="$KILLED_AT" 'BEGIN { printf "%d", a - k + 0.999 }')
[ "$TOOK" -le 15 ] || fail "takeover after ${TOOK}s, want within 2 evaluation periods (+5 s slack)"
pass "leader $LEAD killed (-9), $OTHER took over after ~${TOOK}s"

curl -sf -H "Authorization: Bearer $ADMIN" "$SURV/api/v1/tests?monitor=replicated" >"$TMP/t2.json" || fail "GET tests on survivor"
[ "$(jq -c '[.items[].state] | unique' "$TMP/t2.json")" = '["Fail"]' ] || fail "phase 2 states: $(cat "$TMP/t2.json")"
for k in 1 2 3; do
    t=TEST$k
    n=$(pg_psql -c "SELECT count(*) FROM state_changes WHERE test_id = '${!t}' AND from_state = 1 AND to_state = 3")
    [ "$n" = 1 ] || fail "test ${!t}: $n Pass->Fail changes, want 1"
done
pass "states kept updating: every test went Pass -> Fail once, read on the survivor"

# ---- alerts keep updating: the new leader fires the rule on the failing rounds ----
# (60 passing + 60 failing rounds in the window: 50 % > 40; the old leader,
# killed 0.5 s into the failing phase, never saw more than a few of them)
KEY_LOSS='loss{monitor="replicated",destination="db"}'
for _ in $(seq 300); do
    curl -sf -H "Authorization: Bearer $ADMIN" "$SURV/api/v1/alerts?state=firing&transitions=true" \
        >"$TMP/al1.json" 2>/dev/null && [ "$(jq '.items | length' "$TMP/al1.json")" = 1 ] && break
    sleep 0.1
done
[ "$(jq -r '.items[0].key' "$TMP/al1.json")" = "$KEY_LOSS" ] || fail "no firing alert on the survivor: $(cat "$TMP/al1.json")"
FIRED=$(date -u -d "$(jq -r '.items[0].firedAt' "$TMP/al1.json")" +%s.%N) || fail "firedAt: $(cat "$TMP/al1.json")"
AFTER=$(awk -v f="$FIRED" -v k="$KILLED_AT" 'BEGIN { printf "%d", f - k }')
awk -v f="$FIRED" -v k="$KILLED_AT" 'BEGIN { exit !(f >= k) }' ||
    fail "the alert fired at $FIRED, before the kill at $KILLED_AT"
[ "$(jq -c '[.items[0].transitions[].event]' "$TMP/al1.json")" = '["firing"]' ] ||
    fail "transitions: $(jq -c '.items[0].transitions' "$TMP/al1.json")"
jq -e '.items[0].value > 40 and .items[0].monitors == ["replicated"]' "$TMP/al1.json" >/dev/null ||
    fail "alert value/monitors: $(cat "$TMP/al1.json")"
[ "$(pg_psql -c "SELECT count(*) FROM alerts")" = 1 ] || fail "alert episodes: $(pg_psql -c "SELECT key, state FROM alerts")"
grep -h "cannot store alerts\|cannot restore alerts" "$TMP"/server-*.err && fail "a replica failed to store or restore alerts"
pass "alerts kept updating: $KEY_LOSS fired on the new leader (${AFTER} s after the kill), one episode"
curl -sf -H "Authorization: Bearer $ADMIN" "$SURV/api/v1/agents" >"$TMP/agents2.json" || fail "GET agents on survivor"
[ "$(jq -c '[.items[].name]' "$TMP/agents2.json")" = '["agent-1","agent-2","agent-3"]' ] ||
    fail "agents on the survivor: $(cat "$TMP/agents2.json")"
pass "the survivor lists all three agents"

# ---- no result lost, none duplicated ----
read -r total distinct <<<"$(pg_psql -F ' ' -c "SELECT count(*), count(DISTINCT (test_id, start_ns)) FROM results")"
[ "$total" = 120 ] && [ "$distinct" = 120 ] || fail "results: $total rows, $distinct distinct, want 120/120"
n=$(pg_psql -c "SELECT count(*) FROM agent_batches")
[ "$n" = 120 ] || fail "agent_batches: $n, want 120"
# a batch the dead leader acked, sent again to the survivor: acknowledged as a duplicate
code=$(curl -s -o "$TMP/dup.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $AGENT1" \
    -H 'Content-Type: application/json' --data-binary '{"batch":21,"results":[]}' "$SURV/api/v1/agent/results")
[ "$code" = 200 ] && [ "$(jq -c .duplicate "$TMP/dup.json")" = true ] || fail "resent batch: $code $(cat "$TMP/dup.json")"
pass "120 batches, 120 results stored once each across the kill"

# ---- background jobs run on the new leader: roll-ups drain the queue ----
for _ in $(seq 150); do
    [ "$(pg_psql -c "SELECT count(*) FROM rollup_pending")" = 0 ] && break; sleep 0.1
done
[ "$(pg_psql -c "SELECT count(*) FROM rollup_pending")" = 0 ] || fail "roll-up queue not drained"
[ "$(pg_psql -c "SELECT sum(rounds) FROM rollup_1m")" = 120 ] || fail "rollup_1m rounds $(pg_psql -c "SELECT sum(rounds) FROM rollup_1m")"
pass "the new leader rolled up all 120 rounds"
echo "PASS: replicas"
