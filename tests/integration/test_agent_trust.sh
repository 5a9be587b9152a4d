#!/usr/bin/env bash
# test_agent_trust.sh: what the server takes from an agent (DESIGN 9) -- a
# real `cmon server` on 127.0.0.1 with tokens, driven with curl as two
# registered agents.  An agent writes only rounds of tests assigned to it
# (its own name, or a workspace endpoint whose filter lists it), stamped
# within the server's clock window; everything else in a batch is refused
# by index with a stable code while the rest is stored and the batch acked.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 7) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init trust curl jq

STORE="sqlite:$TMP/data/cmon.db"
ADMIN=$("$CMON" token create --role admin --name root --store "$STORE")
KEY=$("$CMON" token create --role agent --store "$STORE")
start_server

WS=/subscriptions/0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws1
req 201 PUT /api/v1/connectionMonitors/trust "{\"properties\": {
  \"endpoints\": [{\"name\": \"a\", \"type\": \"Agent\", \"address\": \"agent-a\"},
                {\"name\": \"ws\", \"resourceId\": \"$WS\",
                 \"filter\": {\"type\": \"Include\", \"items\": [{\"type\": \"AgentAddress\", \"address\": \"agent-b\"}]}},
                {\"name\": \"dst\", \"address\": \"127.0.0.1\"},
                {\"name\": \"old\", \"address\": \"127.0.0.2\"}],
  \"testConfigurations\": [{\"name\": \"tcp\", \"protocol\": \"Tcp\", \"tcpConfiguration\": {\"port\": 9}}],
  \"testGroups\": [{\"name\": \"ga\", \"sources\": [\"a\"], \"destinations\": [\"dst\", \"old\"], \"testConfigurations\": [\"tcp\"]},
                   {\"name\": \"gw\", \"sources\": [\"ws\"], \"destinations\": [\"dst\"], \"testConfigurations\": [\"tcp\"]}]}}" "$ADMIN"
req 200 GET '/api/v1/tests?monitor=trust' "" "$ADMIN"
A_TEST=$(jq -r '.items[] | select(.testGroup == "ga" and .destination == "dst") | .id' "$TMP/body")
OLD_TEST=$(jq -r '.items[] | select(.testGroup == "ga" and .destination == "old") | .id' "$TMP/body")
W_TEST=$(jq -r '.items[] | select(.testGroup == "gw") | .id' "$TMP/body")
[ ${#A_TEST} = 16 ] && [ ${#W_TEST} = 16 ] && [ ${#OLD_TEST} = 16 ] || fail "test ids"

req 201 POST /api/v1/agents/register '{"name":"agent-a"}' "$KEY"
TA=$(jq -r .token "$TMP/body")
req 201 POST /api/v1/agents/register '{"name":"agent-b"}' "$KEY"
TB=$(jq -r .token "$TMP/body")
# agents gather rounds for 1 s (batchIntervalMs, --agent-batch-ms's default)
jqeq '[.batchIntervalMs, .maxBatchBytes, .maxBatchPaths, .maxBatchResults]' '[1000,1048576,1000,10000]'
req 200 POST /api/v1/agent/heartbeat '{}' "$TB"
jqeq '[.batchIntervalMs, .maxBatchBytes, .maxBatchPaths, .maxBatchResults]' '[1000,1048576,1000,10000]'

# Cheap assignment polls: an unchanged poll is a 304 that parses no monitor
parses() { curl -s -H "Authorization: Bearer $ADMIN" "$B/metrics" |
    awk '$1 == "cmon_assignment_monitor_parses_total" { print $2 }'; }
etag=$(curl -s -D - -o "$TMP/assign.json" -H "Authorization: Bearer $TA" "$B/api/v1/agent/assignments" |
    tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
[ "$(jq -r '.monitors[0].name' "$TMP/assign.json")" = trust ] || fail "agent-a's assignments: $(cat "$TMP/assign.json")"
before=$(parses)
[ -n "$before" ] && [ "$before" -gt 0 ] || fail "the first poll parsed no monitor? ($before)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TA" -H "If-None-Match: $etag" \
    "$B/api/v1/agent/assignments")
[ "$code" = 304 ] || fail "an unchanged poll: $code, want 304"
[ "$(parses)" = "$before" ] || fail "an unchanged poll parsed monitors ($before -> $(parses))"
pass "an unchanged assignments poll is a 304 that parses no monitor"
# a monitor's version is parsed once for every agent: agent-b's first poll
# (a 200: its own ETag) is answered from agent-a's parse
code=$(curl -s -o "$TMP/assign.json" -w '%{http_code}' -H "Authorization: Bearer $TB" \
    "$B/api/v1/agent/assignments")
[ "$code" = 200 ] || fail "agent-b's first poll: $code, want 200"
[ "$(jq -r '.monitors[0].name' "$TMP/assign.json")" = trust ] || fail "agent-b's assignments: $(cat "$TMP/assign.json")"
[ "$(parses)" = "$before" ] || fail "agent-b's first poll parsed the monitor again ($before -> $(parses))"
pass "another agent's first poll reuses the parsed monitor"

NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
round() { # id failed [startTime|startNs JSON member]
    printf '{"testId":"%s",%s,"checksTotal":10,"checksFailed":%s,"rtt":{"min":1,"avg":2,"max":3,"jitter":0},"diagnostic":"","detail":""}' \
        "$1" "${3:-\"startTime\":\"$NOW\"}" "$2"
}
a_figures() {
    req 200 GET "/api/v1/tests?monitor=trust" "" "$ADMIN"
    jq -c ".items[] | select(.id == \"$A_TEST\") | [.checksFailedPercent, .lastResultAt]" "$TMP/body"
}

req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$(round "$A_TEST" 1)]}" "$TA"
jqeq '[.acked, .rejected]' '[1,[]]'
BEFORE=$(a_figures)
[ "$(echo "$BEFORE" | jq -c '.[0]')" = 10 ] || fail "agent-a's own round not stored: $BEFORE"
pass "an agent writes its own test"

# agent-b: agent-a's test, an id no test has, and its workspace test
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$(round "$A_TEST" 10),$(round 0123456789abcdef 10),$(round "$W_TEST" 3)]}" "$TB"
jqeq '[.acked, [.rejected[] | [.index, .testId, .code]]]' \
    "[1,[[0,\"$A_TEST\",\"not_assigned\"],[1,\"0123456789abcdef\",\"unknown_test\"]]]"
jqeq '[.rejected[].message | length > 0] | all' true
[ "$(a_figures)" = "$BEFORE" ] || fail "agent-b changed agent-a's figures: $(a_figures)"
req 200 GET "/api/v1/results?testId=$A_TEST" "" "$ADMIN"
jqeq '[.items[].agent]' '["agent-a"]'
req 200 GET "/api/v1/results?testId=$W_TEST" "" "$ADMIN"
jqeq '[.items[] | [.agent, .checksFailed]]' '[["agent-b",3]]'
pass "cross-agent and unknown rounds refused by index, the workspace member's round stored"

# far future (int64 max; a year past 2262 that would wrap), and too old
FUT1=$(round "$A_TEST" 10 '"startNs":9223372036854775807')
FUT2=$(round "$A_TEST" 10 '"startTime":"2300-01-01T00:00:00Z"')
SOON=$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)
FUT3=$(round "$A_TEST" 10 "\"startTime\":\"$SOON\"")
OLD=$(round "$A_TEST" 10 '"startTime":"2001-01-01T00:00:00Z"')
req 200 POST /api/v1/agent/results "{\"batch\":2,\"results\":[$FUT1,$FUT2,$FUT3,$OLD]}" "$TA"
jqeq '[.acked, [.rejected[] | [.index, .code]]]' \
    '[2,[[0,"time_out_of_window"],[1,"time_out_of_window"],[2,"time_out_of_window"],[3,"time_out_of_window"]]]'
[ "$(a_figures)" = "$BEFORE" ] || fail "an out-of-window round changed the figures: $(a_figures)"
req 200 POST /api/v1/agent/results "{\"batch\":3,\"results\":[$(round "$A_TEST" 0)]}" "$TA"
jqeq .rejected '[]'
[ "$(a_figures | jq -c '.[0]')" = 0 ] || fail "a new round after the refused ones is not live: $(a_figures)"
pass "rounds outside the clock window refused, the test's state not pinned"

# a replay older than a day (within retention) is history, not live figures
TWO_DAYS=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)
req 200 POST /api/v1/agent/results "{\"batch\":5,\"results\":[$(round "$OLD_TEST" 10 "\"startTime\":\"$TWO_DAYS\"")]}" "$TA"
jqeq .rejected '[]'
req 200 GET "/api/v1/results?testId=$OLD_TEST&from=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)" "" "$ADMIN"
jqeq '[.items[] | .checksFailed]' '[10]'
req 200 GET "/api/v1/tests?monitor=trust" "" "$ADMIN"
jqeq ".items[] | select(.id == \"$OLD_TEST\") | [.lastResultAt, .checksFailedPercent]" '[null,null]'
pass "a round older than a day is stored as history, not as the test's live figures"

