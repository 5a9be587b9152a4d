#!/usr/bin/env bash
# scopes.sh: what the filter bar's scope selectors cost at fleet scale.  A
# real `cmon server` on 127.0.0.1 (SQLite, or --store postgres with a private
# cluster) holds N agents x M tests (monitors of 90 agents x M destinations,
# one configuration; nothing is probed, no agent runs); then, REPEAT times
# alternating, the old way (every page of GET /api/v1/tests?limit=1000, as
# the dashboard's api.getAll walked them, plus jq computing the distinct
# values) against one GET /api/v1/tests/scopes?limit=10000, and checks both
# give the same values.  INDEXES=1 (SQLite only) then adds an index per
# selector column and times the endpoint again.  Defaults: 1,000 agents x 10
# tests (so that `make bench` stays short); the fleet size is --agents 10000.
# Prints wall times (min/median/max), bytes and the ratio.  Asserts nothing.
# usage: bench/scopes.sh [--agents N] [--tests M] [--store sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
CMON=${CMON:-$BUILD/cmon}
AGENTS=1000 TESTS=10 STORE=sqlite REPEAT=${REPEAT:-3}
while [ $# -gt 0 ]; do
    case "$1" in
    --agents) AGENTS=$2; shift 2 ;;
    --tests) TESTS=$2; shift 2 ;;
    --store) STORE=$2; shift 2 ;;
    *) echo "usage: $0 [--agents N] [--tests M] [--store sqlite|postgres]" >&2; exit 2 ;;
    esac
done
[ -x "$CMON" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
for tool in curl jq; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
[ "$TESTS" -ge 1 ] && [ "$TESTS" -le 10 ] || { echo "--tests must be 1..10" >&2; exit 2; }
PER=90 # a monitor holds at most 100 endpoints: 90 agents + M destinations
MONITORS=$(( (AGENTS + PER - 1) / PER ))

TMP=$(mktemp -d /tmp/cmon-bench-scopes-XXXXXX)
PORT=$((20000 + $$ % 12000))
B=http://127.0.0.1:$PORT
PID=
stop_server() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    PID=
}
cleanup() {
    stop_server
    [ "$STORE" = postgres ] && pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
if [ "$STORE" = postgres ]; then
    . tests/integration/lib/pg.sh
    pg_start
    URL=$PG_URL
else
    URL=sqlite:$TMP/cmon.db
fi
start_server() {
    "$CMON" server --listen "127.0.0.1:$PORT" --store "$URL" --log-level warn \
        --max-monitors $((MONITORS + 10)) >/dev/null 2>"$TMP/server.err" &
    PID=$!
    for _ in $(seq 100); do curl -sf "$B/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "the server did not start:" >&2; tail -5 "$TMP/server.err" >&2; exit 1
}
start_server

# monitor k: agents sim-(k*90).. as sources, destinations dst-k-0..M-1 (TCP 443)
for k in $(seq 0 $((MONITORS - 1))); do
    lo=$((k * PER)) hi=$(( (k + 1) * PER < AGENTS ? (k + 1) * PER : AGENTS ))
    jq -n --argjson lo $lo --argjson hi $hi --argjson m "$TESTS" --argjson k "$k" '{properties: {
        endpoints: ([range($lo; $hi) | {name: "sim-\(.)", type: "Agent", address: "sim-\(.)"}] +
                    [range($m) | {name: "dst-\($k)-\(.)", address: "198.18.\($k % 250).\(. + 1)"}]),
        testConfigurations: [{name: "tcp443", protocol: "Tcp", tcpConfiguration: {port: 443}}],
        testGroups: [{name: "g-\($k % 100)", sources: [range($lo; $hi) | "sim-\(.)"],
                      destinations: [range($m) | "dst-\($k)-\(.)"], testConfigurations: ["tcp443"]}]}}' >"$TMP/m.json"
    curl -sf -X PUT -H "Content-Type: application/json" --data-binary @"$TMP/m.json" \
        "$B/api/v1/connectionMonitors/fleet-$k" >/dev/null ||
        { echo "applying monitor fleet-$k failed:" >&2; tail -5 "$TMP/server.err" >&2; exit 1; }
done

now() { date +%s.%N; }
# the old way: every page, then the distinct values per key (the dashboard's distinct())
old_way() {
    local cursor= pages=0 t0 t1
    : >"$TMP/rows"
    t0=$(now)
    while :; do
        curl -sf "$B/api/v1/tests?limit=1000${cursor:+&cursor=$cursor}" >"$TMP/page"
        pages=$((pages + 1))
        jq -c '.items[]' "$TMP/page" >>"$TMP/rows"
        cursor=$(jq -r '.next // empty' "$TMP/page")
        [ -n "$cursor" ] || break
    done
    jq -sc '. as $t | ["testGroup","source","destination","destinationType","testConfiguration"]
        | map({key: ., value: ([$t[][.] | select(. != null and . != "")] | unique)}) | from_entries' \
        "$TMP/rows" >"$TMP/old.json"
    t1=$(now)
    echo "$(echo "$t1 - $t0" | bc) $pages $(wc -c <"$TMP/rows")"
}
new_way() {
    curl -sf -o "$TMP/new.json" -w '%{time_total} %{size_download}\n' "$B/api/v1/tests/scopes?limit=10000"
}
stats() { sort -n | awk '{a[NR]=$1} END {printf "min %.3f median %.3f max %.3f", a[1], a[int((NR+1)/2)], a[NR]}'; }

N=$(curl -sf "$B/api/v1/connectionMonitors?limit=1000" | jq '[.items[].testCount] | add')
echo "scopes: $N tests ($AGENTS agents, $MONITORS monitors, $STORE); $(nproc) CPUs shared with other work, load average $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/old.t" && : >"$TMP/new.t"
for i in $(seq "$REPEAT"); do
    read -r t pages bytes < <(old_way)
    echo "$t" >>"$TMP/old.t"
    read -r tn nbytes < <(new_way)
    echo "$tn" >>"$TMP/new.t"
done
same=$(jq -c 'del(.truncated)' "$TMP/new.json" | cmp -s - <(jq -c . "$TMP/old.json") && echo yes || echo NO)
echo "old: $pages pages of GET /api/v1/tests ($bytes bytes of rows) + jq distinct: $(stats <"$TMP/old.t") s"
echo "new: one GET /api/v1/tests/scopes ($nbytes bytes; truncated $(jq -c .truncated "$TMP/new.json")): $(stats <"$TMP/new.t") s"
echo "same values both ways: $same; distinct per key: $(jq -c 'del(.truncated) | map_values(length)' "$TMP/new.json")"
echo "ratio (median old / median new): $(paste <(stats <"$TMP/old.t" | awk '{print $4}') <(stats <"$TMP/new.t" | awk '{print $4}') | awk '{printf "%.0fx", $1 / $2}')"

if [ "${INDEXES:-0}" = 1 ] && [ "$STORE" = sqlite ]; then
    stop_server
    for c in test_group source destination destination_type test_config; do
        sqlite3 "${URL#sqlite:}" "CREATE INDEX bench_tests_$c ON tests ($c)"
    done
    start_server
    : >"$TMP/idx.t"
    for i in $(seq "$REPEAT"); do
        read -r tn nbytes < <(new_way)
        echo "$tn" >>"$TMP/idx.t"
    done
    echo "new with an index per column: $(stats <"$TMP/idx.t") s"
fi
