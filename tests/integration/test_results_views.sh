#!/usr/bin/env bash
# test_results_views.sh: rounds by the views' filters and the readable SQL
# views, on a real `cmon server` (127.0.0.1) over SQLite, or over a real
# PostgreSQL 15 cluster started here with RESULTS_STORE=pg
# (test_results_views_pg.sh): GET /api/v1/results with monitor=, protocol=,
# q=/scope=, state= (no testId), JSON and CSV naming each round's monitor,
# group, source, destination, configuration and protocol, paging across
# tests, unknown parameters refused; v_tests, v_results and v_state_changes
# answering state and protocol as text with the names beside each row.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + $$ % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init results-views curl jq
api_store RESULTS_STORE
start_server

SEED=$SRC/docs/examples/seed.json
req 201 PUT /api/v1/connectionMonitors/seed "@$SEED"
req 201 PUT /api/v1/connectionMonitors/other "@$SEED"
req 200 GET '/api/v1/tests?monitor=seed&protocol=Tcp&limit=1000'
A_DB=$(jq -r '.items[] | select(.source == "agent-a" and .destination == "db") | .id' "$TMP/body")
B_DB=$(jq -r '.items[] | select(.source == "agent-b" and .destination == "db") | .id' "$TMP/body")
req 200 GET '/api/v1/tests?monitor=other&protocol=Tcp&limit=1000'
O_DB=$(jq -r '.items[] | select(.source == "agent-a" and .destination == "db") | .id' "$TMP/body")
req 200 GET '/api/v1/tests?monitor=seed&protocol=Http&limit=1000'
A_WEB=$(jq -r '.items[] | select(.source == "agent-a" and .destination == "web") | .id' "$TMP/body")
[ -n "$A_DB" ] && [ -n "$B_DB" ] && [ -n "$O_DB" ] && [ -n "$A_WEB" ] || fail "test ids"

# two rounds a minute apart on three seed tests and one of "other"
T1=$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:%SZ)
T2=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
round() { # id time failed
    printf '{"testId":"%s","startTime":"%s","checksTotal":10,"checksFailed":%s,"rtt":{"min":1,"avg":2,"max":3,"jitter":0.5},"diagnostic":"%s"}' \
        "$1" "$2" "$3" "$([ "$3" = 10 ] && echo connection_refused)"
}
ROUNDS=
for t in "$T1" "$T2"; do
    for id in "$A_DB" "$B_DB" "$O_DB"; do ROUNDS+="$(round "$id" "$t" 0),"; done
    ROUNDS+="$(round "$A_WEB" "$t" 10),"
done
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[${ROUNDS%,}]}"
jqeq '[.acked, (.rejected | length)]' '[1,0]'

# ---- GET /api/v1/results by the views' filters ----
req 200 GET "/api/v1/results?monitor=seed"
jqeq '[(.items | length), (.items | map(.monitor) | unique), .next]' '[6,["seed"],null]'
jqeq '[.items[] | .startTime] == ([.items[] | .startTime] | sort)' true
jqeq '[.items[] | select(.testId == "'"$A_DB"'") | [.monitor, .testGroup, .source, .destination, .testConfiguration, .protocol]] | unique' \
    '[["seed","app","agent-a","db","tcp","Tcp"]]'
req 200 GET "/api/v1/results?monitor=seed&protocol=Http"
jqeq '[.items[] | [.testId, .protocol, .checksFailed]] | unique' "[[\"$A_WEB\",\"Http\",10]]"
req 200 GET "/api/v1/results?q=agent-b&scope=sources"
jqeq '[.items[] | .source] | unique' '["agent-b"]'
req 200 GET "/api/v1/results?monitor=other&q=db&scope=destinations"
jqeq '[(.items | length), (.items | map(.testId) | unique)]' "[2,[\"$O_DB\"]]"
# the testId form still works, and now names the round
req 200 GET "/api/v1/results?testId=$O_DB"
jqeq '[(.items | length), .items[0].monitor]' '[2,"other"]'
# paging across tests: ordered by time, then test id
req 200 GET "/api/v1/results?monitor=seed&limit=4"
jqeq '[(.items | length), (.next != null)]' '[4,true]'
NEXT=$(jq -r .next "$TMP/body")
req 200 GET "/api/v1/results?monitor=seed&from=$NEXT"
jqeq '.items | length' 3
pass "results by monitor, protocol, q/scope; names on each round; paging across tests"

