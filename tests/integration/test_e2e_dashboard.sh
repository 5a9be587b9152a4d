#!/usr/bin/env bash
# test_e2e_dashboard.sh: the dashboard in a real browser.  A real `cmon run`
# runs inside a client namespace (only loopback + a veth, no default route)
# behind routers:
#   client -(1)- r1 -(2)- srv    198.18.2.2: nginx on port 80 (Pass), port 81
#                 |                closed (Fail: connection_refused), ICMP (Pass)
#                 +-(3)- r2 -(4)- far   198.18.4.2: ICMP (Pass, monitor "backup")
#                 +-(5)- r2b -(6)-+     (the route to far once rerouted)
# so traced paths have 2 hops (srv) and 3 hops (far).  Paths are traced every
# 30 s; after the first trace far's route moves from r2 to r2b, which the
# next trace records as a route change.  An nft rule in r1 drops
# the first 2 of the 10 traceroute rounds past r1 towards far (ICMP echo
# sequence 0-127, the round being seq >> 6, with a TTL below 31; the test's
# own checks leave with TTL 64), so hops 2 and 3 of that path lose exactly
# 20 %: a hop_loss issue at hop 2 (198.18.3.2, then 198.18.5.2) while the
# checks stay clean.  Alert rules are applied through
# the API: "broken-fails" (state rule) fires on the failing test;
# "rtt-seen" fires on srv-host and is disabled, so it is history.
# Debian's chromium runs in the client namespace too, reaching the dashboard
# on that namespace's 127.0.0.1, driven by playwright-core
# (tests/e2e/dashboard.test.js); screenshots go to $CMON_BUILD_DIR/screenshots/.
# Skips (77) when chromium, node/npm, nft or namespaces are missing.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
BUILD=${CMON_BUILD_DIR:-$(dirname "$CMON")}
NS_PREFIX=cw
. "$SRC/tests/integration/lib/netns.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "chromium is not installed ($CHROMIUM; apt-get install chromium)"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs)"
command -v nginx >/dev/null || skip "nginx (nginx-light) is not installed"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
command -v curl >/dev/null && command -v jq >/dev/null || skip "curl and jq are needed"
E2E=$SRC/tests/e2e
if [ ! -d "$E2E/node_modules/playwright-core" ]; then
    command -v npm >/dev/null || skip "npm is not installed (apt-get install npm)"
    (cd "$E2E" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
        skip "npm ci in tests/e2e failed (no registry access?)"
fi
ns_require

for n in client r1 srv r2 far; do ns_add "$n"; done
ns_link client r1 1
ns_link r1 srv 2
ns_link r1 r2 3
ns_link r2 far 4
ns_forward r1
ns_forward r2
# routers answer every probe (Linux limits ICMP errors to 1/s per peer)
for n in r1 r2 srv far; do ns_in "$n" sysctl -qw net.ipv4.icmp_ratelimit=0; done
ns_route client 198.18.0.0/16 198.18.1.2
ns_route r1 198.18.4.0/24 198.18.3.2
ns_route r2 198.18.1.0/24 198.18.3.1
ns_route srv 198.18.1.0/24 198.18.2.1
ns_route far 198.18.0.0/16 198.18.4.1
ns_in r1 nft -f - <<'NFT'
table ip cw_e2e {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip daddr 198.18.4.2 ip ttl 2-30 icmp type echo-request icmp sequence 0-127 drop
  }
}
NFT

mkdir -p "$NS_TMP/nginx/logs"
cat >"$NS_TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $NS_TMP/nginx/nginx.pid;
error_log $NS_TMP/nginx/error.log;
events { worker_connections 64; }
http { access_log off; server { listen 198.18.2.2:80; return 204; } }
NGX
ns_bg srv nginx -p "$NS_TMP/nginx" -c "$NS_TMP/nginx/nginx.conf" -g 'daemon off;'
wait_port client 198.18.2.2 80

cat >"$NS_TMP/e2e.json" <<'EOF_MON'
{"name": "e2e", "properties": {
  "notes": "dashboard e2e: nginx passes, a closed port fails",
  "endpoints": [
    {"name": "local", "type": "Agent", "address": "local"},
    {"name": "web-ok", "type": "ExternalAddress", "address": "198.18.2.2"},
    {"name": "web-closed", "type": "ExternalAddress", "address": "198.18.2.2"},
    {"name": "srv-host", "type": "ExternalAddress", "address": "198.18.2.2"}],
  "testConfigurations": [
    {"name": "tcp-80", "protocol": "Tcp", "testFrequencySec": 30, "tcpConfiguration": {"port": 80},
     "successThreshold": {"checksFailedPercent": 5, "roundTripTimeMs": 500}},
    {"name": "tcp-81", "protocol": "Tcp", "testFrequencySec": 30, "tcpConfiguration": {"port": 81},
     "successThreshold": {"checksFailedPercent": 5, "roundTripTimeMs": 500}},
    {"name": "icmp", "protocol": "Icmp", "testFrequencySec": 30,
     "successThreshold": {"checksFailedPercent": 10, "roundTripTimeMs": 500}}],
  "testGroups": [
    {"name": "web", "sources": ["local"], "destinations": ["web-ok"], "testConfigurations": ["tcp-80"]},
    {"name": "broken", "sources": ["local"], "destinations": ["web-closed"], "testConfigurations": ["tcp-81"]},
    {"name": "ping", "sources": ["local"], "destinations": ["srv-host"], "testConfigurations": ["icmp"]}]}}
