#!/usr/bin/env bash
# test_agent_compound.sh: a compound source -- an AgentGroup endpoint whose
# scope (198.18.8.0/21) holds the three agents' addresses -- run by real
# agents in network namespaces.  agent-c's firewall drops everything to the
# destination (100 % of its checks fail).  Every member runs the test; the
# test's row combines the members' latest rounds (10 of 30 checks failed:
# Fail, the reason naming agent-c); GET .../members lists 2 Pass and 1 Fail.
# Membership follows the agents: agent-b joins when it registers, and agent-c
# stops counting once the scope excludes its address.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cmc
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
agents_require nft
agents_topology
agents_bootstrap

ns_in c nft -f - <<NFT
table inet cmc {
  chain out {
    type filter hook output priority 0;
    ip daddr 198.18.2.2 drop
  }
}
NFT

cluster() { # EXCLUDE...: the monitor with the group's scope
    local ex="" a
    for a in "$@"; do ex+="${ex:+, }{\"address\": \"$a\"}"; done
    cat <<JSON
{"name": "cluster", "properties": {
  "endpoints": [
    {"name": "cluster", "type": "AgentGroup",
     "scope": {"include": [{"address": "198.18.8.0/21"}], "exclude": [$ex]}},
    {"name": "db", "type": "ExternalAddress", "address": "198.18.2.2"}],
  "testConfigurations": [{"name": "tcp", "protocol": "Tcp", "testFrequencySec": 30,
    "tcpConfiguration": {"port": 5432, "disableTraceRoute": true},
    "successThreshold": {"checksFailedPercent": 5, "roundTripTimeMs": 100}}],
  "testGroups": [{"name": "g", "sources": ["cluster"], "destinations": ["db"],
    "testConfigurations": ["tcp"]}]}}
JSON
}
st=$(api PUT /api/v1/connectionMonitors/cluster "$(cluster)")
[ "$st" = 201 ] || fail "cluster monitor: $st $(cat "$NS_TMP/body")"
[ "$(api GET '/api/v1/tests?monitor=cluster')" = 200 ] || fail "tests of cluster"
ID=$(jq -r '.items[0].id' "$NS_TMP/body")
assert_eq "$(jqb '[.items[] | [.source, .sourceType]]')" '[["cluster","AgentGroup"]]' "the compound test"

members() { # -> sorted "agent state" lines of the test's members
    [ "$(api GET "/api/v1/tests/$ID/members")" = 200 ] || return 1
    jq -r '.items[] | "\(.agent) \(.state)"' "$NS_TMP/body" | sort | tr '\n' ' ' | sed 's/ $//'
}
members_are() { [ "$(members)" = "$1" ]; }
row() { # -> "state|checksFailedPercent|reason" of the test
    [ "$(api GET "/api/v1/tests?monitor=cluster")" = 200 ] || return 1
    jq -r '.items[0] | "\(.state)|\(.checksFailedPercent)|\(.reason)"' "$NS_TMP/body"
}

# agent-a and agent-c first: both are members
agent_start a
agent_start c
wait_for 100 "agent-a Pass and agent-c Fail as members" members_are "agent-a Pass agent-c Fail"
assert_eq "$(jqb '[.compound, .sourceType]')" '[true,"AgentGroup"]' "members answer"
assert_eq "$(jqb '.items[] | select(.agent == "agent-c") | [.address, .checksFailedPercent, .diagnostic]')" \
    '["198.18.13.2",100,"timeout"]' "agent-c's own figures"
echo "ok: the members that registered run the test"

# agent-b registers: it joins the group; the row combines the three
agent_start b
wait_for 100 "three members" members_are "agent-a Pass agent-b Pass agent-c Fail"
combined() {
    local r; r=$(row) || return 1
    [[ "$r" =~ ^Fail\|33\.3[0-9]*\|.*worst\ member\ agent-c ]]
}
wait_for 60 "the row: Fail, 10 of 30 checks failed, naming agent-c" combined
echo "ok: $(row)"
# the state stays put between rounds (no member's round alone decides it)
for i in 1 2 3; do
    sleep 5
    combined || fail "the combined row changed: $(row)"
done
echo "ok: compound test Fail naming the worst member; members 2 Pass 1 Fail"

# agent-c leaves the scope: it stops running the test and stops counting
st=$(api PUT /api/v1/connectionMonitors/cluster "$(cluster 198.18.13.2)")
[ "$st" = 200 ] || fail "cluster monitor update: $st $(cat "$NS_TMP/body")"
wait_for 100 "agent-c no longer a member" members_are "agent-a Pass agent-b Pass"
passing() { [[ "$(row)" =~ ^Pass\|0\| ]]; }
wait_for 60 "the row Pass without agent-c" passing
echo "ok: an agent that leaves the scope stops counting ($(row))"
echo "PASS"
