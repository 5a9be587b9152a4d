#!/usr/bin/env bash
# test_api.sh: a real `cmon server` on 127.0.0.1 driven with curl -- every
# endpoint, every error status, every view filter, auth (401 without token,
# 403 with the wrong role), exactly-once agent batches, `promtool check
# metrics` on real /metrics output, and the CLI clients' exit codes.
# Traffic stays on 127.0.0.1 (a port derived from the PID).
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT
. "$SRC/tests/integration/lib/api.sh"
api_init api curl jq promtool

start_server
for _ in $(seq 300); do grep -q "running open" "$TMP/server.out" && break; sleep 0.1; done
grep -q "running open" "$TMP/server.out" || fail "open mode not announced"
req 200 GET /healthz; [ "$(cat "$TMP/body")" = ok ] || fail healthz
req 200 GET /readyz
pass "health, readiness, open-mode banner"

# ---- monitors ----
SEED=$SRC/docs/examples/seed.json
req 201 PUT /api/v1/connectionMonitors/seed "@$SEED"
jqeq '[.name, .monitoringStatus, .testCount, .counts.Indeterminate]' '["seed","Running",12,12]'
req 200 PUT /api/v1/connectionMonitors/seed "@$SEED"
# the URL's name wins over the body's
req 201 PUT /api/v1/connectionMonitors/other "@$SEED"
jqeq .name '"other"'
req 200 GET /api/v1/connectionMonitors/seed
jqeq '.properties.testGroups[0].name' '"app"'
req 200 GET /api/v1/connectionMonitors
jqeq '[.items[].name, .counts.Indeterminate, .next]' '["other","seed",2,null]'
req 204 DELETE /api/v1/connectionMonitors/other
req 404 GET /api/v1/connectionMonitors/other
jqeq .error.code '"not_found"'
req 404 DELETE /api/v1/connectionMonitors/other
req 404 POST /api/v1/connectionMonitors/nope/start
pass "monitor PUT/GET/list/DELETE and 404s"

cat >"$TMP/bad.json" <<'EOF'
{"properties": {"endpoints": [{"name": "a", "type": "Agent", "address": "a"}],
  "testConfigurations": [{"name": "t", "protocol": "Tcp", "testFrequencySec": 5,
                          "tcpConfiguration": {"port": 80}}],
  "testGroups": [{"name": "g", "sources": ["a"], "destinations": ["a"], "testConfigurations": ["t"]}]}}
EOF
req 400 PUT /api/v1/connectionMonitors/bad "@$TMP/bad.json"
jqeq '[.error.code, .error.field, (.error.problems | length > 0), .error.problems[0].line]' \
     '["validation_failed","testConfigurations[0].testFrequencySec",true,2]'
# the same message as `cmon validate`
VMSG=$("$CMON" validate "$TMP/bad.json" 2>&1 | head -1 || true)
AMSG=$(jq -r .error.problems[0].message "$TMP/body")
case "$VMSG" in *"$AMSG"*) ;; *) fail "validate says '$VMSG', API says '$AMSG'";; esac
req 400 PUT /api/v1/connectionMonitors/bad '{"properties": '
jqeq .error.code '"validation_failed"'
req 400 PUT /api/v1/connectionMonitors/.bad "@$SEED"
jqeq '[.error.code, .error.field]' '["invalid_name","name"]'
req 400 PUT /api/v1/connectionMonitors/bad ''
req 405 PATCH /api/v1/connectionMonitors/seed
req 404 GET /api/v1/nothing
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
req 413 PUT /api/v1/connectionMonitors/big "@$TMP/big.json"
jqeq .error.code '"body_too_large"'
pass "validation errors, 400/404/405/413"

# ---- stop / start ----
req 200 POST /api/v1/connectionMonitors/seed/stop
jqeq '[.monitoringStatus, .state, .counts.NotRunning, .reason]' '["Stopped","NotRunning",12,"monitor stopped"]'
req 200 POST /api/v1/connectionMonitors/seed/start
jqeq '[.monitoringStatus, .state]' '["Running","Indeterminate"]'
pass "stop makes tests Not Running, start brings them back"

