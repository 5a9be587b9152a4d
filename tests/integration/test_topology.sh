#!/usr/bin/env bash
# test_topology.sh: traceroute paths through `cmon run` end to end, over the
# router chain client -> r1 -> r2 -> r3 -> server.  The embedded agent traces
# each test on its first round; the API serves the test's topology, the
# monitor's graph and the path history; rerouting r1 -> r2b -> r3 is recorded
# as a route change on the next trace (--trace-interval 30).
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
NS_PREFIX=cmo; . "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/chain.sh"
ns_require
chain_up
port=$((20000 + $$ % 20000))
api="http://127.0.0.1:$port/api/v1"
cat >"$NS_TMP/paths.json" <<'JSON'
{"name": "paths", "properties": {
  "endpoints": [{"name": "here", "type": "Agent", "address": "local"},
                {"name": "far", "address": "198.18.4.2"}],
  "testConfigurations": [
    {"name": "ping", "protocol": "Icmp", "testFrequencySec": 30, "checksPerRound": 3},
    {"name": "tcp", "protocol": "Tcp", "testFrequencySec": 30, "checksPerRound": 2,
     "tcpConfiguration": {"port": 8080}},
    {"name": "quiet", "protocol": "Icmp", "testFrequencySec": 30, "checksPerRound": 1,
     "icmpConfiguration": {"disableTraceRoute": true}}],
  "testGroups": [{"name": "g", "sources": ["here"], "destinations": ["far"],
                  "testConfigurations": ["ping", "tcp", "quiet"]}]}}
JSON
ids=$("$CMON" validate --json "$NS_TMP/paths.json" | jq -r '.files[0].tests[].id')
ping_id=$(sed -n 1p <<<"$ids"); tcp_id=$(sed -n 2p <<<"$ids"); quiet_id=$(sed -n 3p <<<"$ids")
ns_bg client "$CMON" run --listen "127.0.0.1:$port" --data "$NS_TMP/data" --trace-interval 30 \
    "$NS_TMP/paths.json" 2>"$NS_TMP/run.log"
get() { ns_in client curl -sf "$api/$1"; }
# wait_for SECONDS JQ-EXPR URL: until the expression is true
wait_for() {
    local i
    for i in $(seq 1 "$1"); do
        out=$(get "$3" 2>/dev/null) && [ "$(jq -r "$2" <<<"$out" 2>/dev/null)" = true ] && return 0
        sleep 1
    done
    echo "--- last answer: $out"; tail -20 "$NS_TMP/run.log"
    fail "timed out after $1 s waiting for $2 on $3"
}
hops() { jq -r '[.hops[].address] | join(" ")'; }

wait_for 60 '.reached' "tests/$ping_id/topology"
assert_eq "$(hops <<<"$out")" "$CHAIN_HOPS4" "ICMP test path"
assert_eq "$(jq -r .routeChanged <<<"$out")" false "first path is no route change"
assert_eq "$(jq -r '.hops[1].lossPercent' <<<"$out")" 0 "hop 2 loss"
wait_for 60 '.reached' "tests/$tcp_id/topology"
assert_eq "$(hops <<<"$out")" "$CHAIN_HOPS4" "TCP test path (SYNs to the closed port 8080)"
# traceroute off for this configuration: no path, ever
code=$(ns_in client curl -s -o /dev/null -w '%{http_code}' "$api/tests/$quiet_id/topology")
assert_eq "$code" 404 "no topology for a test with disableTraceRoute"
echo "ok: test topologies"

out=$(get "connectionMonitors/paths/topology") || fail "monitor topology"
assert_eq "$(jq -r .tracedTests <<<"$out")" 2 "traced tests in the graph"
assert_eq "$(jq -r '[.nodes[].id] | sort | join(" ")' <<<"$out")" \
    "destination:far hop:198.18.1.2 hop:198.18.2.2 hop:198.18.3.2 source:here" "graph nodes"
assert_eq "$(jq -r '[.edges[] | "\(.from)>\(.to)=\(.tests)"] | sort | join(" ")' <<<"$out")" \
    "hop:198.18.1.2>hop:198.18.2.2=2 hop:198.18.2.2>hop:198.18.3.2=2 hop:198.18.3.2>destination:far=2 source:here>hop:198.18.1.2=2" \
    "graph edges, shared by both tests"
echo "ok: monitor topology graph"

# reroute r1 -> r2b -> r3; the next trace (30 s later) records the change
ns_add r2b
ns_link r1 r2b 5
ns_link r2b r3 6
ns_forward r2b
ns_in r2b sysctl -qw net.ipv4.icmp_ratelimit=0
ns_route r2b 198.18.4.0/24 198.18.6.2
ns_route r2b 198.18.1.0/24 198.18.5.1
ns_route r3 198.18.5.0/24 198.18.6.1
ns_in r1 ip route replace 198.18.4.0/24 via 198.18.5.2
ns_in r3 ip route replace 198.18.1.0/24 via 198.18.6.1
wait_for 75 '.routeChanged' "tests/$ping_id/topology"
assert_eq "$(hops <<<"$out")" "198.18.1.2 198.18.5.2 198.18.6.2 198.18.4.2" "rerouted path"
assert_eq "$(jq -r '[.issues[].diagnostic] | join(" ")' <<<"$out")" "route_changed" "route_changed diagnostic"
out=$(get "tests/$ping_id/paths") || fail "path history"
assert_eq "$(jq -r '[.items[] | .routeChanged] | map(tostring) | join(" ")' <<<"$out" | awk '{print $1, $NF}')" \
    "false true" "history: first path, then the route change"
assert_eq "$(jq -r '.items[0].hops | map(.address) | join(" ")' <<<"$out")" "$CHAIN_HOPS4" "history keeps the old path"
echo "ok: route change recorded with both paths"
code=$(ns_in client curl -s -o /dev/null -w '%{http_code}' "$api/tests/$ping_id/topology?lossThreshold=abc")
assert_eq "$code" 400 "bad lossThreshold"
echo "test_topology: all checks passed"