req 200 GET "/api/v1/results?monitor=seed&protocol=Tcp&format=csv"
[ "$(head -1 "$TMP/body" | tr -d '\r')" = "testId,startTime,monitor,testGroup,source,destination,testConfiguration,protocol,agent,checksTotal,checksFailed,rttMinMs,rttAvgMs,rttMaxMs,rttJitterMs,diagnostic,detail,httpStatus" ] ||
    fail "csv header: $(head -1 "$TMP/body")"
grep -q "^$A_DB,${T2%Z}.000Z,\"seed\",\"app\",\"agent-a\",\"db\",\"tcp\",\"Tcp\",\"[^\"]*\",10,0,1.000,2.000,3.000,0.500,," "$TMP/body" ||
    fail "csv row of agent-a -> db at $T2"
[ "$(tail -n +2 "$TMP/body" | wc -l)" = 4 ] || fail "csv rows: $(cat "$TMP/body")"
req 200 GET "/api/v1/results?monitor=seed&format=ndjson"
jq -s -e 'length == 6 and all(.monitor == "seed")' "$TMP/body" >/dev/null || fail "ndjson rows"
pass "CSV and NDJSON carry the names"

req 400 GET "/api/v1/results?monitr=seed"
jqeq '[.error.code, .error.field, (.error.message | test("did you mean .monitor."))]' '["invalid_parameter","monitr",true]'
req 400 GET "/api/v1/results?state=Bogus"
jqeq .error.field '"state"'
req 400 GET "/api/v1/results?monitor=seed&format=xml"
req 200 GET "/api/v1/results?monitor=nosuch"
jqeq '.items' '[]'
pass "unknown parameters and bad values are 400s; no match is an empty list"

# ---- readable views ----
sql() { req 200 POST /api/v1/query "$(jq -cn --arg s "$1" '{sql: $s}')"; }
# sql_until QUERY ROWS: QUERY until it answers ROWS (the evaluator's states
# come asynchronously; 30 s at most), then assert them
sql_until() {
    for _ in $(seq 300); do
        sql "$1"
        [ "$(jq -c .rows "$TMP/body")" = "$2" ] && break
        sleep 0.1
    done
    jqeq .rows "$2"
}
sql "SELECT monitor, test_group, source, destination, test_config, protocol, start_time, checks_failed_pct FROM v_results WHERE test_id = '$A_WEB' ORDER BY start_ns"
jqeq '.columns' '["monitor","test_group","source","destination","test_config","protocol","start_time","checks_failed_pct"]'
jqeq '.rows' "[[\"seed\",\"app\",\"agent-a\",\"web\",\"http\",\"Http\",\"${T1%Z}.000Z\",100],[\"seed\",\"app\",\"agent-a\",\"web\",\"http\",\"Http\",\"${T2%Z}.000Z\",100]]"
# the state is the evaluator's: wait for it
sql_until "SELECT state FROM v_tests WHERE test_id = '$A_WEB'" '[["Fail"]]'
sql "SELECT monitor, protocol, state FROM v_tests WHERE test_id IN ('$A_DB', '$A_WEB') ORDER BY protocol"
jqeq .rows '[["seed","Http","Fail"],["seed","Tcp","Pass"]]'
sql "SELECT monitor, destination, from_state, to_state FROM v_state_changes WHERE test_id = '$A_WEB' ORDER BY at_ns"
jqeq '.rows[-1]' '["seed","web","Indeterminate","Fail"]'
sql "SELECT destination, COUNT(*) AS failed FROM v_results WHERE checks_failed > 0 GROUP BY destination ORDER BY destination"
jqeq .rows '[["web",2]]'
pass "v_results, v_tests and v_state_changes answer names and states as text"

