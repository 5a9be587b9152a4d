#!/usr/bin/env bash
# fleet.sh: a fleet of simulated agents (bench/fleet.c, one process) against
# a real `cmon server` on 127.0.0.1: each agent registers with a workspace
# key, heartbeats, polls its assignments and sends 1-s result batches for its
# M tests; a reader times the dashboard's API meanwhile.  Prints results/s,
# ack and API latency, HTTP errors, server RSS and CPU per 1000 results.
# Asserts nothing.  PERF=FILE records the server with `perf record -g` while
# the simulator runs (then: perf report -i FILE --no-children).
# SERVER_ARGS="..." adds options to `cmon server` (e.g. --write-queue N).
# --replicas N (PostgreSQL only) starts N servers on one database; agent i
# talks to server i mod N, CPU and RSS are their sums.
# usage: bench/fleet.sh [--agents N] [--tests M] [--seconds S] [--store sqlite|postgres]
#                       [--replicas N]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
CMON=${CMON:-$BUILD/cmon}
AGENTS=50 TESTS=10 SECONDS_=60 STORE=sqlite REPLICAS=1
while [ $# -gt 0 ]; do
    case "$1" in
    --agents) AGENTS=$2; shift 2 ;;
    --tests) TESTS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --store) STORE=$2; shift 2 ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    *) echo "usage: $0 [--agents N] [--tests M] [--seconds S] [--store sqlite|postgres] [--replicas N]" >&2; exit 2 ;;
    esac
