#!/usr/bin/env bash
# test_agent_seed.sh: one TLS server and three agents, each in its own network
# namespace, run the seed example (docs/examples/seed.json): results for all
# 12 tests arrive and every state is right (agent-c's local firewall rejects
# port 5432, so its two TCP tests Fail with connection_refused).  Also: the
# agent list, failover past a dead server, a wrong workspace key (401, the
# agent backs off), a wrong CA (refused with a clear error), and garbage
# bodies on the agent endpoints (right errors, nothing stored), and removal
# (DELETE) revoking an agent's token.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
: "${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}"
NS_PREFIX=cmg
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/agents.sh"
agents_require nft
agents_topology
agents_bootstrap

ns_in c nft -f - <<NFT
table inet cmg {
  chain out {
    type filter hook output priority 0;
    ip daddr 198.18.2.2 tcp dport 5432 reject with tcp reset
  }
}
NFT

agent_start a
SERVERS="https://198.18.3.99:8443,$SRV_URL" agent_start b   # the first one is dead
agent_start c

all_results() { [ "$(tests_table | grep -c ' true$')" = 12 ]; }
wait_for 100 "results for all 12 tests" all_results
# the background evaluation settles the states a few seconds after ingest
sleep 6
want="agent-a db http Pass  true
agent-a db tcp Pass  true
agent-a web http Pass  true
agent-a web tcp Pass  true
agent-b db http Pass  true
agent-b db tcp Pass  true
agent-b web http Pass  true
agent-b web tcp Pass  true
agent-c db http Pass  true
agent-c db tcp Fail connection_refused true
agent-c web http Pass  true
agent-c web tcp Fail connection_refused true"
got=$(tests_table)
[ "$got" = "$want" ] || fail "test states:
$got
want:
$want"
echo "ok: 12 tests, states right"

[ "$(api GET /api/v1/agents)" = 200 ] || fail "GET /api/v1/agents"
assert_eq "$(jqb '[.items[] | [.name, .state, .tests, .version]]')" \
    '[["agent-a","running",4,"0.1.0"],["agent-b","running",4,"0.1.0"],["agent-c","running",4,"0.1.0"]]' "agent list"
assert_eq "$(jqb '.items[0].addresses | index("198.18.11.2") != null')" true "agent-a's address"
grep -q 'msg="switched server" server=https://198.18.3.2:8443' "$NS_TMP/agent-b.log" ||
    fail "agent-b did not fail over: $(tail -5 "$NS_TMP/agent-b.log")"
echo "ok: agent list, failover"

# A wrong workspace key: 401, logged, backed off (5 s, then 10 s), nothing registered.
ns_bg a "$CMON" agent --server "$SRV_URL" --key cmon_wrong --name agent-x \
    --state-dir "$NS_TMP/state-x" --ca "$NS_TMP/tls/ca.pem" >"$NS_TMP/agent-x.log" 2>&1
# A CA that did not sign the server's certificate.
agents_tls "$NS_TMP/otherca" 198.18.3.2
ns_bg a "$CMON" agent --server "$SRV_URL" --key "$KEY" --name agent-y \
    --state-dir "$NS_TMP/state-y" --ca "$NS_TMP/otherca/ca.pem" >"$NS_TMP/agent-y.log" 2>&1
backed_off() { grep -q 'retry_in_ms=10000' "$NS_TMP/agent-x.log"; }
wait_for 20 "agent-x backs off twice" backed_off
grep -q 'msg="the workspace key was refused (wrong or revoked --key); backing off" status=401' \
    "$NS_TMP/agent-x.log" || fail "no 401 line: $(cat "$NS_TMP/agent-x.log")"