# the dashboard's example queries (web/views/query.js) run on both backends
sql "SELECT monitor, destination, SUM(checks_failed) AS checks_failed, SUM(checks_total) AS checks, ROUND(100.0 * SUM(checks_failed) / NULLIF(SUM(checks_total), 0), 2) AS failed_pct FROM v_results WHERE start_ns >= 0 GROUP BY monitor, destination ORDER BY checks_failed DESC, monitor, destination"
jqeq '[.rows[] | [.[0], .[1], .[2], .[3], (.[4] | tonumber)]]' '[["seed","web",20,20,100],["other","db",0,20,0],["seed","db",0,40,0]]'
sql "SELECT source, COUNT(*) AS rounds, MIN(CASE WHEN pr >= 0.5 THEN rtt_avg END) AS p50_ms, MAX(rtt_avg) AS max_ms FROM (SELECT source, rtt_avg, CUME_DIST() OVER (PARTITION BY source ORDER BY rtt_avg) AS pr FROM v_results WHERE rtt_avg IS NOT NULL AND start_ns >= 0) AS ranked GROUP BY source ORDER BY source"
jqeq .rows '[["agent-a",6,2,2],["agent-b",2,2,2]]'
pass "the dashboard's example queries"

# ---- going back in time: at= on the views and the monitors ----
AT=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) # A_WEB is Fail (its last round: 10 of 10 failed)
LATER=$(date -u -d '+1 sec' +%Y-%m-%dT%H:%M:%SZ)
req 200 POST /api/v1/agent/results "{\"batch\":2,\"results\":[$(round "$A_WEB" "$LATER" 0)]}"
for _ in $(seq 100); do
    req 200 GET "/api/v1/tests?monitor=seed&state=Pass"
    jq -e --arg id "$A_WEB" 'any(.items[]; .id == $id)' "$TMP/body" >/dev/null && break
    sleep 0.1
done
jq -e --arg id "$A_WEB" 'any(.items[]; .id == $id)' "$TMP/body" >/dev/null || fail "A_WEB did not pass"
req 200 GET "/api/v1/tests?monitor=seed&at=$AT"
jqeq "[.items[] | select(.id == \"$A_WEB\") | [.state, .checksFailedPercent, .diagnostic, (.reason | test(\"ChecksFailedPercent 100\"))]]" \
    '[["Fail",100,"connection_refused",true]]'
jqeq "[.items[] | select(.id == \"$A_DB\") | [.state, .checksFailedPercent]]" '[["Pass",0]]'
req 200 GET "/api/v1/tests?monitor=seed&at=$AT&state=Fail"
jqeq '[.items[].id]' "[\"$A_WEB\"]"
req 200 GET "/api/v1/tests?monitor=seed&state=Fail"
jqeq '.items' '[]'
req 200 GET "/api/v1/testGroups?monitor=seed&at=$AT"
jqeq '[.items[] | [.name, .state]]' '[["app","Fail"]]'
req 200 GET "/api/v1/destinations?monitor=seed&at=$AT&state=Fail"
jqeq '[.items[] | .name]' '["web"]'
req 200 GET "/api/v1/connectionMonitors/seed?at=$AT"
jqeq '.state' '"Fail"'
req 200 GET "/api/v1/connectionMonitors/seed"
jqeq '.state != "Fail"' true
req 200 GET "/api/v1/connectionMonitors?at=$AT"
jqeq '[.items[] | [.name, .state]]' '[["other","Indeterminate"],["seed","Fail"]]'
# before anything was recorded: no state yet
req 200 GET "/api/v1/tests?monitor=seed&at=2020-01-01T00:00:00Z"
jqeq '[.items[].state] | unique' '["Indeterminate"]'
req 400 GET "/api/v1/tests?at=yesterday"
jqeq '[.error.code, .error.field]' '["invalid_parameter","at"]'
pass "at=: states, reasons and figures as they stood, on tests, roll-ups and monitors"

# the views spell the state as the API does: a stopped monitor's tests
req 200 POST /api/v1/connectionMonitors/other/stop
sql_until "SELECT DISTINCT state FROM v_tests WHERE monitor = 'other'" '[["NotRunning"]]'
req 200 GET "/api/v1/tests?monitor=other"
jqeq '[.items[].state] | unique' '["NotRunning"]'
pass "v_tests says NotRunning, as the API does"