# ---- agent results (exactly once) ----
req 200 GET '/api/v1/tests?monitor=seed&protocol=Tcp&limit=1000'
jqeq '.items | length' 6
TCP1=$(jq -r '.items[0].id' "$TMP/body"); TCP2=$(jq -r '.items[1].id' "$TMP/body")
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
round() { # id failed rtt diag
    printf '{"testId":"%s","startTime":"%s","checksTotal":10,"checksFailed":%s,%s"diagnostic":"%s","detail":"%s"}' \
        "$1" "$NOW" "$2" "$3" "$4" "$5"
}
R1=$(round "$TCP1" 4 '"rtt":{"min":1,"avg":2,"max":3,"jitter":0.5},' connection_refused "errno 111")
R2=$(round "$TCP2" 0 '"rtt":{"min":5,"avg":6,"max":7,"jitter":1},' "" "")
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$R1,$R2]}"
jqeq '[.acked, .duplicate]' '[1,false]'
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$R1,$R2]}"
jqeq '[.acked, .duplicate]' '[1,true]'
req 400 POST /api/v1/agent/results '{"batch":-1,"results":[]}'
jqeq .error.field '"batch"'
BAD=$(round "$TCP1" 11 '' timeout "")
req 400 POST /api/v1/agent/results "{\"batch\":2,\"results\":[$BAD]}"
jqeq '[.error.code, .error.field]' '["validation_failed","results[0]"]'
req 400 POST /api/v1/agent/results '{"batch":2,'
jqeq .error.code '"invalid_json"'
req 405 GET /api/v1/agent/results
pass "agent batches acked once, duplicates ignored, bad rounds rejected"

# ---- views and filters ----
req 200 GET "/api/v1/tests?state=Fail"
jqeq '[(.items | length), .items[0].id, .items[0].state, .items[0].diagnostic, .items[0].checksFailedPercent]' \
     "[1,\"$TCP1\",\"Fail\",\"connection_refused\",40]"
jqeq .items[0].reason '"ChecksFailedPercent 40 > 10; connection_refused (errno 111)"'
req 200 GET "/api/v1/tests?state=Pass"
jqeq '[(.items | length), .items[0].id, .items[0].roundTripTimeMs]' "[1,\"$TCP2\",6]"
req 200 GET "/api/v1/tests?protocol=http"
jqeq '.items | length' 6
req 200 GET "/api/v1/tests?q=AGENT-B&scope=sources"
jqeq '[(.items | length), ([.items[].source] | unique)]' '[4,["agent-b"]]'
req 200 GET "/api/v1/tests?q=agent-b&scope=destinations"
jqeq '.items | length' 0
req 200 GET "/api/v1/tests?q=198.18&scope=destinations"
jqeq '.items | length' 6
req 200 GET "/api/v1/tests?q=tcp&scope=testConfigurations"
jqeq '.items | length' 6
req 200 GET "/api/v1/tests?q=app&scope=testGroups&monitor=seed"
jqeq '.items | length' 12
req 200 GET "/api/v1/tests?q=see&scope=monitors"
jqeq '.items | length' 12
req 200 GET "/api/v1/tests?monitor=nope"
jqeq '.items | length' 0
req 200 GET "/api/v1/tests?limit=5"
jqeq '[(.items | length), .next]' '[5,"5"]'
req 200 GET "/api/v1/tests?limit=5&cursor=10"
jqeq '[(.items | length), .next]' '[2,null]'
req 400 GET "/api/v1/tests?state=Broken"
jqeq .error.field '"state"'
req 400 GET "/api/v1/tests?protocol=Udp"
req 400 GET "/api/v1/tests?scope=everything&q=x"
req 400 GET "/api/v1/tests?limit=0"
req 400 GET "/api/v1/tests?limit=1001"
req 400 GET "/api/v1/tests?cursor=abc"
req 200 GET /api/v1/testGroups
jqeq '[.items[0].name, .items[0].state, .items[0].counts.Fail, .items[0].counts.Pass, .items[0].testCount, .items[0].checksFailedPercent, .items[0].roundTripTimeMs]' \
     '["app","Fail",1,1,12,40,6]'
req 200 GET "/api/v1/sources?state=Fail"
jqeq '[.items[].name]' '["agent-a"]'
req 200 GET /api/v1/destinations
jqeq '[.items[].name]' '["web","db"]'
req 200 GET "/api/v1/destinations?state=Pass"
jqeq '.items | length' 0
req 200 GET "/api/v1/testConfigurations?protocol=Tcp"
jqeq '[.items[] | [.name, .state]]' '[["tcp","Fail"]]'
req 200 GET "/api/v1/connectionMonitors/seed"
jqeq '[.state, .counts.Fail, .counts.Pass, .counts.Indeterminate, .checksFailedPercent, .roundTripTimeMs]' \
     '["Fail",1,1,10,40,6]'