# batch numbers are bounded (nextBatch = highest + 1 never overflows)
req 400 POST /api/v1/agent/results '{"batch":4611686018427387904,"results":[]}' "$TA"
jqeq '[.error.code, .error.field]' '["invalid_parameter","batch"]'
req 400 POST /api/v1/agent/results '{"batch":9223372036854775807,"results":[]}' "$TA"
req 200 POST /api/v1/agent/results '{"batch":4611686018427387903,"results":[]}' "$TA"
req 400 POST /api/v1/agent/results '{"batch":1,"spoolId":"XYZ","results":[]}' "$TA"
jqeq .error.field '"spoolId"'
PATHS=$(jq -cn '[range(1001) | {testId: "0123456789abcdef", startNs: 1, path: {reached: false, hops: []}}]')
req 400 POST /api/v1/agent/results "{\"batch\":6,\"results\":[],\"paths\":$PATHS}" "$TA"
jqeq '[.error.code, .error.field]' '["invalid_parameter","paths"]'
pass "batch numbers at and past 2^62, spool ids, the path limit; limits told at registration"

# what an agent says of itself is logged: no control characters
req 400 POST /api/v1/agent/heartbeat '{"version":"1.0\nlevel=error msg=forged"}' "$TA"
jqeq '[.error.code, .error.field]' '["invalid_parameter","version"]'
req 400 POST /api/v1/agents/register '{"name":"agent-a","version":"1.0\u001b[31m"}' "$KEY"
jqeq .error.field '"version"'
req 400 POST /api/v1/agent/heartbeat '{"addresses":["10.0.0.1\r\n"]}' "$TA"
jqeq .error.field '"addresses"'
req 400 POST /api/v1/agent/heartbeat '{"version":"1.0\u0000x"}' "$TA"
req 200 POST /api/v1/agent/heartbeat '{"version":"1.0 (build 7)"}' "$TA"
pass "a version or address with a newline or control character refused"

