#!/usr/bin/env bash
# test_agent_spool.sh: the agent's state directory on a tiny tmpfs (32 KiB).
# The server is killed; once the spool holds a batch the server has not
# acked, a filler file takes the rest of the disk (so the test need not wait
# minutes for rounds to fill it).  Every batch the full disk refuses is logged
# and counted (the counters reach the server with the next heartbeat and
# show in GET /api/v1/agents), and the agent keeps running.  When the server
# is back, the spool drains on the still-full disk (the ack watermark is
# written in place), which frees the spool's space, and new rounds are stored
# again with the filler still there.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cmg
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
agents_require
spool_cleanup() {
    set +e
    [ -n "${AGENT_PID_a:-}" ] && kill -9 "$AGENT_PID_a" 2>/dev/null
    umount -l "$NS_TMP/state-a" 2>/dev/null
    ns_cleanup
}
trap spool_cleanup EXIT
mkdir -p "$NS_TMP/state-a"
mount -t tmpfs -o size=32k,mode=0700 tmpfs "$NS_TMP/state-a" || skip "cannot mount a tmpfs"
agents_topology
agents_bootstrap
agent_start a
a_results() {
    [ "$(api GET '/api/v1/tests?q=agent-a&scope=sources')" = 200 ] &&
        [ "$(jqb '[.items[] | select(.lastResultAt != null)] | length')" = 4 ]
}
wait_for 60 "agent-a's 4 tests have results" a_results
# agent-b and agent-c are named by the monitor but never registered
[ "$(api GET '/api/v1/tests?q=agent-b&scope=sources')" = 200 ] || fail "tests"
assert_eq "$(jqb '[.items[] | [.state, .reason]] | unique')" '[["Indeterminate","no result yet"]]' \
    "tests of an agent that has not registered"
[ "$(api GET /api/v1/agents)" = 200 ] || fail "agents"
assert_eq "$(jqb '[.items[].name]')" '["agent-a"]' "registered agents"

kill -9 "$SERVER_PID"
n0=$(grep -c 'msg="batch spooled"' "$NS_TMP/agent-a.log" || true)
spooled_more() { [ "$(grep -c 'msg="batch spooled"' "$NS_TMP/agent-a.log")" -gt "$n0" ]; }
wait_for 40 "a batch spooled while the server is down" spooled_more
dd if=/dev/zero of="$NS_TMP/state-a/filler" bs=1k 2>/dev/null || true   # ENOSPC ends it
full() { grep -q 'msg="spool: batch dropped"' "$NS_TMP/agent-a.log"; }
# tmpfs allocates whole pages: the next few batches may still fit in the
# slack of the active segment's last page, so this can take a few rounds
wait_for 150 "a batch refused by the full disk" full
grep 'msg="spool: batch dropped"' "$NS_TMP/agent-a.log" | head -1
kill -0 "$AGENT_PID_a" || fail "the agent died when the disk was full"
echo "ok: full disk reported, agent still running"

server_start
UP=$(date +%s%N)
counted() {
    [ "$(api GET /api/v1/agents)" = 200 ] && [ "$(jqb '.items[0].spool.droppedBatches > 0')" = true ]
}
wait_for 30 "the heartbeat reports the dropped batches" counted
echo "ok: counted: $(jqb '.items[0].spool')"
fresh() {
    [ "$(api POST /api/v1/query "{\"sql\":\"SELECT count(DISTINCT test_id) FROM results WHERE agent = 'agent-a' AND start_ns > $UP\"}")" = 200 ] &&
        [ "$(jqb '.rows[0][0]')" = 4 ]
}
wait_for 60 "new rounds from agent-a after the server is back" fresh
grep -q 'msg="spool: disk full, acknowledgement written in place"' "$NS_TMP/agent-a.log" ||
    fail "the spool drained without the in-place ack: was the disk full?"
[ -s "$NS_TMP/state-a/filler" ] || fail "the filler is gone"
kill -0 "$AGENT_PID_a" || fail "the agent died"
echo "ok: the agent kept running; spool drained and new rounds stored"
