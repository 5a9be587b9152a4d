#!/usr/bin/env bash
# test_agent_assign_etag.sh: an agent's assignments depend on its own
# addresses (a compound source's scope picks its members by address), so
# the assignments ETag changes when they do.  A real `cmon server`; the
# agent protocol spoken with curl (no probe runs: nothing is sent anywhere).
# agent-x registers with address 127.0.0.2; monitor "scoped" has an
# AgentGroup source whose scope is 127.0.0.3 only: agent-x's poll assigns it
# nothing (ETag E), an unchanged poll is 304; agent-x's heartbeat reports
# 127.0.0.3: the poll with If-None-Match E is a 200 that assigns "scoped";
# back to 127.0.0.2: assigned nothing again.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
. "$CMON_SOURCE_DIR/tests/integration/lib/api.sh"
api_init assign-etag curl jq
PORT=$((20000 + ($$ * 19) % 20000))

STORE="sqlite:$TMP/data/cmon.db"
ADMIN=$("$CMON" token create --role admin --name root --store "$STORE")
KEY=$("$CMON" token create --role agent --store "$STORE")
start_server

req 201 PUT /api/v1/connectionMonitors/scoped '{"properties": {
  "endpoints": [
    {"name": "cluster", "type": "AgentGroup", "scope": {"include": [{"address": "127.0.0.3"}]}},
    {"name": "dst", "type": "ExternalAddress", "address": "127.0.0.1"}],
  "testConfigurations": [{"name": "tcp", "protocol": "Tcp", "tcpConfiguration": {"port": 9}}],
  "testGroups": [{"name": "g", "sources": ["cluster"], "destinations": ["dst"],
    "testConfigurations": ["tcp"]}]}}' "$ADMIN"
req 201 POST /api/v1/agents/register '{"name":"agent-x","addresses":["127.0.0.2"]}' "$KEY"
TX=$(jq -r .token "$TMP/body")

# poll [ETAG] -> the status; the ETag in $TMP/etag, the body in $TMP/assign.json
poll() {
    local args=()
    [ -n "${1:-}" ] && args+=(-H "If-None-Match: $1")
    curl -s -D "$TMP/headers" -o "$TMP/assign.json" -w '%{http_code}' "${args[@]}" \
        -H "Authorization: Bearer $TX" "$B/api/v1/agent/assignments"
    tr -d '\r' <"$TMP/headers" | awk 'tolower($1) == "etag:" { print $2 }' >"$TMP/etag"
}
assigned() { jq -c '[.monitors[].name]' "$TMP/assign.json"; }
heartbeat() { req 200 POST /api/v1/agent/heartbeat "{\"addresses\":[\"$1\"]}" "$TX"; }

[ "$(poll)" = 200 ] || fail "first poll: $(cat "$TMP/assign.json")"
[ "$(assigned)" = "[]" ] || fail "agent-x at 127.0.0.2 assigned $(assigned), want none"
E=$(cat "$TMP/etag")
[ -n "$E" ] || fail "no ETag"
[ "$(poll "$E")" = 304 ] || fail "an unchanged poll is not 304"
pass "agent-x at 127.0.0.2 is assigned nothing (ETag $E), and an unchanged poll is 304"

heartbeat 127.0.0.3
code=$(poll "$E")
[ "$code" = 200 ] || fail "poll with the old ETag after the address changed: $code, want 200"
[ "$(assigned)" = '["scoped"]' ] || fail "agent-x at 127.0.0.3 assigned $(assigned), want [\"scoped\"]"
E2=$(cat "$TMP/etag")
[ "$E2" != "$E" ] || fail "the ETag did not change with the address"
[ "$(poll "$E2")" = 304 ] || fail "an unchanged poll after the change is not 304"
pass "after a heartbeat with 127.0.0.3 the old ETag gets a 200 assigning \"scoped\" (ETag $E2)"

heartbeat 127.0.0.2
[ "$(poll "$E2")" = 200 ] || fail "poll after leaving the scope is not 200"
[ "$(assigned)" = "[]" ] || fail "agent-x back at 127.0.0.2 assigned $(assigned), want none"
pass "back at 127.0.0.2: the poll answers 200, assigned nothing"