EOF_MON
cat >"$NS_TMP/backup.json" <<'EOF_MON'
{"name": "backup", "properties": {
  "endpoints": [
    {"name": "local", "type": "Agent", "address": "local"},
    {"name": "backup-host", "type": "ExternalAddress", "address": "198.18.4.2"}],
  "testConfigurations": [{"name": "backup-icmp", "protocol": "Icmp", "testFrequencySec": 30}],
  "testGroups": [{"name": "backup-ping", "sources": ["local"], "destinations": ["backup-host"],
                  "testConfigurations": ["backup-icmp"]}]}}
EOF_MON

PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT
ns_bg client "$CMON" run --listen "127.0.0.1:$PORT" --data "$NS_TMP/data" --trace-interval 30 --region lab-1 \
    "$NS_TMP/e2e.json" "$NS_TMP/backup.json" >"$NS_TMP/run.out" 2>"$NS_TMP/run.err"
wait_port client 127.0.0.1 "$PORT"
api() { ns_in client curl -sf -H 'Content-Type: application/json' "$@"; } # writes send JSON (DESIGN 9)
# alert rules through the API (evaluated every 10 s)
api -X PUT "$B/api/v1/alertRules/broken-fails" -d '{"kind": "state", "scope": "test",
    "states": ["Fail"], "forEvaluations": 1, "evaluationFrequencySec": 10,
    "dimensions": {"monitor": "e2e"}, "severity": 1}' >/dev/null || fail "PUT alert rule broken-fails"
api -X PUT "$B/api/v1/alertRules/rtt-seen" -d '{"metric": "RoundTripTimeMs",
    "operator": "GreaterThanOrEqual", "threshold": 0, "windowSizeSec": 60,
    "evaluationFrequencySec": 10, "dimensions": {"destination": "srv-host"}, "severity": 3}' >/dev/null ||
    fail "PUT alert rule rtt-seen"

# Every test has a first round (phase-spread over the 30 s period).
ready=
for _ in $(seq 90); do
    if ns_in client curl -sf "$B/api/v1/tests" >"$NS_TMP/tests.json" 2>/dev/null &&
        [ "$(jq '[.items[] | select(.state == "Indeterminate")] | length' "$NS_TMP/tests.json")" = 0 ] &&
        [ "$(jq '.items | length' "$NS_TMP/tests.json")" = 4 ]; then
        ready=1; break
    fi
    sleep 1
done
[ -n "$ready" ] || { tail -20 "$NS_TMP/run.err" >&2; fail "tests did not all get a round in 90 s"; }
jq -r '.items[] | "\(.destination) \(.state) \(.reason)"' "$NS_TMP/tests.json"
[ "$(jq -r '.items[] | select(.destination == "web-closed") | .state' "$NS_TMP/tests.json")" = Fail ] ||
    fail "web-closed is not Fail"
echo "ok: cmon run in $(ns client) with 4 tests probed (web-closed Fail)"
id_of() { jq -r --arg d "$1" '.items[] | select(.destination == $d) | .id' "$NS_TMP/tests.json"; }
# wait_api SECONDS JQ-EXPR URL: until the expression is true on the answer
wait_api() {
    local i
    for i in $(seq 1 "$1"); do
        out=$(api "$B/api/v1/$3" 2>/dev/null) && [ "$(jq -r "$2" <<<"$out" 2>/dev/null)" = true ] && return 0
        sleep 1
    done
    echo "--- last answer: ${out:-}" >&2
    tail -20 "$NS_TMP/run.err" >&2
    for t in $(jq -r '.items[].id' "$NS_TMP/tests.json"); do
        echo "paths of $t: $(api "$B/api/v1/tests/$t/paths" | jq -c '[.items[] | [.time, (.hops | map(.address))]]')" >&2
    done
    fail "timed out after $1 s waiting for $2 on $3"
}
# traced paths: srv 2 hops; far 3 hops with the hop_loss at 198.18.3.2
wait_api 60 '.items | length > 0' "tests/$(id_of web-ok)/paths"
assert_eq "$(jq -r '.items[-1].hops | map(.address) | join(" ")' <<<"$out")" "198.18.1.2 198.18.2.2" "web-ok path"
wait_api 60 '.items | length > 0' "tests/$(id_of backup-host)/paths"
assert_eq "$(jq -r '.items[-1].hops | map(.address) | join(" ")' <<<"$out")" \
    "198.18.1.2 198.18.3.2 198.18.4.2" "backup-host path"
assert_eq "$(jq -r '.items[-1].hops | map("\(.sent)/\(.received)") | join(" ")' <<<"$out")" \
    "10/10 10/8 10/8" "backup-host probes sent/answered per hop"