# token names are agent identities: the agent-name charset, <= 63, strings
LONG=$(printf 'a%.0s' $(seq 64))
for bad in '123' 'true' '{}' 'null' '"bad name"' '"-lead"' "\"$LONG\""; do
    req 400 POST /api/v1/tokens "{\"role\":\"agent\",\"name\":$bad}" "$ADMIN"
    jqeq '[.error.code, .error.field]' '["invalid_parameter","name"]'
done
req 201 POST /api/v1/tokens "{\"role\":\"agent\",\"name\":\"${LONG:1}\"}" "$ADMIN"
req 201 POST /api/v1/tokens '{"role":"agent"}' "$ADMIN"
rc=0; "$CMON" token create --role agent --name "$LONG" --store "$STORE" >/dev/null 2>"$TMP/tok.err" || rc=$?
[ "$rc" = 2 ] || fail "token create with a 64-character name: exit $rc"
grep -q -- "--name must be" "$TMP/tok.err" || fail "token create message: $(cat "$TMP/tok.err")"
rc=0; "$CMON" token create --role agent --name 'a b' --store "$STORE" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "token create with a space in the name: exit $rc"
pass "token names validated at the API and in cmon token create"

# cmon run: the embedded agent's names are taken
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
mkdir -p "$TMP/run"
RKEY=$("$CMON" token create --role agent --data "$TMP/run")
RUN_PORT=$((PORT + 1))
for _ in $(seq 20); do
    "$CMON" run --listen "127.0.0.1:$RUN_PORT" --data "$TMP/run" >"$TMP/run.out" 2>"$TMP/run.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q '"listening"' "$TMP/run.err" && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '"listening"' "$TMP/run.err" && break
    wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    RUN_PORT=$((RUN_PORT + 1))
done
[ -n "$SERVER_PID" ] || fail "cmon run did not start: $(tail -3 "$TMP/run.err")"
B=http://127.0.0.1:$RUN_PORT
for name in "$(hostname)" local; do
    req 409 POST /api/v1/agents/register "{\"name\":\"$name\"}" "$RKEY"
    jqeq '[.error.code, .error.field]' '["name_taken","name"]'
    jqeq '.error.message | test("--name")' true
done
req 201 POST /api/v1/agents/register '{"name":"remote-1"}' "$RKEY"
pass "a remote agent cannot take the embedded agent's name or alias"

# `cmon agent` next to `cmon run` with the default name (the host name): it
# is refused at registration, so it never gets a test to probe, and its log
# says what to do
"$CMON" agent --server "$B" --key "$RKEY" --state-dir "$TMP/agent" \
    >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do
    grep -q "refused this agent's name: start it with another --name" "$TMP/agent.log" && break
    sleep 0.1
done
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true
grep -q "refused this agent's name: start it with another --name" "$TMP/agent.log" ||
    fail "the agent's log does not say to pick --name: $(tail -3 "$TMP/agent.log")"
grep -q 'name_taken\|embedded agent' "$TMP/agent.log" || fail "the server's reason is not logged"
pass "an agent with the embedded agent's name is told to pick --name"