req 200 GET "/api/v1/tests/$TCP1/stateChanges"
jqeq '[.items[-1].from, .items[-1].to]' '["Indeterminate","Fail"]'
pass "tests, testGroups, sources, destinations, testConfigurations views with filters"

# ---- metrics query ----
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ); TO=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
req 200 GET "/api/v1/metrics?name=ChecksFailedPercent&from=$FROM&to=$TO&Protocol=Tcp"
jqeq '[.unit, .aggregation, .intervalSec, (.points | length), .points[0].value, .points[0].samples]' \
     '["Percent","Average",60,1,20,2]'
req 200 GET "/api/v1/metrics?name=ProbesFailedPercent&aggregation=max&interval=PT1H&from=$FROM&to=$TO&SourceName=agent-a"
jqeq '[.aggregation, .intervalSec, .points[0].value]' '["Maximum",3600,40]'
req 200 GET "/api/v1/metrics?name=RoundTripTimeMs&aggregation=min&interval=30s&from=$FROM&to=$TO&TestConfigurationName=tcp"
jqeq '[.unit, .points[0].value]' '["MilliSeconds",2]'
req 200 GET "/api/v1/metrics?name=AverageRoundtripMs&from=$FROM&to=$TO&DestinationName=web&TestGroupName=app"
jqeq '.points[0].value' '2'
req 200 GET "/api/v1/metrics?name=ChecksFailedPercent&from=$FROM&to=$TO&ConnectionMonitorResourceId=none"
jqeq '.points' '[]'
req 200 GET "/api/v1/metrics?name=ChecksFailedPercent&from=$FROM&to=$TO&SourceResourceId=/cmon/connectionMonitors/seed/endpoints/agent-a&DestinationResourceId=/cmon/connectionMonitors/seed/endpoints/web"
jqeq '[.points[0].value, .points[0].samples]' '[40,1]'
req 400 GET "/api/v1/metrics?name=Jitter"
jqeq .error.field '"name"'
req 400 GET "/api/v1/metrics?name=RoundTripTimeMs&aggregation=median"
req 400 GET "/api/v1/metrics?name=RoundTripTimeMs&interval=fortnight"
req 400 GET "/api/v1/metrics?name=RoundTripTimeMs&from=$TO&to=$FROM"
req 400 GET "/api/v1/metrics?name=RoundTripTimeMs&from=yesterday"
# no silent ignores: a typo is named, with a did-you-mean; every seed dimension filters
req 400 GET "/api/v1/metrics?name=ChecksFailedPercent&SourceNmae=zzz"
jqeq '[.error.code, .error.field, .error.message]' '["invalid_parameter","SourceNmae","unknown parameter '"'"'SourceNmae'"'"' (did you mean '"'"'SourceName'"'"'?)"]'
req 400 GET "/api/v1/metrics?name=ChecksFailedPercent&Regoin=eastus"
jqeq '[.error.field, .error.message]' '["Regoin","unknown parameter '"'"'Regoin'"'"' (did you mean '"'"'Region'"'"'?)"]'
for dim in Region=zzz SourceResourceId=x DestinationResourceId=x SourceAddress=198.18.99.99; do
    req 200 GET "/api/v1/metrics?name=ChecksFailedPercent&$dim"
    jqeq '.points' '[]'
done
req 400 GET "/api/v1/metrics?name=RoundTripTimeMs&interval=1s&from=2020-01-01T00:00:00Z"
pass "metrics query: names, aliases, aggregations, intervals, dimension filters, errors"

# ---- raw results and SQL ----
req 200 GET "/api/v1/results?testId=$TCP1"
jqeq '[(.items | length), .items[0].checksFailed, .items[0].diagnostic, .items[0].agent, .next]' \
     '[1,4,"connection_refused","local",null]'