done
[ -f "$BUILD/libcmon.a" ] && [ -x "$CMON" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
for tool in curl jq; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
# a monitor holds at most 100 endpoints: agents per monitor + M destinations
[ "$TESTS" -ge 3 ] && [ "$TESTS" -le 90 ] || { echo "--tests must be 3..90" >&2; exit 2; }
[ "$REPLICAS" -ge 1 ] && [ "$REPLICAS" -le 4 ] || { echo "--replicas must be 1..4" >&2; exit 2; }
[ "$REPLICAS" = 1 ] || [ "$STORE" = postgres ] || { echo "--replicas needs --store postgres" >&2; exit 2; }
PER=$((100 - TESTS))
MONITORS=$(( (AGENTS + PER - 1) / PER ))

TMP=$(mktemp -d /tmp/cmon-bench-fleet-XXXXXX)
# below the ephemeral range (32768+): the simulator's thousands of client
# connections, and their TIME_WAITs, cannot hold the port
PORT=$((20000 + $$ % 12000))
B=http://127.0.0.1:$PORT
PIDS=()
cleanup() {
    local rc i
    for i in "${!PIDS[@]}"; do
        rc=0
        if kill "${PIDS[$i]}" 2>/dev/null; then
            wait "${PIDS[$i]}" 2>/dev/null || rc=$?
            echo "server $i exit status after SIGTERM: $rc"
        else # it ended before the stop: say how, with its last words
            wait "${PIDS[$i]}" 2>/dev/null || rc=$?
            echo "server $i ENDED BEFORE THE STOP, exit status $rc; its log's last lines:"
            tail -5 "$TMP/server.err.$i"
        fi
        # an ASan build (CMON_BUILD_DIR=build-asan) reports leaks at exit
        grep -A 40 -m 1 "Sanitizer" "$TMP/server.err.$i" || true
    done
    [ "$STORE" = postgres ] && pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$STORE" = postgres ]; then
    . tests/integration/lib/pg.sh
    PG_FSYNC=on pg_start
    URL=$PG_URL
else
    URL=sqlite:$TMP/cmon.db
fi

# shellcheck disable=SC2046
nice -n 10 cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -Ibench \
    bench/fleet.c bench/fleet_gen.c "$BUILD/libcmon.a" \
    $(pkg-config --cflags --libs libuv libcurl libcares libmicrohttpd jansson sqlite3 libpq openssl) \
    -lpthread -lm -o "$TMP/fleet"

KEY=$(CMON_DATA=$TMP "$CMON" token create --role agent --store "$URL" 2>/dev/null)
ADMIN=$(CMON_DATA=$TMP "$CMON" token create --role admin --store "$URL" 2>/dev/null)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # a descriptor per agent, both sides
URLS=
for i in $(seq 0 $((REPLICAS - 1))); do
    "$CMON" server --listen "127.0.0.1:$((PORT + i))" --store "$URL" --log-level warn \
        --max-monitors $((MONITORS + 10)) ${SERVER_ARGS:-} >/dev/null 2>"$TMP/server.err.$i" &
    PIDS+=($!)
    URLS=${URLS:+$URLS,}http://127.0.0.1:$((PORT + i))
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((PORT + i))/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done
PID=${PIDS[0]}

# monitor k: agents sim-(k*PER) .. sim-(k*PER+PER-1) as Agent sources, M
# destinations in 198.18/15 (nothing is probed), every third one ICMP (30 s),
# TCP 443 (60 s) or HTTP (60 s): M tests per agent
for k in $(seq 0 $((MONITORS - 1))); do
    lo=$((k * PER)) hi=$(( (k + 1) * PER < AGENTS ? (k + 1) * PER : AGENTS ))
    jq -n --argjson lo $lo --argjson hi $hi --argjson m "$TESTS" '
      def dst($d): if $d % 3 == 2 then "http://198.18.\($d / 250 | floor).\($d % 250 + 1)/"
                   else "198.18.\($d / 250 | floor).\($d % 250 + 1)" end;
      def group($c; $cfg): {name: $cfg, sources: [range($lo; $hi) | "sim-\(.)"],
                            destinations: [range($m) | select(. % 3 == $c) | "dst-\(.)"],
                            testConfigurations: [$cfg]};
      {properties: {
        endpoints: ([range($lo; $hi) | {name: "sim-\(.)", type: "Agent", address: "sim-\(.)"}] +
                    [range($m) | {name: "dst-\(.)", address: dst(.)}]),
        testConfigurations: [
          {name: "ping", protocol: "Icmp", testFrequencySec: 30},
          {name: "tcp443", protocol: "Tcp", testFrequencySec: 60, tcpConfiguration: {port: 443}},
          {name: "web", protocol: "Http", testFrequencySec: 60}],
        testGroups: [group(0; "ping"), group(1; "tcp443"), group(2; "web")]}}' >"$TMP/m.json"
    curl -sf -X PUT -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" --data-binary @"$TMP/m.json" \
        "$B/api/v1/connectionMonitors/fleet-$k" >/dev/null ||
        { echo "applying monitor fleet-$k failed:" >&2; tail -5 "$TMP/server.err.0" >&2; exit 1; }
done
echo "fleet: $AGENTS agents x $TESTS tests for $SECONDS_ s ($STORE, $MONITORS monitors; $REPLICAS server(s), pid ${PIDS[*]}; $(nproc) CPUs shared with other work, load average $(cut -d' ' -f1-3 /proc/loadavg))"
PERF_PID=
if [ -n "${PERF:-}" ]; then
    perf record -F 499 -g -p "$PID" -o "$PERF" >/dev/null 2>&1 &
    PERF_PID=$!
fi
nice -n 10 "$TMP/fleet" --url "$URLS" --key "$KEY" --admin "$ADMIN" --monitor fleet-0 \
    --agents "$AGENTS" --seconds "$SECONDS_" --server-pid "$(IFS=,; echo "${PIDS[*]}")"
if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
echo "agents the server lists: $(curl -sf -H "Authorization: Bearer $ADMIN" "$B/api/v1/agents?limit=1000" |
    jq -r '[.items[] | select(.embedded | not) | .state] | group_by(.) | map("\(.[0]) \(length)") | join(", ")')"
cat "$TMP"/server.err.* | grep -c . | xargs -I{} echo "server log lines at warn and above: {}"
cat "$TMP"/server.err.* | grep -m 3 . || true