# agent-y's first attempt may come later than agent-x's second on a busy machine
ca_refused() { grep -q "the server's TLS certificate was refused" "$NS_TMP/agent-y.log"; }
for _ in $(seq 30); do ca_refused && break; sleep 1; done
ca_refused || fail "wrong CA not reported: $(cat "$NS_TMP/agent-y.log")"
[ "$(api GET /api/v1/agents)" = 200 ] || fail "GET /api/v1/agents"
assert_eq "$(jqb '[.items[].name]')" '["agent-a","agent-b","agent-c"]' "registered agents"
echo "ok: wrong key (401, backoff), wrong CA (refused)"

# Garbage on the agent endpoints.
TOKEN_A=$(jq -r .token "$NS_TMP/state-a/agent.json")
check() { # STATUS CODE METHOD PATH BODY TOKEN
    local st; st=$(api "$3" "$4" "$5" "$6")
    [ "$st" = "$1" ] || fail "$3 $4 '$5': status $st, want $1: $(cat "$NS_TMP/body")"
    assert_eq "$(jqb .error.code)" "\"$2\"" "$3 $4 '$5'"
}
check 400 invalid_json POST /api/v1/agents/register 'garbage{' "$KEY"
check 400 invalid_parameter POST /api/v1/agents/register '{"name":"../etc"}' "$KEY"
check 400 invalid_parameter POST /api/v1/agents/register '{"name":"ok","x":1}' "$KEY"
check 400 invalid_parameter POST /api/v1/agents/register '{"name":"ok","addresses":"no"}' "$KEY"
check 401 unauthorized POST /api/v1/agents/register '{"name":"ok"}' cmon_wrong
check 403 forbidden POST /api/v1/agents/register '{"name":"agent-b"}' "$TOKEN_A"
check 400 invalid_json POST /api/v1/agent/results '\x00\x01' "$TOKEN_A"
check 400 invalid_parameter POST /api/v1/agent/results '{"batch":-1,"results":[]}' "$TOKEN_A"
OLD='{"testId":"0123456789abcdef","startTime":"2001-01-01T00:00:00Z","checksTotal":1,"checksFailed":0}'
check 400 validation_failed POST /api/v1/agent/results "{\"batch\":99999,\"results\":[$OLD,{\"testId\":1}]}" "$TOKEN_A"
check 403 forbidden POST /api/v1/agent/results "{\"batch\":99999,\"results\":[$OLD]}" "$KEY"
check 400 invalid_parameter POST /api/v1/agent/heartbeat '{"heartbeatSec":0}' "$TOKEN_A"
check 403 forbidden GET /api/v1/agent/assignments '' "$KEY"
check 403 forbidden GET /api/v1/agents '' "$TOKEN_A"
[ "$(api POST /api/v1/query '{"sql":"SELECT count(*) FROM results WHERE start_ns < 1000000000000000000"}')" = 200 ] ||
    fail "query: $(cat "$NS_TMP/body")"
assert_eq "$(jqb '.rows[0][0]')" 0 "results stored from rejected bodies"
echo "ok: garbage bodies rejected, nothing stored"

# Removing an agent revokes its token: the agent gets 401, says so, and
# registers again with the workspace key.
[ "$(api DELETE /api/v1/agents/agent-a)" = 204 ] || fail "DELETE agent-a: $(cat "$NS_TMP/body")"
[ "$(api DELETE /api/v1/agents/agent-a)" = 404 ] || fail "DELETE agent-a twice"
back() { [ "$(grep -c 'msg="registered" agent=agent-a' "$NS_TMP/agent-a.log")" = 2 ]; }
wait_for 20 "agent-a registers again after its token was revoked" back
grep -q "the server refused this agent's token (revoked?); registering again" "$NS_TMP/agent-a.log" ||
    fail "no revocation line"
check 401 unauthorized POST /api/v1/agent/heartbeat '{}' "$TOKEN_A"
[ "$(api GET /api/v1/agents)" = 200 ] || fail "GET /api/v1/agents"
assert_eq "$(jqb '[.items[] | [.name, .state]]')" \
    '[["agent-a","running"],["agent-b","running"],["agent-c","running"]]' "agents after re-registration"
echo "ok: revoked agent token -> 401 -> registered again with the workspace key"