req 200 GET "/api/v1/results?testId=$TCP1&format=ndjson"
[ "$(wc -l <"$TMP/body")" = 1 ] || fail "ndjson lines"
jq -e '.testId' "$TMP/body" >/dev/null || fail "ndjson not JSON"
req 200 GET "/api/v1/results?testId=$TCP1&format=csv"
[ "$(head -1 "$TMP/body" | tr -d '\r')" = "testId,startTime,monitor,testGroup,source,destination,testConfiguration,protocol,agent,checksTotal,checksFailed,rttMinMs,rttAvgMs,rttMaxMs,rttJitterMs,diagnostic,detail,httpStatus" ] || fail "csv header"
grep -q "^$TCP1,$(echo "$NOW" | sed 's/Z$//').000Z,\"seed\",\"app\",\"[^\"]*\",\"[^\"]*\",\"tcp\",\"Tcp\",\"local\",10,4,1.000,2.000,3.000,0.500,connection_refused,\"errno 111\",0" "$TMP/body" || fail "csv row"
# without testId: every test's rounds (test_results_views.sh: the filters)
req 200 GET "/api/v1/results"
jqeq '.items | length' 2
req 400 GET "/api/v1/results?testId=$TCP1&format=xml"
req 400 GET "/api/v1/results?testId=$TCP1&limit=0"
req 200 POST /api/v1/query '{"sql":"SELECT checks_failed, agent FROM results ORDER BY checks_failed"}'
jqeq '[.columns, .rows, .truncated]' '[["checks_failed","agent"],[[0,"local"],[4,"local"]],false]'
req 200 POST /api/v1/query '{"sql":"SELECT id FROM tests","maxRows":3}'
jqeq '[(.rows | length), .truncated]' '[3,true]'
req 400 POST /api/v1/query '{"sql":"SELECT hash FROM tokens"}'
jqeq .error.code '"invalid_query"'
req 400 POST /api/v1/query '{"sql":"DELETE FROM results"}'
req 400 POST /api/v1/query '{"sql":"SELECT 1; DROP TABLE results"}'
req 400 POST /api/v1/query '{"query":"SELECT 1"}'
req 400 POST /api/v1/query '{"sql":"SELECT 1","maxRows":0}'
req 422 POST /api/v1/query '{"sql":"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"}'
jqeq .error.code '"query_timeout"'
req 400 POST /api/v1/query '[1]'
pass "results as JSON/NDJSON/CSV, read-only SQL with limits"

# ---- Prometheus ----
req 200 GET /metrics
promtool check metrics <"$TMP/body" || fail "promtool check metrics"
[ "$(grep -c '^cmon_test_state{' "$TMP/body")" = 12 ] || fail "12 cmon_test_state series"
# every dimension of the metrics API is a label (an agent that reported no
# address: its name stands for it; endpoints without a resourceId: cmon ids)
grep -q "^cmon_test_state{test_id=\"$TCP1\",connection_monitor_resource_id=\"seed\",test_group_name=\"app\",source_name=\"agent-a\",destination_name=\"web\",test_configuration_name=\"tcp\",protocol=\"Tcp\",source_address=\"agent-a\",source_resource_id=\"/cmon/connectionMonitors/seed/endpoints/agent-a\",source_type=\"Agent\",destination_address=\"http://web.example.test/health\",destination_resource_id=\"/cmon/connectionMonitors/seed/endpoints/web\",destination_type=\"ExternalAddress\",destination_port=\"5432\",region=\"\"} 3$" "$TMP/body" || fail "Fail state series: $(grep "^cmon_test_state{test_id=\"$TCP1\"" "$TMP/body")"
grep -q "^cmon_checks_failed_percent{test_id=\"$TCP1\",.*} 40$" "$TMP/body" || fail "failed percent series"
grep -q "^cmon_round_trip_time_seconds{test_id=\"$TCP2\",.*} 0.006$" "$TMP/body" || fail "rtt series"
grep -q '^cmon_ingest_results_total 2$' "$TMP/body" || fail "ingest counter"
grep -q '^cmon_ingest_duplicate_batches_total 1$' "$TMP/body" || fail "duplicate counter"
pass "/metrics is promtool-clean with the expected series"