assert_eq "$(jq -r '.items[-1].issues | map("\(.diagnostic)@\(.address)") | join(" ")' <<<"$out")" \
    "hop_loss@198.18.3.2" "backup-host hop issues"
echo "ok: paths traced (2 and 3 hops, hop_loss at 198.18.3.2)"
# reroute far's traffic r1 -> r2b -> far; the next trace (30 s after the
# first) records the route change; r1's nft rule still makes hop 2 lose 20 %
ns_add r2b
ns_link r1 r2b 5
ns_link r2b far 6
ns_forward r2b
ns_in r2b sysctl -qw net.ipv4.icmp_ratelimit=0
ns_route r2b 198.18.1.0/24 198.18.5.1
ns_route r2b 198.18.4.0/24 198.18.6.2
ns_in r1 ip route replace 198.18.4.0/24 via 198.18.5.2
ns_in far ip route replace 198.18.0.0/16 via 198.18.6.1
# alerts: broken-fails firing on web-closed; rtt-seen fired, then disabled -> history
wait_api 60 '[.items[] | select(.state == "firing") | .rule] | sort == ["broken-fails", "rtt-seen"]' "alerts"
api -X POST "$B/api/v1/alertRules/rtt-seen/disable" >/dev/null || fail "disable rtt-seen"
wait_api 30 '[.items[] | select(.rule == "rtt-seen") | .state] == ["resolved"]' "alerts"
assert_eq "$(jq -r '.items[] | select(.state == "firing") | .labels.destination' <<<"$out")" web-closed \
    "the firing alert's destination"
echo "ok: alert broken-fails firing on web-closed, rtt-seen resolved"
wait_api 75 '.items[-1].routeChanged' "tests/$(id_of backup-host)/paths"
assert_eq "$(jq -r '.items[-1].hops | map(.address) | join(" ")' <<<"$out")" \
    "198.18.1.2 198.18.5.2 198.18.4.2" "backup-host path after the reroute"
assert_eq "$(jq -r '[.items[] | select(.routeChanged)] | length' <<<"$out")" 1 "route changes"
echo "ok: the route change of backup-host is recorded"
# the embedded agent of cmon run, as GET /api/v1/agents lists it
api "$B/api/v1/agents" >"$NS_TMP/agents.json" || fail "GET agents"
jq -c '.items[]' "$NS_TMP/agents.json"
# named after the host, running, this binary's version, counting the tests
# whose source is it by name or by the alias "local" (e2e.json's 3 and
# backup.json's 1)
assert_eq "$(jq -c --arg h "$(ns_in client hostname)" --arg v "$("$CMON" version | head -1 | awk '{print $2}')" \
    '[.items[] | select(.embedded)] | map([.name == $h, .state, .version == $v, .tests, .registeredAt])' \
    "$NS_TMP/agents.json")" '[[true,"running",true,4,null]]' "the embedded agent in GET /api/v1/agents"
export AGENT_NAME AGENT_VERSION AGENT_STATE
AGENT_NAME=$(jq -r '.items[] | select(.embedded) | .name' "$NS_TMP/agents.json")
AGENT_VERSION=$(jq -r '.items[] | select(.embedded) | .version' "$NS_TMP/agents.json")
AGENT_STATE=$(jq -r '.items[] | select(.embedded) | .state' "$NS_TMP/agents.json")

# The editor's bad file: `cmon validate` says where the problem is; the
# dashboard must show the same line:column.
cat >"$NS_TMP/bad.json" <<'EOF_MON'
{"name": "bad", "properties": {
  "endpoints": [{"name": "local", "type": "Agent", "address": "local"},
                {"name": "d", "address": "198.18.2.2"}],
  "testConfigurations": [{"name": "t", "protocol": "Tcp", "testFrequencySec": 5,
                          "tcpConfiguration": {"port": 80}}],
  "testGroups": [{"name": "g", "sources": ["local"], "destinations": ["d"],
                  "testConfigurations": ["t"]}]}}
EOF_MON
set +e
"$CMON" validate "$NS_TMP/bad.json" >"$NS_TMP/validate.out" 2>&1
set -e
BAD_POS=$(sed -n "s|^$NS_TMP/bad.json:\([0-9]*:[0-9]*\): .*|\1|p" "$NS_TMP/validate.out" | head -1)
[ -n "$BAD_POS" ] || { cat "$NS_TMP/validate.out" >&2; fail "cmon validate gave no line:col for bad.json"; }
echo "ok: cmon validate puts the bad file's problem at $BAD_POS"

mkdir -p "$BUILD/screenshots"
rm -f "$BUILD/screenshots/failure.png"
export BAD_FILE=$NS_TMP/bad.json BAD_POS CMON CMON_DATA=$NS_TMP/data
export CMON_URL=$B SCREENSHOT_DIR=$BUILD/screenshots CHROMIUM PROFILE_DIR=$NS_TMP/profile
export NS_R1=$(ns r1) # the dashboard's alert rule sees r1 drop srv-host's pings
export NODE_PATH=$E2E/node_modules
ns_in client node "$E2E/dashboard.test.js" || fail "browser checks failed (screenshots in $BUILD/screenshots)"
echo "ok: dashboard e2e passed; screenshots in $BUILD/screenshots"
