#!/usr/bin/env bash
# test_run.sh: `cmon run` end to end -- the banner with the URL, open mode on
# loopback, the monitor files applied at start, refusal of an invalid file
# with validate's file:line:col messages, data kept across restarts, tokens
# switching auth on, graceful stop on SIGINT and SIGTERM.
# Everything runs inside a fresh network namespace (prefix cms + PID, only
# loopback, no default route), so whatever the embedded agent probes stays
# on 127.0.0.1 / ::1 of that namespace.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
for tool in curl jq ip; do
    command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
NS=cms$$
if ! ip netns add "$NS" 2>/dev/null; then
    echo "SKIP: cannot create a network namespace (needs root / CAP_SYS_ADMIN)"
    exit 77
fi
TMP=$(mktemp -d /tmp/cmon-run-XXXXXX)
RUN_PID=
cleanup() {
    set +e
    [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip -6 addr add ::1/128 dev lo 2>/dev/null || true
# allow unprivileged ICMP sockets in the namespace, as on most desktops
in_ns sysctl -qw net.ipv4.ping_group_range="0 2147483647" 2>/dev/null || true

fail() { echo "FAIL: $*" >&2; echo "--- stdout:" >&2; cat "$TMP/run.out" >&2 || true;
         echo "--- stderr:" >&2; tail -20 "$TMP/run.err" >&2 || true; exit 1; }
pass() { echo "ok: $*"; }

PORT=8080   # the namespace is ours: local.json's own port is free here
B=http://127.0.0.1:$PORT

start_run() {
    ip netns exec "$NS" "$CMON" run --data "$TMP/data" "$@" >"$TMP/run.out" 2>"$TMP/run.err" &
    RUN_PID=$!
    for _ in $(seq 100); do
        grep -q "serving" "$TMP/run.out" 2>/dev/null && return 0
        kill -0 $RUN_PID 2>/dev/null || fail "cmon run exited at start"
        sleep 0.1
    done
    fail "no banner"
}
stop_run() { # SIGNAL
    kill -"$1" $RUN_PID
    wait $RUN_PID || fail "cmon run exit status $? after SIG$1"
    RUN_PID=
}

start_run "$SRC/docs/examples/local.json"
grep -q "^cmon run: serving $B (store sqlite:$TMP/data/cmon.db)$" "$TMP/run.out" || fail "banner"
grep -q "running open" "$TMP/run.out" || fail "open mode not announced"
grep -q 'msg="monitor applied" file=[^ ]*local.json monitor=local created=true' "$TMP/run.err" || fail "apply log"
grep -q '^ts=.* level=info component=run msg="listening" url=' "$TMP/run.err" || fail "logfmt"
in_ns curl -sf "$B/api/v1/tests?monitor=local" >"$TMP/tests.json" || fail "tests view"
[ "$(jq '.items | length' "$TMP/tests.json")" = 4 ] || fail "4 tests of local.json"
[ "$(jq -r '[.items[].destination] | join(",")' "$TMP/tests.json")" = \
  "cmon-server,loopback-v4,loopback-v6,closed-port" ] || fail "test order"
grep -q 'msg="embedded agent tests" agent=.* tests=4' "$TMP/run.err" || fail "agent took 4 tests"
pass "cmon run: banner, open mode, local.json applied, embedded agent scheduled 4 tests"

# The embedded agent probes within one period (30 s, phase-spread): the
# closed port fails with its diagnostic; loopback ICMP and the server's own
# /healthz over HTTP pass.
state_of() { jq -r --arg d "$1" '.items[] | select(.destination == $d) | .state' "$TMP/tests.json"; }
for _ in $(seq 45); do
    in_ns curl -sf "$B/api/v1/tests?monitor=local" >"$TMP/tests.json" || fail "tests view"
    [ "$(state_of closed-port)" = Fail ] && [ "$(state_of loopback-v4)" != Indeterminate ] &&
        [ "$(state_of loopback-v6)" != Indeterminate ] && [ "$(state_of cmon-server)" != Indeterminate ] &&
        break
    sleep 1
done
[ "$(state_of closed-port)" = Fail ] || fail "closed port not Fail in 45 s"
jq -e '.items[] | select(.destination == "closed-port") |
       (.reason | startswith("ChecksFailedPercent 100 > 5; connection_refused")) and
       .diagnostic == "connection_refused" and .checksFailedPercent == 100' \
    "$TMP/tests.json" >/dev/null || fail "closed-port reason"
[ "$(state_of loopback-v4)" = Pass ] || fail "ICMP 127.0.0.1: $(state_of loopback-v4)"
[ "$(state_of loopback-v6)" = Pass ] || fail "ICMP ::1: $(state_of loopback-v6)"
HTTP_REASON=$(jq -r '.items[] | select(.destination == "cmon-server") | .reason' "$TMP/tests.json")
[ "$(state_of cmon-server)" = Pass ] || fail "the server's own /healthz over HTTP: $HTTP_REASON"
ID=$(jq -r '.items[] | select(.destination == "closed-port") | .id' "$TMP/tests.json")
in_ns curl -sf "$B/api/v1/results?testId=$ID" >"$TMP/results.json" || fail "results"
[ "$(jq -r '.items[0].agent' "$TMP/results.json")" = "$(hostname)" ] || fail "agent name"
pass "embedded agent: rounds stored as the host's agent, Pass and Fail with reasons"

# One name for the embedded agent everywhere: the agents list (with its alias
# and a real last-seen) and a search of sources by that name, although
# local.json calls it by the alias "local".
host=$(hostname)
in_ns curl -sf "$B/api/v1/agents" >"$TMP/agents.json" || fail "agents"
jq -e --arg h "$host" '[.items[] | select(.embedded)] | length == 1 and .[0].name == $h and
    .[0].aliases == ["local"] and .[0].state == "running" and (.[0].lastSeen | type) == "string"' \
    "$TMP/agents.json" >/dev/null || fail "the embedded agent's row: $(cat "$TMP/agents.json")"
in_ns curl -sf "$B/api/v1/tests?q=$host&scope=sources" >"$TMP/found.json" || fail "search"
[ "$(jq '.items | length' "$TMP/found.json")" = 4 ] || fail "searching sources for $host: $(jq -c '[.items[].source]' "$TMP/found.json")"
pass "the embedded agent has one name: agents list, tests, search; and a real last-seen"

stop_run INT
grep -q 'msg="stopped"' "$TMP/run.err" || fail "stop log"
pass "SIGINT stops cmon run cleanly"

# an invalid file stops the start with validate's messages
cat >"$TMP/broken.json" <<'EOF'
{"properties": {"endpoints": [{"name": "a", "adress": "x"}]}}
EOF
set +e
in_ns "$CMON" run --data "$TMP/data" "$TMP/broken.json" >"$TMP/run.out" 2>"$TMP/run.err"
rc=$?
set -e
[ $rc = 1 ] || fail "invalid file exits $rc, want 1"
grep -q "^$TMP/broken.json:1:[0-9]*: " "$TMP/run.err" || fail "file:line:col message"
pass "cmon run refuses an invalid monitor file with file:line:col messages"

# data survives a restart; a token switches authentication on
TOKEN=$("$CMON" token create --role reader --data "$TMP/data" 2>/dev/null)
start_run
grep -q "running open" "$TMP/run.out" && fail "open mode with a token"
code=$(in_ns curl -s -o /dev/null -w '%{http_code}' "$B/api/v1/tests")
[ "$code" = 401 ] || fail "no token: $code, want 401"
in_ns curl -sf -H "Authorization: Bearer $TOKEN" "$B/api/v1/tests?monitor=local" >"$TMP/tests.json" ||
    fail "reader token"
[ "$(jq '.items | length' "$TMP/tests.json")" = 4 ] || fail "monitor kept across restart"
stop_run TERM
pass "data kept across restarts; tokens turn authentication on; SIGTERM stops cleanly"
echo "all run checks passed"