# ---- CLI clients, open mode ----
"$CMON" monitor list --server "$B" >"$TMP/cli.out" || fail "monitor list"
grep -q '^seed ' "$TMP/cli.out" || fail "monitor list table"
CMON_SERVER=$B "$CMON" tests --state Fail --json >"$TMP/body" || fail "tests --json"
jqeq '[(.items | length), .items[0].id]' "[1,\"$TCP1\"]"
CMON_SERVER=$B "$CMON" tests --monitor seed --protocol Tcp >"$TMP/cli.out" || fail "tests table"
[ "$(grep -c ' seed ' "$TMP/cli.out")" = 6 ] || fail "tests table rows"
set +e
"$CMON" monitor apply --server "$B" "$TMP/bad.json" 2>"$TMP/cli.err"; rc=$?
[ $rc = 1 ] || fail "apply of an invalid file exits $rc, want 1"
grep -q "testFrequencySec" "$TMP/cli.err" || fail "apply error message"
"$CMON" tests --server http://127.0.0.1:1 2>/dev/null; rc=$?
[ $rc = 3 ] || fail "unreachable server exits $rc, want 3"
"$CMON" monitor get nope --server "$B" 2>/dev/null; rc=$?
[ $rc = 1 ] || fail "get of a missing monitor exits $rc, want 1"
"$CMON" monitor frob --server "$B" 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "unknown action exits $rc, want 2"
set -e
"$CMON" monitor apply --server "$B" "$SRC/docs/examples/local.json" >"$TMP/cli.out" || fail "apply"
grep -q "monitor local created (4 tests)" "$TMP/cli.out" || fail "apply output"
"$CMON" monitor stop local --server "$B" >/dev/null || fail "monitor stop"
"$CMON" monitor start local --server "$B" >/dev/null || fail "monitor start"
"$CMON" monitor delete local --server "$B" >/dev/null || fail "monitor delete"
pass "CLI clients and their exit codes (0, 1, 2, 3)"

# ---- tokens and roles ----
req 400 POST /api/v1/tokens '{"role":"root"}'
req 201 POST /api/v1/tokens '{"role":"admin","name":"ops"}'
ADMIN=$(jq -r .token "$TMP/body")
# an agent token without a name is a workspace key: it registers agents only
req 201 POST /api/v1/tokens '{"role":"agent"}' "$ADMIN"
WORKSPACE=$(jq -r .token "$TMP/body")
req 403 POST /api/v1/agent/results '{"batch":1,"results":[]}' "$WORKSPACE"
req 401 GET /api/v1/tests
jqeq .error.code '"unauthorized"'
req 401 GET /api/v1/tests "" cmon_0000
req 401 GET /metrics
req 200 GET /healthz
req 200 GET /api/v1/tests "" "$ADMIN"
req 201 POST /api/v1/tokens '{"role":"reader","name":"ci"}' "$ADMIN"
READER=$(jq -r .token "$TMP/body")
AGENT=$("$CMON" token create --role agent --name agent-a --store "sqlite:$TMP/data/cmon.db") ||
    fail "token create in the store"
[ ${#AGENT} = 45 ] || fail "token length"
req 200 GET /api/v1/connectionMonitors "" "$READER"
req 200 GET /metrics "" "$READER"
req 200 POST /api/v1/query '{"sql":"SELECT 1"}' "$READER"
req 403 PUT /api/v1/connectionMonitors/seed "@$SEED" "$READER"
jqeq .error.code '"forbidden"'
req 403 POST /api/v1/tokens '{"role":"admin"}' "$READER"
req 403 POST /api/v1/agent/results '{"batch":9,"results":[]}' "$READER"
req 403 GET /api/v1/tests "" "$AGENT"
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$R1]}" "$AGENT"
jqeq .duplicate false   # batch numbers are per agent: agent-a's batch 1 is new
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$R1]}" "$AGENT"
jqeq .duplicate true
req 204 DELETE /api/v1/connectionMonitors/seed "" "$ADMIN"
req 404 GET /api/v1/connectionMonitors/seed "" "$READER"
set +e
"$CMON" tests --server "$B" 2>"$TMP/cli.err"; rc=$?
[ $rc = 3 ] || fail "missing token exits $rc, want 3"
"$CMON" tests --server "$B" --token wrong 2>/dev/null; rc=$?
[ $rc = 3 ] || fail "wrong token exits $rc, want 3"
CMON_TOKEN=$READER "$CMON" tests --server "$B" >/dev/null; rc=$?
[ $rc = 0 ] || fail "reader token exits $rc, want 0"
CMON_TOKEN=$READER "$CMON" monitor apply --server "$B" "$SEED" 2>/dev/null; rc=$?
[ $rc = 3 ] || fail "reader apply exits $rc, want 3"
"$CMON" token create --role admin --server "$B" --token "$READER" 2>/dev/null; rc=$?
[ $rc = 3 ] || fail "token create by a reader exits $rc, want 3"
set -e
"$CMON" token create --role reader --server "$B" --token "$ADMIN" --json >"$TMP/body" ||
    fail "token create via API"
