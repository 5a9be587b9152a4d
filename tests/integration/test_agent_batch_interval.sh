#!/usr/bin/env bash
# test_agent_batch_interval.sh: a server tells its agents how long to gather
# rounds into one result batch (batchIntervalMs: --agent-batch-ms, default
# 1000), and a `cmon agent` whose own
# --batch-ms is shorter follows it.  The server runs with --agent-batch-ms
# 10000; agent-a (default --batch-ms 1000) runs 40 TCP tests every 30 s, about
# 1.3 rounds a second: its batches then carry many rounds each (13 expected;
# with 1-s batches 1-2), and every round still arrives exactly once.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cbi
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
fail() {
    echo "FAIL: $*" >&2
    echo "--- agent log:" >&2; grep -v 'msg="batch acked"' "$NS_TMP/agent-a.log" | tail -15 >&2
    echo "--- server log:" >&2; tail -5 "$NS_TMP/server.log" >&2
    exit 1
}
agents_require
agents_topology
agents_bootstrap --agent-batch-ms 10000

# the answers say it (test_agent_trust: 1000 without the option)
[ "$(api POST /api/v1/agents/register '{"name":"probe-only"}' "$KEY")" = 201 ] || fail "register"
[ "$(jqb .batchIntervalMs)" = 10000 ] || fail "register answer: $(cat "$NS_TMP/body")"
TOKEN=$(jq -r .token "$NS_TMP/body")
[ "$(api POST /api/v1/agent/heartbeat '{}' "$TOKEN")" = 200 ] || fail "heartbeat"
[ "$(jqb .batchIntervalMs)" = 10000 ] || fail "heartbeat answer: $(cat "$NS_TMP/body")"
[ "$(api DELETE /api/v1/agents/probe-only)" = 204 ] || fail "delete probe-only: $(cat "$NS_TMP/body")"

agents_many_tcp

START=$(date +%s%N)
agent_start a
learned() { grep -q 'msg="server batch interval" batch_ms=10000 own_batch_ms=1000' "$NS_TMP/agent-a.log"; }
wait_for 30 "the agent takes the server's interval" learned
# the batches spooled once the 40 tests run: the third and later (the first
# ones hold the tests' first rounds as they start up)
sizes() {
    awk '/msg="batch spooled"/ { for (i = 1; i <= NF; i++) if ($i ~ /^results=/) print substr($i, 9) }' \
        "$NS_TMP/agent-a.log" | tail -n +3
}
three() { [ "$(sizes | wc -l)" -ge 3 ]; }
wait_for 120 "three batches after the start-up" three
echo "rounds per batch after the start-up: $(sizes | tr '\n' ' ')"
small=$(sizes | awk '$1 < 7' | wc -l)
[ "$small" = 0 ] || fail "batches of fewer than 7 rounds: $(sizes | tr '\n' ' ')"

# every round spooled and acked is stored once
drained() { [ "$(api GET /api/v1/agents)" = 200 ] && [ "$(jqb '.items[] | select(.name == "agent-a") | .spool.pendingBatches')" = 0 ]; }
wait_for 60 "the spool drains" drained
kill -TERM "$AGENT_PID_a"
wait "$AGENT_PID_a" 2>/dev/null || true
sent=$(acked_rounds "$NS_TMP/agent-a.log")
[ "$(api POST /api/v1/query "{\"sql\":\"SELECT count(*), count(DISTINCT test_id || start_ns) FROM results WHERE start_ns > $START\"}")" = 200 ] ||
    fail "query: $(cat "$NS_TMP/body")"
stored=$(jqb '.rows[0][0]'); distinct=$(jqb '.rows[0][1]')
[ "$sent" -gt 0 ] && [ "$stored" = "$sent" ] && [ "$stored" = "$distinct" ] ||
    fail "acked $sent rounds, stored $stored ($distinct distinct)"
echo "ok: the agent batched by the server's 10 s ($sent rounds acked, each stored once)"
