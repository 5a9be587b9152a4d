#!/usr/bin/env bash
# test_view_filters.sh: the views' exact scope filters, the test group rows,
# a monitor's essentials and the one spelling of states, on a real
# `cmon server` (127.0.0.1) over SQLite, or over a real PostgreSQL 15 cluster
# started here with VIEWS_STORE=pg (test_view_filters_pg.sh):
# testGroup=, source=, destination=, testConfiguration=, destinationType= on
# GET /api/v1/tests, the roll-up views and /results narrow exactly (exact
# names, not substrings; across monitors; combined); a parameter the views do
# not know is a 400 naming it; testGroups rows carry sourceCount,
# destinationCount and enabled; GET connectionMonitors/NAME carries
# testGroupCount, sourceCount, destinationCount and the regions its source
# agents report; rows, counts and state= say NotRunning ("Not Running" is
# still taken on input); GET /api/v1/tests/scopes gives the distinct values
# of the test rows per key (limit, 400s, the reader role).
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + $$ % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init view-filters curl jq
api_store VIEWS_STORE
STORE=${STORE:-sqlite:$TMP/data/cmon.db}
start_server

# seed: app = agent-a,b,c x web,db x http,tcp (12 tests); mix: g1 =
# agent-a -> db (external), agent-b (an agent) over tcp; g2 (disabled) =
# agent-b -> db over tcp and icmp
req 201 PUT /api/v1/connectionMonitors/seed "@$SRC/docs/examples/seed.json"
req 201 PUT /api/v1/connectionMonitors/mix '{"properties": {
  "endpoints": [
    {"name": "agent-a", "type": "Agent", "address": "agent-a"},
    {"name": "agent-b", "type": "Agent", "address": "agent-b"},
    {"name": "db", "type": "ExternalAddress", "address": "198.18.2.2"}],
  "testConfigurations": [
    {"name": "tcp", "protocol": "Tcp", "tcpConfiguration": {"port": 5432}},
    {"name": "icmp", "protocol": "Icmp"}],
  "testGroups": [
    {"name": "g1", "sources": ["agent-a"], "destinations": ["db", "agent-b"], "testConfigurations": ["tcp"]},
    {"name": "g2", "disable": true, "sources": ["agent-b"], "destinations": ["db"], "testConfigurations": ["tcp", "icmp"]}]}}'

# tests as "monitor/group/source/destination/config", sorted
tests_are() { # query want
    req 200 GET "/api/v1/tests?$1"
    jqeq '[.items[] | "\(.monitor)/\(.testGroup)/\(.source)/\(.destination)/\(.testConfiguration)"] | sort' "$2"
}
tests_are 'monitor=mix&destinationType=Agent' '["mix/g1/agent-a/agent-b/tcp"]'
jqeq '[.items[] | .destinationType]' '["Agent"]'
tests_are 'monitor=mix&destinationType=ExternalAddress' \
    '["mix/g1/agent-a/db/tcp","mix/g2/agent-b/db/icmp","mix/g2/agent-b/db/tcp"]'
tests_are 'testGroup=g2' '["mix/g2/agent-b/db/icmp","mix/g2/agent-b/db/tcp"]'
tests_are 'source=agent-a&testConfiguration=tcp' \
    '["mix/g1/agent-a/agent-b/tcp","mix/g1/agent-a/db/tcp","seed/app/agent-a/db/tcp","seed/app/agent-a/web/tcp"]'
tests_are 'destination=db&testConfiguration=tcp&monitor=seed' \
    '["seed/app/agent-a/db/tcp","seed/app/agent-b/db/tcp","seed/app/agent-c/db/tcp"]'
# exact names: a prefix or another case finds nothing (the search q= is the substring match)
tests_are 'testGroup=ap' '[]'
tests_are 'source=AGENT-A' '[]'
tests_are 'destination=db&destinationType=Agent' '[]'
pass "tests: testGroup, source, destination, testConfiguration, destinationType narrow exactly"

# the scope selectors' values: GET /api/v1/tests/scopes gives, per key,
# exactly the distinct non-empty values of the test rows (case kept: "App"
# beside "app", "Web" beside "web"), sorted, across every monitor
req 201 PUT /api/v1/connectionMonitors/case '{"properties": {
  "endpoints": [
    {"name": "agent-a", "type": "Agent", "address": "agent-a"},
    {"name": "Web", "type": "ExternalAddress", "address": "198.18.2.3"}],
  "testConfigurations": [{"name": "Tcp-443", "protocol": "Tcp", "tcpConfiguration": {"port": 443}}],
  "testGroups": [{"name": "App", "sources": ["agent-a"], "destinations": ["Web"], "testConfigurations": ["Tcp-443"]}]}}'
