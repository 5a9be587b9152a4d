#!/usr/bin/env bash
# test_run_restart.sh: `cmon run FILE` at every start (as `make run` does)
# keeps what was changed since through the dashboard or the API -- the newer
# one wins -- and applies the file again once the file is the newer one.
# The monitor's tests are sourced at another agent, so the embedded agent
# probes nothing; everything runs in a namespace with only loopback.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?}
NS_PREFIX=rr
. "$SRC/tests/integration/lib/netns.sh"
ns_require
command -v curl >/dev/null && command -v jq >/dev/null || skip "curl and jq are needed"
ns_add host
port=$((20000 + ($$ * 7) % 20000))
B=http://127.0.0.1:$port
data=$NS_TMP/data
file=$NS_TMP/shop.json
cat >"$file" <<'JSON'
{"name": "shop", "properties": {
  "endpoints": [{"name": "office", "type": "Agent", "address": "office-agent"},
                {"name": "web", "address": "198.18.9.9"}],
  "testConfigurations": [{"name": "ping", "protocol": "Icmp"}],
  "testGroups": [{"name": "g", "sources": ["office"], "destinations": ["web"],
                  "testConfigurations": ["ping"]}],
  "notes": "from the file"}}
JSON

start() { ns_cmon_run host "$port" --listen "127.0.0.1:$port" --data "$data" "$file"; }
stop() { ns_cmon_stop; }
notes() { ns_in host curl -sf "$B/api/v1/connectionMonitors/shop" | jq -r .properties.notes; }

start
[ "$(notes)" = "from the file" ] || fail "first start: notes $(notes)"
# an edit made in the dashboard's editor (the same PUT it sends)
jq '.properties.notes = "edited in the dashboard"' "$file" |
    ns_in host curl -sf -X PUT -H 'Content-Type: application/json' --data-binary @- \
        "$B/api/v1/connectionMonitors/shop" >/dev/null || fail "PUT"
stop
start
[ "$(notes)" = "edited in the dashboard" ] || fail "restart overwrote the edit: notes $(notes)"
grep -q "monitor shop was changed (dashboard or API) after the file was; keeping" "$NS_TMP/run.err" ||
    fail "no word of the kept edit: $(cat "$NS_TMP/run.err")"
stop
# the file changes afterwards: now the file is newer, and wins
sed -i 's/from the file/from the file, second version/' "$file"
touch -d '+2 seconds' "$file"
start
[ "$(notes)" = "from the file, second version" ] || fail "a newer file was not applied: notes $(notes)"
stop

# make run while another program holds 8080: the next free port, said so
ns_bg host python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen(); time.sleep(600)'
holder=${NS_PIDS[-1]}
for _ in $(seq 100); do ns_in host python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080))' 2>/dev/null && break; sleep 0.1; done
ns_bg host "$CMON" run --data "$NS_TMP/data2" >"$NS_TMP/run2.out" 2>"$NS_TMP/run2.err"
for _ in $(seq 150); do ns_in host curl -sf http://127.0.0.1:8081/healthz >/dev/null 2>&1 && break; sleep 0.2; done
ns_in host curl -sf http://127.0.0.1:8081/healthz >/dev/null || fail "no server on 8081: $(cat "$NS_TMP/run2.err")"
grep -q "port 8080 is taken by another program; serving on 127.0.0.1:8081" "$NS_TMP/run2.err" ||
    fail "the move to 8081 was not said: $(cat "$NS_TMP/run2.err")"
for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
NS_PIDS=()
echo "PASS: restarts keep newer edits and apply newer files; a taken port moves, said so"
