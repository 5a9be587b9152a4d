#!/usr/bin/env bash
# test_agent_sources.sh: the seed's "show all tests where the source IP is
# 10.192.64.56" workflow with real agents in network namespaces.  agent-a is
# told its address (--address 10.192.64.56, a label: no traffic goes there)
# and region; agent-b reports its namespace's address 198.18.12.2.  A search
# by address (API scope=sources, `cmon tests`) finds exactly that agent's
# tests; the rows, the metrics API's SourceAddress filter and the Prometheus
# source_address label carry the address, never the agent's name.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cms
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
agents_require
agents_topology
agents_bootstrap

agent_start a --address 10.192.64.56 --region eastus2
agent_start b --region westeurope

results_of() { # AGENT: its 4 tests have a result
    [ "$(tests_table | grep -c "^$1 .* true$")" = 4 ]
}
wait_for 100 "results of agent-a's tests" results_of agent-a
wait_for 100 "results of agent-b's tests" results_of agent-b

# the API: scope=sources finds the agent by any address it reports
search() { # Q -> sorted "source sourceAddress" lines of the tests found
    [ "$(api GET "/api/v1/tests?limit=1000&scope=sources&q=$1")" = 200 ] || fail "search $1: $(cat "$NS_TMP/body")"
    jq -r '.items[] | "\(.source) \(.sourceAddress) \(.region)"' "$NS_TMP/body" | sort | uniq -c | sed 's/^ *//'
}
assert_eq "$(search 10.192.64.56)" "4 agent-a 10.192.64.56 eastus2" "search by agent-a's address"
assert_eq "$(search 198.18.12.2)" "4 agent-b 198.18.12.2 westeurope" "search by agent-b's address"
assert_eq "$(search 10.192.99.99)" "" "search by an address no agent has"
assert_eq "$(search agent-b)" "4 agent-b 198.18.12.2 westeurope" "search by name still works"
# agent-a reports its namespace address too, after the primary
[ "$(api GET /api/v1/agents)" = 200 ] || fail "GET /api/v1/agents"
assert_eq "$(jqb '[.items[] | select(.name == "agent-a") | .addresses[0], .region]')" \
    '["10.192.64.56","eastus2"]' "agent-a's reported primary address and region"
assert_eq "$(jqb '.items[] | select(.name == "agent-a") | .addresses | index("198.18.11.2") != null')" \
    true "agent-a's host address after the primary"
echo "ok: search by source address (API)"

# cmon tests: the same search from the command line, with the address column
out=$(ns_in srv "$CMON" tests --server "$SRV_URL" --ca "$NS_TMP/tls/ca.pem" --token "$ADMIN" \
    --search 10.192.64.56 --scope sources)
assert_eq "$(echo "$out" | awk 'NR > 1 {print $4, $5}' | sort | uniq -c | sed 's/^ *//')" \
    "4 agent-a 10.192.64.56" "cmon tests --search 10.192.64.56 --scope sources"
echo "ok: cmon tests --search ADDRESS --scope sources"

# the metrics API: SourceAddress is the address
points() { # QUERY -> number of points with samples
    [ "$(api GET "/api/v1/metrics?name=ChecksFailedPercent&interval=PT1M&$1")" = 200 ] ||
        fail "metrics $1: $(cat "$NS_TMP/body")"
    jqb '[.points[] | select(.samples > 0)] | length'
}
[ "$(points SourceAddress=10.192.64.56)" -ge 1 ] || fail "no points for SourceAddress=10.192.64.56"
assert_eq "$(points SourceAddress=agent-a)" 0 "SourceAddress=agent-a (a name, not an address)"
assert_eq "$(points SourceAddress=10.192.99.99)" 0 "SourceAddress of no agent"
echo "ok: metrics by SourceAddress"

# Prometheus: source_address is the agent's primary address, source_name its name
[ "$(api GET /metrics)" = 200 ] || fail "GET /metrics"
grep '^cmon_test_state{' "$NS_TMP/body" | grep 'source_name="agent-a"' |
    grep -q 'source_address="10.192.64.56"' || fail "agent-a's series: $(grep agent-a "$NS_TMP/body" | head -2)"