jqeq .role '"reader"'
pass "tokens: 401 without/unknown token, 403 for the wrong role, hashed store, CLI"

# ---- graceful stop ----
kill -TERM $SERVER_PID
wait $SERVER_PID || fail "server exit status $? after SIGTERM"
SERVER_PID=
grep -q 'msg="stopped"' "$TMP/server.err" || fail "no stopped log line"
pass "SIGTERM stops the server cleanly"

# ---- a public address without tokens refuses to start ----
set +e
"$CMON" server --listen "0.0.0.0:$PORT" --store "sqlite:$TMP/fresh/cmon.db" 2>"$TMP/refuse.err"
rc=$?
set -e
[ $rc = 1 ] || fail "public listen without tokens exits $rc, want 1"
grep -q "refusing to listen on 0.0.0.0:$PORT without tokens" "$TMP/refuse.err" || fail "refusal message"
# ... and starts once a token exists (it never receives traffic here)
"$CMON" token create --role admin --data "$TMP/fresh" >/dev/null
set +e
"$CMON" server --listen "300.1.1.1:$PORT" --store "sqlite:$TMP/fresh/cmon.db" 2>"$TMP/bad.err"
rc=$?
set -e
[ $rc = 1 ] || fail "bad listen address exits $rc"
pass "non-loopback listen refuses without tokens"

# ---- HTTPS ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null ||
    fail "openssl req"
SCHEME=https CACERT=$TMP/cert.pem start_server --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
code=$(curl -s --cacert "$TMP/cert.pem" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
    "https://127.0.0.1:$PORT/api/v1/tests")
[ "$code" = 200 ] || fail "https with the admin token: $code"
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && fail "plain HTTP answered on a TLS port"
grep -q "serving https://127.0.0.1:$PORT" "$TMP/server.out" || fail "https banner"
# the CLI clients verify an https server against --ca (or $CMON_CA)
H=https://127.0.0.1:$PORT
"$CMON" tests --server "$H" --token "$ADMIN" --ca "$TMP/cert.pem" --json >"$TMP/cli-tls.json" ||
    fail "cmon tests --ca over https"
jq -e '.items | type == "array"' "$TMP/cli-tls.json" >/dev/null || fail "cmon tests --ca: $(cat "$TMP/cli-tls.json")"
CMON_CA=$TMP/cert.pem "$CMON" monitor list --server "$H" --token "$ADMIN" >/dev/null ||
    fail "cmon monitor list with CMON_CA"
"$CMON" alerts list --server "$H" --token "$ADMIN" --ca "$TMP/cert.pem" >/dev/null ||
    fail "cmon alerts list --ca"
"$CMON" token create --role reader --server "$H" --token "$ADMIN" --ca "$TMP/cert.pem" |
    grep -Eq '^[A-Za-z0-9_-]{20,}$' || fail "cmon token create --server https --ca"
set +e
"$CMON" tests --server "$H" --token "$ADMIN" >/dev/null 2>"$TMP/cli-notrust.err"
rc=$?
set -e
[ $rc = 3 ] || fail "cmon tests without --ca against a self-signed server exits $rc, want 3"
grep -qi "certificate" "$TMP/cli-notrust.err" || fail "untrusted server error: $(cat "$TMP/cli-notrust.err")"
kill -TERM $SERVER_PID; wait $SERVER_PID || fail "TLS server exit status"
SERVER_PID=
set +e
"$CMON" server --listen "127.0.0.1:$PORT" --store "sqlite:$TMP/data/cmon.db" --tls-cert "$TMP/cert.pem" 2>"$TMP/tls.err"
rc=$?
set -e
[ $rc = 1 ] && grep -q "TLS needs both a certificate and a key" "$TMP/tls.err" || fail "cert without key"
pass "HTTPS with --tls-cert/--tls-key"
echo "all API checks passed"
