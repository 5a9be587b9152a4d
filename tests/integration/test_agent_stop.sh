#!/usr/bin/env bash
# test_agent_stop.sh: agents that stop.  (1) kill -9 agent-c: within 3
# heartbeats (+ one evaluation) its 4 tests are Indeterminate with reason
# agent_stopped and the agent list says "stopped"; restarted, its tests come
# back to Pass.  (2) kill -9 agent-a mid-batch -- the server is frozen
# (SIGSTOP) so a spooled batch is in flight -- then restart both: every batch
# the agent spooled is stored exactly once (results rows == results spooled,
# no (test, start time) twice).
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cmg
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
agents_require
agents_topology
agents_bootstrap
agent_start a; agent_start b; agent_start c
all_pass() { [ "$(tests_table | grep -c ' Pass  true$')" = 12 ]; }
wait_for 100 "12 tests Pass" all_pass
echo "ok: 12 tests Pass"

# (1) agent-c stops
kill -9 "$AGENT_PID_c"
KILLED=$(date +%s)
c_stopped() {
    [ "$(api GET '/api/v1/tests?q=agent-c&scope=sources')" = 200 ] || return 1
    [ "$(jqb '[.items[] | select(.state == "Indeterminate" and (.reason | startswith("agent_stopped")))] | length')" = 4 ]
}
wait_for 50 "agent-c's tests Indeterminate (agent_stopped)" c_stopped
took=$(($(date +%s) - KILLED))
# 3 heartbeats of 10 s after the last contact, found by the next evaluation (5 s),
# plus this loop's 1 s polling and slack for a loaded machine
[ $took -le 40 ] || fail "agent_stopped after ${took}s, want <= 3 heartbeats + one evaluation"
[ "$(api GET /api/v1/agents)" = 200 ] || fail "agents"
assert_eq "$(jqb '[.items[] | [.name, .state]]')" \
    '[["agent-a","running"],["agent-b","running"],["agent-c","stopped"]]' "agent states"
assert_eq "$(tests_table | grep -c ' Pass  true$')" 8 "the other agents' tests still Pass"
echo "ok: agent-c stopped -> its tests Indeterminate (agent_stopped) after ${took}s"
agent_start c
wait_for 60 "agent-c's tests back to Pass" all_pass
echo "ok: agent-c back, its tests Pass"

# (2) kill -9 agent-a while a batch is in flight
kill -STOP "$SERVER_PID"
n0=$(grep -c 'msg="batch spooled"' "$NS_TMP/agent-a.log" || true)
spooled_more() { [ "$(grep -c 'msg="batch spooled"' "$NS_TMP/agent-a.log")" -gt "$n0" ]; }
wait_for 40 "agent-a spools a batch while the server is frozen" spooled_more
sleep 0.5   # the POST of that batch is under way
kill -9 "$AGENT_PID_a"
kill -CONT "$SERVER_PID"
agent_start a
last_seq=$(grep -o 'msg="batch spooled" seq=[0-9]*' "$NS_TMP/agent-a.log" | tail -1 | grep -o '[0-9]*$')
acked_last() { grep -q "msg=\"batch acked\" seq=$last_seq " "$NS_TMP/agent-a.log"; }
wait_for 30 "agent-a's spooled batch $last_seq acked after the restart" acked_last
grep -q 'msg="spool opened".*pending_batches=[1-9]' "$NS_TMP/agent-a.log" ||
    fail "the restarted agent found nothing to replay"
# Stop agent-a cleanly (it spools what is pending and sends nothing more after
# the stop), then compare what it spooled with what the server stored.
kill -STOP "$SERVER_PID"; sleep 1.5; kill "$AGENT_PID_a"; wait "$AGENT_PID_a" 2>/dev/null || true
kill -CONT "$SERVER_PID"
agent_start a
final_seq=$(grep -o 'msg="batch spooled" seq=[0-9]*' "$NS_TMP/agent-a.log" | tail -1 | grep -o '[0-9]*$')
acked_final() { grep -q "msg=\"batch acked\" seq=$final_seq " "$NS_TMP/agent-a.log"; }
wait_for 30 "agent-a's last batch $final_seq acked" acked_final
kill "$AGENT_PID_a"; wait "$AGENT_PID_a" 2>/dev/null || true
spooled=$(grep -o 'msg="batch spooled" seq=[0-9]* results=[0-9]*' "$NS_TMP/agent-a.log" |
          sort -u | awk -F'results=' '{s += $2} END {print s}')
[ "$(api POST /api/v1/query '{"sql":"SELECT count(*), count(DISTINCT test_id || start_ns) FROM results WHERE agent = '"'agent-a'"'"}')" = 200 ] ||
    fail "query: $(cat "$NS_TMP/body")"
assert_eq "$(jqb '.rows[0]')" "[$spooled,$spooled]" "agent-a rows (all, distinct) vs results spooled"
grep -q 'duplicate=true' "$NS_TMP/agent-a.log" &&
    echo "ok: (the frozen server had stored the in-flight batch; the replay was acked as a duplicate)"
echo "ok: kill -9 mid-batch: $spooled results spooled, $spooled stored, none twice"
