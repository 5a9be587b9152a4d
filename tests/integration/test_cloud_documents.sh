#!/usr/bin/env bash
# test_cloud_documents.sh: connection-monitor documents written by others
# (docs/examples/cloud/, sources in its README) validate to their expected
# tests, or get the one problem that says what they are; the monitors among
# them are applied, unchanged, to a real `cmon server`.  The server runs no
# agent, so nothing probes the public names these documents carry.
set -u
: "${CMON:?set CMON to the cmon binary}"
: "${CMON_SOURCE_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
cloud="$CMON_SOURCE_DIR/docs/examples/cloud"
PORT=$((20000 + ($$ + 7919) % 20000))
. "$CMON_SOURCE_DIR/tests/integration/lib/api.sh"
api_init cloud
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }

# FILE: jq FILTER that cuts the document out of it ('.' for the whole file),
# saved as NAME.json (the name a document without "name" takes).
cut() { jq "$2" "$cloud/$1" >"$TMP/$3.json" || fail "$1: jq $2"; echo "$TMP/$3.json"; }

# want_tests FILE "MONITOR:N ..." -- valid, with these monitors and test counts
want_tests() {
    local f=$1 want=$2 got
    got=$("$CMON" validate --json "$f" | jq -r '[.files[0].monitors[] | "\(.monitor):\(.tests | length)"] | join(" ")') ||
        fail "$f: not valid: $("$CMON" validate "$f" 2>&1 | head -3)"
    [ "$got" = "$want" ] || fail "$f: got '$got', want '$want'"
    checked=$((checked + 1))
}

# want_problem FILE TEXT... -- invalid, with one problem holding every TEXT
want_problem() {
    local f=$1 out n
    shift
    out=$("$CMON" validate "$f" 2>&1) && fail "$f: valid, want a problem"
    grep -q ': 1 problem$' <<<"$out" || fail "$f: want exactly one problem: $out"
    for t in "$@"; do
        grep -qF -- "$t" <<<"$out" || fail "$f: no '$t' in: $out"
    done
    checked=$((checked + 1))
}

checked=0
# Whole files as published: none is a monitor by itself.
for f in "$cloud"/rest-*V2Create.json "$cloud"/rest-2025-03-01-NetworkWatcherConnectionMonitorCreate.json \
    "$cloud"/rest-2025-03-01-NetworkWatcherConnectionMonitorCreateWithArcNetwork.json; do
    want_problem "$f" "is a REST API example" "parameters.parameters (line" "responses.200.body (line"
done
want_problem "$cloud/rest-2019-06-01-NetworkWatcherConnectionMonitorCreate.json" "REST API example" \
    "parameters.parameters (line 9)"
want_problem "$cloud/rest-2025-03-01-NetworkWatcherConnectionMonitorGet.json" \
    "example of ConnectionMonitors_Get" "responses.200.body (line 11)"
want_problem "$cloud/rest-2025-03-01-NetworkWatcherConnectionMonitorList.json" "responses.200.body (line 10)"
want_problem "$cloud/rest-2025-03-01-NetworkWatcherConnectionMonitorUpdateTags.json" "responses.200.body (line 17)"
want_problem "$cloud/rest-2025-03-01-NetworkWatcherConnectionMonitorStop.json" \
    "example of ConnectionMonitors_Stop" "with no connection monitor in it"
want_problem "$cloud/rest-2019-06-01-NetworkWatcherConnectionMonitorQuery.json" "with no connection monitor in it"
want_problem "$cloud/arm-resourcemodules-2022-07-01-connection-monitors-main.json" \
    "ARM deployment template" "resources[1] (line 93)"
want_problem "$cloud/arm-resourcemodules-2023-04-01-connection-monitor-main.json" \
    "ARM deployment template" "resources.connectionMonitor (line 103)"

# The monitors inside them, cut out as a user saves them.
c25=rest-2025-03-01-NetworkWatcherConnectionMonitor
want_tests "$(cut ${c25}Create.json .parameters.parameters cm1)" "cm1:1"
want_tests "$(cut ${c25}Create.json '.responses["201"].body' create-201)" "cm1:1"
want_tests "$(cut ${c25}Get.json '.responses["200"].body' get)" "cm1:1"
want_tests "$(cut ${c25}List.json '.responses["200"].body' list)" "cm1:1 cm2:1"
want_tests "$(cut ${c25}List.json '[.responses["200"].body.value[]]' list-array)" "cm1:1 cm2:1"
want_tests "$(cut ${c25}V2Create.json .parameters.parameters v2)" "v2:4"
for v in 2019-11-01 2020-11-01 2021-02-01 2023-09-01 2025-03-01; do
    want_tests "$(cut rest-$v-NetworkWatcherConnectionMonitorV2Create.json '.responses["200"].body' "v2-$v")" "cm1:4"
done
want_problem "$(cut ${c25}UpdateTags.json '.responses["200"].body' classic)" "classic (v1) connection monitor"
want_problem "$(cut rest-2019-06-01-NetworkWatcherConnectionMonitorCreate.json '.responses["200"].body' classic2)" \
    "classic (v1) connection monitor"
want_problem "$(cut rest-2019-06-01-NetworkWatcherConnectionMonitorQuery.json '.responses["200"].body' query)" \
    "result of a connection monitor query"
# A compound source: an Arc network whose scope selects the agents by address
# (vm1 and the Arc network, each to bing and google).
want_tests "$(cut ${c25}CreateWithArcNetwork.json '.responses["200"].body' arc)" "cm1:4"
[ "$checked" -ge 30 ] || fail "only $checked documents checked"

# Applied unchanged to a server: a list response makes two monitors, a GET
# response and a PUT body one each, with the expected test counts.
start_server
export CMON_SERVER=$B
"$CMON" monitor apply "$TMP/list.json" "$TMP/v2.json" "$TMP/v2-2019-11-01.json" >"$TMP/apply.out" 2>&1 ||
    fail "apply: $(cat "$TMP/apply.out")"
req 200 GET /api/v1/connectionMonitors
jqeq '[.items[] | "\(.name):\(.testCount)"] | sort' '["cm1:4","cm2:1","v2:4"]'
# cm1 was applied twice (list, then the V2 response): the later one is kept
grep -q 'monitor cm1 updated (4 tests)' "$TMP/apply.out" || fail "cm1 not updated: $(cat "$TMP/apply.out")"
# a document that is not a monitor is refused before anything is sent
"$CMON" monitor apply "$cloud/${c25}Get.json" >"$TMP/bad.out" 2>&1 && fail "apply of a REST example succeeded"
grep -q 'REST API example' "$TMP/bad.out" || fail "apply of a REST example: $(cat "$TMP/bad.out")"
# the API takes one monitor per PUT, and says so for a list
req 400 PUT /api/v1/connectionMonitors/x "@$TMP/list.json"
jqeq '.error.message | test("list of 2 monitors")' true
echo "PASS: $checked cloud documents"
