#!/usr/bin/env bash
# test_agent_outage.sh: kill -9 the server for 60 s while three agents run the
# seed example (12 tests every 30 s), then restart it: the agents' spools
# replay, and every round of every test is stored exactly once -- per test,
# consecutive stored rounds are one period (30 s) apart across the outage,
# with no gap and no repeat.  Before the outage the monitor is re-applied
# with a change: the agents pick up the new assignments (ETag) without
# restarting their tests, which the 30 s spacing check covers too.
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
all_results() { [ "$(tests_table | grep -c ' true$')" = 12 ]; }
wait_for 100 "results for all 12 tests" all_results
applied_twice() {
    local x
    for x in a b c; do
        [ "$(grep -c 'msg="assignments applied" monitors=1 tests=4' "$NS_TMP/agent-$x.log")" -ge 2 ] || return 1
    done
}
[ "$(api PUT /api/v1/connectionMonitors/seed "$(jq -c '.properties.notes = "changed"' "$CMON_SOURCE_DIR/docs/examples/seed.json")")" = 200 ] ||
    fail "re-apply: $(cat "$NS_TMP/body")"
wait_for 20 "every agent applies the changed monitor" applied_twice
echo "ok: changed monitor picked up by every agent"

kill -9 "$SERVER_PID"
DOWN=$(date +%s%N)
echo "server killed; down for 60 s"
sleep 60
server_start
UP=$(date +%s%N)
# every test has a round that started after the restart, and the agents'
# spools are empty again
caught_up() {
    [ "$(api POST /api/v1/query "{\"sql\":\"SELECT count(*) FROM (SELECT test_id FROM results GROUP BY test_id HAVING max(start_ns) > $UP)\"}")" = 200 ] &&
        [ "$(jqb '.rows[0][0]')" = 12 ]
}
wait_for 60 "rounds after the restart for all 12 tests" caught_up
[ "$(api POST /api/v1/query '{"sql":"SELECT test_id, start_ns FROM results ORDER BY test_id, start_ns","maxRows":10000}')" = 200 ] ||
    fail "query: $(cat "$NS_TMP/body")"
jq -r '.rows[] | "\(.[0]) \(.[1])"' "$NS_TMP/body" >"$NS_TMP/rounds"
awk -v down="$DOWN" -v up="$UP" '
    $1 != id { if (id != "") check(); id = $1; first = $2; n = 0 }
    { if (n > 0) { d = $2 - prev; if (d < 29.5e9 || d > 30.5e9) { printf "test %s: rounds %d and %d are %.3f s apart\n", id, n, n + 1, d / 1e9; bad = 1 } }
      prev = $2; n++ }
    function check() {
        during = 0
        if (first >= down || prev <= up) { printf "test %s: rounds do not span the outage\n", id; bad = 1 }
        tests++; total += n
    }
    END { check(); printf "%d tests, %d rounds\n", tests, total; exit bad || tests != 12 }
' "$NS_TMP/rounds" >"$NS_TMP/gaps" || {
    cat "$NS_TMP/gaps"
    # evidence for the cause: what the server and agents said of refused or
    # dropped rounds and batches, and of the tests with a gap
    ids=$(grep -o '^test [0-9a-f]*' "$NS_TMP/gaps" | cut -d' ' -f2 | sort -u | paste -sd'|')
    grep -HE "reject|drop|refus|invalid|split|${ids:-^$}" "$NS_TMP/server.log" "$NS_TMP"/agent-?.log |
        tail -60 >&2 || true
    fail "stored rounds are not exactly once per period"
}
cat "$NS_TMP/gaps"
in_outage=$(awk -v down="$DOWN" -v up="$UP" '$2 > down && $2 < up' "$NS_TMP/rounds" | wc -l)
[ "$in_outage" -ge 12 ] || fail "only $in_outage rounds from the outage were stored"
echo "ok: $in_outage rounds produced during the outage stored; every test's rounds 30 s apart, none twice"
