#!/usr/bin/env bash
# test_agent_delivery.sh: an agent's batches always get through, exactly once.
# 1. The 413 batch: agent-a runs 40 TCP tests (30 s) and batches 20 s of
#    rounds; the server is killed until a spooled batch is larger than 4 KiB,
#    then restarted with --max-body 4096.  The too-large batches are split
#    (413) down to what fits, every later batch waits for nothing, the agent
#    learns the limit, and every round is stored once: per test, consecutive
#    rounds are one period apart with no gap and no repeat.
# 2. The lost spool: agent-a is killed, its spool directory deleted (its
#    token kept) and restarted: its batch numbers start again at 1, and every
#    round of the batches the server acks after the restart is stored (none
#    discarded as a duplicate of the old spool's numbers), none twice.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cmd
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
fail() {
    echo "FAIL: $*" >&2
    echo "--- agent log:" >&2; grep -v 'msg="batch \(spooled\|acked\)"' "$NS_TMP/agent-a.log" | tail -15 >&2
    echo "--- server log:" >&2; tail -5 "$NS_TMP/server.log" >&2
    exit 1
}
agents_require
agents_topology
agents_bootstrap

# 40 TCP tests from agent-a to dst and srv, no traceroute (paths are covered by the
# unit tests of batch cutting)
agents_many_tcp

agent_start a --batch-ms 20000
all_results() {
    [ "$(api GET '/api/v1/tests?monitor=many&limit=1000')" = 200 ] &&
        [ "$(jqb '[.items[] | select(.lastResultAt != null)] | length')" = 40 ]
}
wait_for 90 "results for all 40 tests" all_results

kill -9 "$SERVER_PID"
DOWN=$(date +%s%N)
N0=$(wc -l <"$NS_TMP/agent-a.log")
big_spooled() { # since the server went down: 24 TCP rounds are over 4 KiB
    tail -n +"$((N0 + 1))" "$NS_TMP/agent-a.log" |
        awk '/msg="batch spooled"/ { for (i = 1; i <= NF; i++) if ($i ~ /^results=/ && substr($i, 9) + 0 >= 24) found = 1 }
             END { exit !found }'
}
wait_for 60 "a spooled batch larger than 4 KiB" big_spooled
server_start --max-body 4096
UP=$(date +%s%N)
split_seen() { grep -q 'msg="batch refused whole; split in halves"' "$NS_TMP/agent-a.log"; }
wait_for 30 "the agent splits a batch the server refused (413)" split_seen
grep 'msg="batch refused whole; split in halves"' "$NS_TMP/agent-a.log" | head -2
caught_up() {
    [ "$(api POST /api/v1/query "{\"sql\":\"SELECT count(*) FROM (SELECT test_id FROM results GROUP BY test_id HAVING max(start_ns) > $UP)\"}")" = 200 ] &&
        [ "$(jqb '.rows[0][0]')" = 40 ]
}
wait_for 60 "rounds after the restart for all 40 tests" caught_up
learned() { grep -q 'msg="server batch limit" max_batch_bytes=4096' "$NS_TMP/agent-a.log"; }
wait_for 20 "the agent learns the server's limit" learned
drained() {
    [ "$(api GET /api/v1/agents)" = 200 ] && [ "$(jqb '.items[0].spool.pendingBatches')" = 0 ]
}
wait_for 30 "the spool drains" drained
! grep -q 'msg="the server refused a round; dropping it"' "$NS_TMP/agent-a.log" ||
    fail "a round was dropped: $(grep 'dropping it' "$NS_TMP/agent-a.log" | head -2)"

# exactly once across the outage: rounds one period apart, none repeated
check_rounds() { # FROM_NS TO_NS: rounds of each test in [FROM, TO] spaced 30 s
    [ "$(api POST /api/v1/query "{\"sql\":\"SELECT test_id, start_ns FROM results WHERE start_ns BETWEEN $1 AND $2 ORDER BY test_id, start_ns\",\"maxRows\":10000}")" = 200 ] ||
        fail "query: $(cat "$NS_TMP/body")"
    jq -r '.rows[] | "\(.[0]) \(.[1])"' "$NS_TMP/body" >"$NS_TMP/rounds"
    awk '
        $1 != id { id = $1; n = 0; tests++ }
        { if (n > 0) { d = $2 - prev; if (d < 29.5e9 || d > 30.5e9) { printf "test %s: rounds %.3f s apart\n", id, d / 1e9; bad = 1 } }
          prev = $2; n++; total++ }
        END { printf "%d tests, %d rounds\n", tests, total; exit bad || tests != 40 }
    ' "$NS_TMP/rounds"
}
check_rounds 0 "$(date +%s%N)" || fail "stored rounds are not exactly once per period"
in_outage=$(awk -v down="$DOWN" -v up="$UP" '$2 > down && $2 < up' "$NS_TMP/rounds" | wc -l)
[ "$in_outage" -ge 1 ] || fail "only $in_outage rounds from the outage were stored"
echo "ok: 413 batches split, every round stored exactly once ($in_outage from the outage)"

# 2. the lost spool
kill -9 "$AGENT_PID_a"
wait "$AGENT_PID_a" 2>/dev/null || true
rm -rf "$NS_TMP/state-a/spool"
[ -s "$NS_TMP/state-a/agent.json" ] || fail "the agent's token is not kept in agent.json"
OLD_SEQ=$(grep -o 'msg="batch acked" seq=[0-9]*' "$NS_TMP/agent-a.log" | tail -1 | grep -o '[0-9]*$')
[ "${OLD_SEQ:-0}" -ge 3 ] || fail "the first spool acked only ${OLD_SEQ:-0} batches"
mv "$NS_TMP/agent-a.log" "$NS_TMP/agent-a.before.log"
RESTART=$(date +%s%N)
agent_start a --batch-ms 20000
acked_new() { [ "$(grep -c 'msg="batch acked" seq=[0-9]* duplicate=false' "$NS_TMP/agent-a.log")" -ge 3 ]; }
wait_for 90 "three batches acked after the restart" acked_new
kill -TERM "$AGENT_PID_a"
wait "$AGENT_PID_a" 2>/dev/null || true
grep -q 'msg="batch spooled" seq=1 ' "$NS_TMP/agent-a.log" || fail "the new spool did not start at 1"
! grep -q 'duplicate=true' "$NS_TMP/agent-a.log" ||
    fail "batches of the new spool were taken as duplicates: $(grep -c duplicate=true "$NS_TMP/agent-a.log")"
# rounds in the batches acked after the restart, from the agent's own log
sent=$(acked_rounds "$NS_TMP/agent-a.log")
[ "$(api POST /api/v1/query "{\"sql\":\"SELECT count(*), count(DISTINCT test_id || start_ns) FROM results WHERE start_ns > $RESTART\"}")" = 200 ] ||
    fail "query: $(cat "$NS_TMP/body")"
stored=$(jqb '.rows[0][0]'); distinct=$(jqb '.rows[0][1]')
echo "after the restart: $sent rounds in acked batches, $stored stored ($distinct distinct)"
[ "$sent" -gt 0 ] && [ "$stored" -ge "$sent" ] || fail "rounds lost: $sent acked, $stored stored"
[ "$stored" = "$distinct" ] || fail "rounds stored twice"
check_rounds "$RESTART" "$(date +%s%N)" >/dev/null || fail "rounds after the restart are not one period apart"
echo "ok: a lost spool starts a new sequence: nothing lost, nothing twice"
