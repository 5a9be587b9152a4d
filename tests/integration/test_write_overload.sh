#!/usr/bin/env bash
# test_write_overload.sh: the one writer's bounded queue (docs/architecture.md)
# -- a real `cmon server` on 127.0.0.1 whose write queue holds one result
# (--write-queue 1) takes bursts of result batches from parallel senders that
# retry as `cmon agent` does: a 503 overloaded with Retry-After, then the same
# batch again.  Bursts repeat until 503s were seen; then every result is
# stored exactly once, a batch sent again is acked as a duplicate, the
# dashboard's API answered while the writer was busy, and /metrics counts
# the refusals.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 11) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init overload curl jq

STORE="sqlite:$TMP/data/cmon.db"
ADMIN=$("$CMON" token create --role admin --name root --store "$STORE")
KEY=$("$CMON" token create --role agent --store "$STORE")
start_server --write-queue 1

one_agent_test burst "$ADMIN" "$KEY"

PER=50      # results per batch
SENDERS=24  # batches per burst, sent at once
T0=$(($(date +%s) * 1000000000))
batch() { # seq -> the batch's JSON in $TMP/b$seq (startNs unique per result)
    local seq=$1 i sep=""
    {
        printf '{"batch":%d,"spoolId":"00000000000000a1","results":[' "$seq"
        for i in $(seq 0 $((PER - 1))); do
            printf '%s{"testId":"%s","startNs":%d,"checksTotal":10,"checksFailed":0,"rtt":{"min":1,"avg":2,"max":3,"jitter":0},"diagnostic":"","detail":""}' \
                "$sep" "$TEST" $((T0 - (seq * PER + i) * 1000000))
            sep=,
        done
        printf ']}'
    } >"$TMP/b$seq"
}
# send one batch until it is acked, as the agent does: on 503 the reply must
# say overloaded with Retry-After, and the batch goes again after that wait
send() {
    local seq=$1 n code wait
    for n in $(seq 200); do
        code=$(curl -s -o "$TMP/r$seq" -D "$TMP/h$seq" -w '%{http_code}' -m 30 \
            -H "Authorization: Bearer $TA" -H 'Content-Type: application/json' \
            --data-binary @"$TMP/b$seq" "$B/api/v1/agent/results")
        case $code in
        200) return 0 ;;
        503)
            grep -q '"overloaded"' "$TMP/r$seq" || { echo "503 without overloaded: $(cat "$TMP/r$seq")"; return 1; }
            wait=$(tr -d '\r' <"$TMP/h$seq" | awk 'tolower($1) == "retry-after:" { print $2 }')
            [ -n "$wait" ] || { echo "503 without Retry-After"; return 1; }
            echo 503 >>"$TMP/refused"
            sleep "$wait" ;;
        *) echo "batch $seq: status $code: $(cat "$TMP/r$seq")"; return 1 ;;
        esac
    done
    echo "batch $seq: never acked"; return 1
}

: >"$TMP/refused"
seq_next=1 bursts=0 reads=0
while [ ! -s "$TMP/refused" ] && [ "$bursts" -lt 20 ]; do
    pids=()
    for _ in $(seq $SENDERS); do
        batch $seq_next
        send $seq_next >"$TMP/send$seq_next.log" 2>&1 &
        pids+=($!)
        seq_next=$((seq_next + 1))
    done
    # the dashboard reads on its own connections while the writer is busy
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H "Authorization: Bearer $ADMIN" \
        "$B/api/v1/tests?limit=100")
    [ "$code" = 200 ] || fail "GET /api/v1/tests during a burst: $code"
    reads=$((reads + 1))
    for p in "${pids[@]}"; do
        wait "$p" || { cat "$TMP"/send*.log >&2; fail "a sender gave up"; }
    done
    bursts=$((bursts + 1))
done
refused=$(wc -l <"$TMP/refused")
[ "$refused" -gt 0 ] || fail "no 503 in $bursts bursts of $SENDERS batches into a one-result queue"
sent=$(((seq_next - 1) * PER))
pass "$bursts burst(s) of $SENDERS batches x $PER results: $refused answers 503 overloaded with Retry-After, retried until acked; $reads dashboard reads answered meanwhile"

stored() {
    req 200 POST /api/v1/query "{\"sql\":\"SELECT count(*), count(DISTINCT start_ns) FROM results WHERE test_id = '$TEST'\"}" "$ADMIN"
    jq -c '.rows[0]' "$TMP/body"
}
[ "$(stored)" = "[$sent,$sent]" ] || fail "stored $(stored), want [$sent,$sent] (every result once)"
pass "all $sent results stored exactly once"

req 200 POST /api/v1/agent/results @"$TMP/b1" "$TA"
jqeq '.duplicate' true
[ "$(stored)" = "[$sent,$sent]" ] || fail "a re-sent batch was stored again: $(stored)"
pass "a batch sent again is acked as a duplicate and not stored twice"

m=$(curl -s -H "Authorization: Bearer $ADMIN" "$B/metrics" | awk '$1 == "cmon_write_overloaded_total" { print $2 }')
[ -n "$m" ] && [ "$m" -ge "$refused" ] || fail "cmon_write_overloaded_total $m, want >= $refused"
pass "cmon_write_overloaded_total counts the refusals ($m)"