scopes_are_rows() { # the endpoint's values = distinct() of GET /api/v1/tests's rows
    req 200 GET '/api/v1/tests?limit=1000'
    local want
    want=$(jq -c '.items as $t | ["testGroup","source","destination","destinationType","testConfiguration"]
        | map({key: ., value: ([$t[][.] | select(. != null and . != "")] | unique)}) | from_entries
        + {truncated: []}' "$TMP/body")
    req 200 GET /api/v1/tests/scopes
    jqeq '.' "$want"
}
scopes_are_rows
jqeq '[.testGroup, .destination, .destinationType, .testConfiguration]' \
    '[["App","app","g1","g2"],["Web","agent-b","db","web"],["Agent","ExternalAddress"],["Tcp-443","http","icmp","tcp"]]'
# limit per key: the first values in byte order, the keys cut named
req 200 GET '/api/v1/tests/scopes?limit=2'
jqeq '[.testGroup, .source, .destinationType, .truncated]' \
    '[["App","app"],["agent-a","agent-b"],["Agent","ExternalAddress"],["testGroup","source","destination","testConfiguration"]]'
# bad parameters: JSON errors with stable codes, never an unbounded answer
for bad in 'limit=0' 'limit=10001' 'limit=x' 'limit=-1'; do
    req 400 GET "/api/v1/tests/scopes?$bad"
    jqeq '[.error.code, .error.field]' '["invalid_parameter","limit"]'
done
req 400 GET '/api/v1/tests/scopes?monitor=seed' # no view filter: a selector offers every value
jqeq '[.error.code, .error.field]' '["invalid_parameter","monitor"]'
req 400 GET '/api/v1/tests/scopes?limt=5'
jqeq '.error.message | test("did you mean .limit.")' true
req 405 POST /api/v1/tests/scopes '{}'
# a deleted monitor's values go with its tests
req 204 DELETE /api/v1/connectionMonitors/case
scopes_are_rows
jqeq '.testGroup' '["app","g1","g2"]'
pass "tests/scopes: each key's distinct values of the test rows, sorted, case kept; limit; 400s"

# the roll-ups narrowed by the same filters; group rows' counts and enabled
req 200 GET '/api/v1/testGroups'
jqeq '[.items[] | "\(.monitor)/\(.name)"] | sort' '["mix/g1","mix/g2","seed/app"]'
req 200 GET '/api/v1/testGroups?monitor=mix'
jqeq '[.items[] | [.name, .sourceCount, .destinationCount, .testCount, .enabled, .state]]' \
    '[["g1",1,2,2,true,"Indeterminate"],["g2",1,1,2,false,"NotRunning"]]'
req 200 GET '/api/v1/testGroups?source=agent-a'
jqeq '[.items[] | [.monitor, .name, .sourceCount, .destinationCount, .testCount]] | sort' \
    '[["mix","g1",1,2,2],["seed","app",1,2,4]]'
req 200 GET '/api/v1/sources?monitor=mix&testGroup=g2'
jqeq '[.items[] | [.name, .testCount, .state]]' '[["agent-b",2,"NotRunning"]]'
req 200 GET '/api/v1/destinations?destinationType=Agent'
jqeq '[.items[] | [.monitor, .name, .testCount]]' '[["mix","agent-b",1]]'
req 200 GET '/api/v1/testConfigurations?monitor=seed&destination=web'
jqeq '[.items[] | [.name, .testCount]] | sort' '[["http",3],["tcp",3]]'
pass "roll-ups: the same filters; test group rows with source/destination counts and enabled"

# a parameter the views do not know is an error, never an unfiltered answer
req 400 GET '/api/v1/tests?testgroup=g2'
jqeq '[.error.code, .error.field]' '["invalid_parameter","testgroup"]'
jqeq '.error.message | test("did you mean .testGroup.")' true
req 400 GET '/api/v1/testGroups?destinationTyp=Agent'
jqeq '.error.field' '"destinationTyp"'
pass "an unknown view parameter is 400 invalid_parameter naming it"

# /results takes them too: rounds of exactly the db tests of seed
req 200 GET '/api/v1/tests?monitor=seed'
A_DB=$(jq -r '.items[] | select(.source == "agent-a" and .destination == "db" and .testConfiguration == "tcp") | .id' "$TMP/body")
A_WEB=$(jq -r '.items[] | select(.source == "agent-a" and .destination == "web" and .testConfiguration == "tcp") | .id' "$TMP/body")
T1=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
round() { printf '{"testId":"%s","startTime":"%s","checksTotal":10,"checksFailed":0,"rtt":{"min":1,"avg":2,"max":3,"jitter":0.5}}' "$1" "$T1"; }
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[$(round "$A_DB"),$(round "$A_WEB")]}"
jqeq '[.acked, (.rejected | length)]' '[1,0]'
req 200 GET '/api/v1/results?monitor=seed&destination=db'
jqeq '[.items[] | .testId]' "[\"$A_DB\"]"
req 200 GET '/api/v1/results?destinationType=ExternalAddress&source=agent-a&format=csv'
[ "$(tail -n +2 "$TMP/body" | cut -d, -f1 | sort | tr '\n' ' ')" = "$(printf '%s\n' "$A_DB" "$A_WEB" | sort | tr '\n' ' ')" ] ||
    fail "results csv by source and destination type: $(cat "$TMP/body")"
