#!/usr/bin/env bash
# test_write_suspend.sh: no HTTP thread waits for the writer (server_internal.h:
# a write suspends its connection until the writer answers).  A real
# `cmon server` with two HTTP threads; an sqlite3 process holds the
# database's write lock, so the writer blocks in its first transaction and
# every result POST behind it stays pending.  With 20 of them pending
# (the server's cmon_http_writes_waiting says so), a dashboard GET still
# answers, and does so before any of the writes could complete (the lock is
# still held: ordering, not time).  One more sender gives up while its write is pending (the
# client is gone before the answer); after the lock goes, every batch is
# acked, the gone sender's batch sent again (the agent's retry) is stored
# exactly once, and the server stays healthy and stops cleanly (the ASan
# build checks it for leaks and use-after-free).
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 13) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init suspend curl jq sqlite3
. "$SRC/tests/integration/lib/writelock.sh"

DB="$TMP/data/cmon.db"
STORE="sqlite:$DB"
ADMIN=$("$CMON" token create --role admin --name root --store "$STORE")
KEY=$("$CMON" token create --role agent --store "$STORE")
start_server --http-threads 2

one_agent_test held "$ADMIN" "$KEY"

N=20
T0=$(($(date +%s) * 1000000000))
for seq in $(seq 1 $((N + 1))); do
    printf '{"batch":%d,"spoolId":"00000000000000b2","results":[{"testId":"%s","startNs":%d,"checksTotal":10,"checksFailed":0,"rtt":{"min":1,"avg":2,"max":3,"jitter":0},"diagnostic":"","detail":""}]}' \
        "$seq" "$TEST" $((T0 - seq * 1000000)) >"$TMP/b$seq"
done
post() { # seq [curl args] -> the status; the body in $TMP/r$seq, headers in $TMP/h$seq
    local seq=$1
    shift
    curl -s -o "$TMP/r$seq" -D "$TMP/h$seq" -w '%{http_code}' "$@" \
        -H "Authorization: Bearer $TA" -H 'Content-Type: application/json' \
        --data-binary @"$TMP/b$seq" "$B/api/v1/agent/results"
}
# as the agent: again after Retry-After on 503 overloaded, until acked
send() {
    local seq=$1 code
    for _ in $(seq 100); do
        code=$(post "$seq" -m 60)
        [ "$code" = 200 ] && return 0
        [ "$code" = 503 ] || { echo "batch $seq: status $code: $(cat "$TMP/r$seq")"; return 1; }
        grep -qi '^retry-after:' "$TMP/h$seq" || { echo "batch $seq: 503 without Retry-After"; return 1; }
        sleep 1
    done
    echo "batch $seq: never acked"
    return 1
}
writelock_take "$DB"

pids=()
for seq in $(seq 1 $N); do
    (trap - EXIT; send "$seq" >"$TMP/send$seq.log" 2>&1; echo $? >"$TMP/done$seq") &
    pids+=($!)
done
# the writer is stuck behind the lock with the first batches, the others
# wait in its queue: N writes pending on 2 HTTP threads
wait_pending $N
# one more sender goes away while its write is pending
gone_seq=$((N + 1))
# (a background job runs in a subshell that would run api.sh's EXIT trap
# when killed: curl replaces it)
(trap - EXIT; exec curl -s -o /dev/null -m 60 -H "Authorization: Bearer $TA" \
    -H 'Content-Type: application/json' --data-binary @"$TMP/b$gone_seq" \
    "$B/api/v1/agent/results") &
gone=$!
wait_pending $((N + 1))
kill "$gone"
wait "$gone" 2>/dev/null || true

code=$(curl -s -o "$TMP/body" -w '%{http_code}' -m 30 -H "Authorization: Bearer $ADMIN" \
    "$B/api/v1/tests?limit=100")
acked=$(cat "$TMP"/r* 2>/dev/null | grep -c '"acked"' || true)
[ "$code" = 200 ] || fail "GET /api/v1/tests with $((N + 1)) writes pending: status $code"
[ "$acked" = 0 ] || fail "$acked batches acked while the write lock was held"
pass "a dashboard GET answered with $((N + 1)) result POSTs pending on 2 HTTP threads, before any was acked"

writelock_release
for p in "${pids[@]}"; do
    wait "$p" || true
done
for s in $(seq 1 $N); do
    [ "$(cat "$TMP/done$s")" = 0 ] || fail "batch $s: $(cat "$TMP/send$s.log")"
done
pass "all $N batches acked once the lock was released"

seq=$gone_seq
send $seq || fail "the retry of the abandoned batch: $(cat "$TMP/r$seq")"
stored() {
    req 200 POST /api/v1/query "{\"sql\":\"SELECT count(*), count(DISTINCT start_ns) FROM results WHERE test_id = '$TEST'\"}" "$ADMIN"
    jq -c '.rows[0]' "$TMP/body"
}
want=$((N + 1))
[ "$(stored)" = "[$want,$want]" ] || fail "stored $(stored), want [$want,$want]"
pass "the abandoned batch, sent again, is stored exactly once ($(jq -c .duplicate "$TMP/r$seq") duplicate)"

writelock_server_stops_clean