grep '^cmon_test_state{' "$NS_TMP/body" | grep 'source_name="agent-b"' |
    grep -q 'source_address="198.18.12.2"' || fail "agent-b's series: $(grep agent-b "$NS_TMP/body" | head -2)"
echo "ok: Prometheus source_address"

# every seed dimension filters the metrics API: Region and the ResourceIds
# (an endpoint without a resourceId has a stable cmon id); an unknown one is
# a 400 naming it
[ "$(points Region=eastus2)" -ge 1 ] || fail "no points for Region=eastus2"
[ "$(points Region=westeurope)" -ge 1 ] || fail "no points for Region=westeurope"
assert_eq "$(points Region=zzz)" 0 "Region=zzz"
assert_eq "$(points 'Region=eastus2&SourceName=agent-b')" 0 "Region=eastus2 of agent-b"
A_RID=/cmon/connectionMonitors/seed/endpoints/agent-a
[ "$(points "SourceResourceId=$A_RID")" -ge 1 ] || fail "no points for SourceResourceId=$A_RID"
[ "$(points "DestinationResourceId=/cmon/connectionMonitors/seed/endpoints/db")" -ge 1 ] ||
    fail "no points for DestinationResourceId"
assert_eq "$(points SourceResourceId=x)" 0 "SourceResourceId=x"
[ "$(api GET "/api/v1/metrics?name=ChecksFailedPercent&Regoin=eastus2")" = 400 ] || fail "Regoin: $(cat "$NS_TMP/body")"
assert_eq "$(jqb '[.error.code, .error.field, .error.message]')" \
    '["invalid_parameter","Regoin","unknown parameter '"'"'Regoin'"'"' (did you mean '"'"'Region'"'"'?)"]' "unknown dimension"
echo "ok: metrics by Region and ResourceIds; unknown dimension 400"

# Prometheus: the same dimensions as labels
[ "$(api GET /metrics)" = 200 ] || fail "GET /metrics"
a_state=$(grep '^cmon_test_state{' "$NS_TMP/body" | grep 'source_name="agent-a"' | head -1)
assert_match "$a_state" 'region="eastus2"' "agent-a's region label"
assert_match "$a_state" "source_resource_id=\"$A_RID\"" "agent-a's source_resource_id label"
assert_match "$a_state" 'destination_resource_id="/cmon/connectionMonitors/seed/endpoints/' "destination_resource_id label"
echo "ok: Prometheus region and resource id labels"

# alert rules take the same names (and the cloud's metric spelling); an
# alert's SourceAddress is the address
rule='{"name": "by-address", "metric": "ChecksFailedPercent(Preview)", "operator": "GreaterThanOrEqual",
  "threshold": 0, "windowSizeSec": 60, "evaluationFrequencySec": 10,
  "dimensions": {"ConnectionMonitorResourceId": "seed", "SourceAddress": "*", "Region": "eastus2"}}'
st=$(api PUT /api/v1/alertRules/by-address "$rule")
[ "$st" = 200 ] || [ "$st" = 201 ] || fail "alert rule: $st $(cat "$NS_TMP/body")"
[ "$(api PUT /api/v1/alertRules/bad '{"name": "bad", "metric": "RoundTripTimeMs", "operator": ">", "threshold": 1, "dimensions": {"SourceAdress": "*"}}')" = 400 ] ||
    fail "an unknown alert dimension: $(cat "$NS_TMP/body")"
grep -q 'did you mean' "$NS_TMP/body" || fail "no did-you-mean: $(cat "$NS_TMP/body")"
firing() {
    [ "$(api GET '/api/v1/alerts?state=firing&rule=by-address')" = 200 ] &&
        [ "$(jqb '[.items[].labels.SourceAddress] | unique')" = '["10.192.64.56"]' ]
}
wait_for 60 "the by-address alert firing with SourceAddress 10.192.64.56" firing
echo "ok: alert rule by SourceAddress and Region"
echo "PASS"