pass "results: the same filters, JSON and CSV"

# one spelling: NotRunning in rows, counts and state=; "Not Running" accepted
req 200 GET '/api/v1/tests?monitor=mix&state=NotRunning'
jqeq '[.items[] | .state] | unique' '["NotRunning"]'
jqeq '.items | length' 2
req 200 GET '/api/v1/tests?monitor=mix&state=Not%20Running'
jqeq '.items | length' 2
req 200 POST /api/v1/connectionMonitors/seed/stop
jqeq '[.state, .counts.NotRunning]' '["NotRunning",12]'
req 200 GET '/api/v1/connectionMonitors'
jqeq '.counts.NotRunning' 1
jqeq '[.items[] | select(.name == "seed") | .state]' '["NotRunning"]'
for _ in $(seq 300); do # the state change is recorded by the writer: wait for it
    req 200 GET "/api/v1/tests/$A_DB/stateChanges"
    [ "$(jq -r '.items[-1].to' "$TMP/body")" = NotRunning ] && break
    sleep 0.1
done
jqeq '.items[-1] | [.from, .to]' '["Pass","NotRunning"]'
req 200 POST /api/v1/connectionMonitors/seed/start
pass "states: NotRunning in rows, counts, state changes and state=; 'Not Running' taken"

# a monitor's essentials: counts of its groups, sources, destinations and
# the regions its source agents report (registered with a workspace key)
req 200 GET /api/v1/connectionMonitors/mix
jqeq '[.testGroupCount, .testCount, .sourceCount, .destinationCount, .regions, .monitoringStatus, (.createdAt | test("Z$")), (.updatedAt | test("Z$"))]' \
    '[2,4,2,2,[],"Running",true,true]'
KEY=$("$CMON" token create --role agent --store "$STORE" | tail -1)
ADMIN=$("$CMON" token create --role admin --store "$STORE" | tail -1)
[ -n "$KEY" ] && [ -n "$ADMIN" ] || fail "token create"
req 201 POST /api/v1/agents/register '{"name": "agent-a", "region": "eastus2"}' "$KEY"
req 201 POST /api/v1/agents/register '{"name": "agent-b", "region": "westeurope"}' "$KEY"
req 200 GET /api/v1/connectionMonitors/mix '' "$ADMIN"
jqeq '.regions' '["eastus2","westeurope"]'
req 200 GET /api/v1/connectionMonitors/seed '' "$ADMIN"
jqeq '[.testGroupCount, .testCount, .sourceCount, .destinationCount, .regions]' '[1,12,3,2,["eastus2","westeurope"]]'
pass "monitor essentials: group, test, source and destination counts, the sources' regions"

# tests/scopes: the reader role, as GET /api/v1/tests; an agent token may not
READER=$("$CMON" token create --role reader --store "$STORE" | tail -1)
[ -n "$READER" ] || fail "token create reader"
req 200 GET /api/v1/tests/scopes '' "$READER"
jqeq '.source' '["agent-a","agent-b","agent-c"]'
req 401 GET /api/v1/tests/scopes
req 403 GET /api/v1/tests/scopes '' "$KEY"
pass "tests/scopes: readers may, no token 401, an agent token 403"
