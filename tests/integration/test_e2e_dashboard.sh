#!/usr/bin/env bash
# test_e2e_dashboard.sh: the dashboard in a real browser.  A real `cmon run`
# runs inside a client namespace (only loopback + a veth, no default route);
# its targets live on a server namespace (198.18.1.2): nginx on port 80
# (Pass), port 81 closed (Fail: connection_refused) and ICMP (Pass).
# Debian's chromium runs in the client namespace too, reaching the dashboard
# on that namespace's 127.0.0.1, driven by playwright-core
# (tests/e2e/dashboard.test.js); screenshots go to $CMON_BUILD_DIR/screenshots/.
# Skips (77) when chromium, node/npm or namespaces are missing.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
BUILD=${CMON_BUILD_DIR:-$(dirname "$CMON")}
NS_PREFIX=cmw
. "$SRC/tests/integration/lib/netns.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "chromium is not installed ($CHROMIUM; apt-get install chromium)"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs)"
command -v nginx >/dev/null || skip "nginx (nginx-light) is not installed"
command -v curl >/dev/null && command -v jq >/dev/null || skip "curl and jq are needed"
E2E=$SRC/tests/e2e
if [ ! -d "$E2E/node_modules/playwright-core" ]; then
    command -v npm >/dev/null || skip "npm is not installed (apt-get install npm)"
    (cd "$E2E" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
        skip "npm ci in tests/e2e failed (no registry access?)"
fi
ns_require

ns_add client
ns_add srv
ns_link client srv 1

mkdir -p "$NS_TMP/nginx/logs"
cat >"$NS_TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $NS_TMP/nginx/nginx.pid;
error_log $NS_TMP/nginx/error.log;
events { worker_connections 64; }
http { access_log off; server { listen 198.18.1.2:80; return 204; } }
NGX
ns_bg srv nginx -p "$NS_TMP/nginx" -c "$NS_TMP/nginx/nginx.conf" -g 'daemon off;'
wait_port client 198.18.1.2 80

cat >"$NS_TMP/e2e.json" <<'EOF_MON'
{"name": "e2e", "properties": {
  "notes": "dashboard e2e: nginx passes, a closed port fails",
  "endpoints": [
    {"name": "local", "type": "Agent", "address": "local"},
    {"name": "web-ok", "type": "ExternalAddress", "address": "198.18.1.2"},
    {"name": "web-closed", "type": "ExternalAddress", "address": "198.18.1.2"},
    {"name": "srv-host", "type": "ExternalAddress", "address": "198.18.1.2"}],
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
    {"name": "backup-host", "type": "ExternalAddress", "address": "198.18.1.2"}],
  "testConfigurations": [{"name": "backup-icmp", "protocol": "Icmp", "testFrequencySec": 30}],
  "testGroups": [{"name": "backup-ping", "sources": ["local"], "destinations": ["backup-host"],
                  "testConfigurations": ["backup-icmp"]}]}}
EOF_MON

PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT
ns_bg client "$CMON" run --listen "127.0.0.1:$PORT" --data "$NS_TMP/data" \
    "$NS_TMP/e2e.json" "$NS_TMP/backup.json" >"$NS_TMP/run.out" 2>"$NS_TMP/run.err"
wait_port client 127.0.0.1 "$PORT"

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

# The editor's bad file: `cmon validate` says where the problem is; the
# dashboard must show the same line:column.
cat >"$NS_TMP/bad.json" <<'EOF_MON'
{"name": "bad", "properties": {
  "endpoints": [{"name": "local", "type": "Agent", "address": "local"},
                {"name": "d", "address": "198.18.1.2"}],
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
export BAD_FILE=$NS_TMP/bad.json BAD_POS CMON CMON_DATA=$NS_TMP/data
export CMON_URL=$B SCREENSHOT_DIR=$BUILD/screenshots CHROMIUM PROFILE_DIR=$NS_TMP/profile
export NODE_PATH=$E2E/node_modules
ns_in client node "$E2E/dashboard.test.js" || fail "browser checks failed (screenshots in $BUILD/screenshots)"
echo "ok: dashboard e2e passed; screenshots in $BUILD/screenshots"
