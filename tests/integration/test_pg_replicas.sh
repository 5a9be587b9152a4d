#!/usr/bin/env bash
# test_pg_replicas.sh: two `cmon server` replicas on one PostgreSQL database
# (a private PostgreSQL 15 cluster this test starts).  Three agents -- curl
# loops speaking the agent protocol (POST /api/v1/agent/results), each
# failing over to the other replica when one does not answer -- send batches
# while the leader (the replica holding the advisory lock that runs the
# background jobs) is killed with kill -9.  Checks: any request works on any
# replica; exactly one leader; the survivor takes over; states keep
# updating; roll-ups keep running; every batch is stored once (none lost,
# none duplicated).  Servers listen on 127.0.0.1 only; PostgreSQL on a unix
# socket only.
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
for k in 1 2 3; do
    declare "AGENT$k=$(mint agent "agent-$k")" || fail "token create agent-$k"
done

# start_replica NAME [PORT [URL]]: on the first free port from PORT up; sets PORT_NAME, PID_NAME
start_replica() {
    local name=$1 port=${2:-18600} url=${3:-$PG_URL}
    for _ in $(seq 30); do
        "$CMON" server --listen "127.0.0.1:$port" --store "$url" \
            >"$TMP/server-$name.out" 2>"$TMP/server-$name.err" &
        local pid=$!
        for _ in $(seq 100); do
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
for _ in $(seq 100); do [ "$(leaders)" -ge 1 ] && break; sleep 0.1; done
sleep 6 # one evaluation period more: the other replica has tried by now
[ "$(leaders)" -eq 1 ] || fail "want exactly one leader, have $(leaders)"
if grep -q "leader: running" "$TMP/server-a.err"; then LEAD=a; OTHER=b; else LEAD=b; OTHER=a; fi
grep -q "standby: not the leader" "$TMP/server-$OTHER.err" || fail "$OTHER does not say it stands by"
pass "one leader ($LEAD), one standby ($OTHER)"

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
