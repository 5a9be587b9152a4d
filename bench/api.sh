#!/usr/bin/env bash
# api.sh: latency of the API's views with 10k tests (50 agents x 50
# destinations x 4 configurations, each with a stored round) on a real
# `cmon server` at 127.0.0.1.  Prints median and p95 per request over N
# runs; asserts nothing.  usage: bench/api.sh [CMON] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
CMON=${1:-build/cmon}
RUNS=${2:-20}
for tool in curl jq; do command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 1; }; done
TMP=$(mktemp -d /tmp/cmon-bench-api-XXXXXX)
PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

jq -n '{name: "big", properties: {
  endpoints: ([range(50) | {name: "agent-\(.)", type: "Agent", address: "agent-\(.)"}] +
              [range(50) | {name: "dst-\(.)", address: "127.0.\(.).1"}]),
  testConfigurations: [
    {name: "tcp80", protocol: "Tcp", tcpConfiguration: {port: 80}},
    {name: "tcp443", protocol: "Tcp", tcpConfiguration: {port: 443}},
    {name: "ping", protocol: "Icmp"},
    {name: "tcp22", protocol: "Tcp", tcpConfiguration: {port: 22},
     successThreshold: {checksFailedPercent: 5}}],
  testGroups: [{name: "all", sources: [range(50) | "agent-\(.)"],
                destinations: [range(50) | "dst-\(.)"],
                testConfigurations: ["tcp80", "tcp443", "ping", "tcp22"]}]}}' >"$TMP/big.json"

"$CMON" server --listen "127.0.0.1:$PORT" --store "sqlite:$TMP/cmon.db" --log-level warn \
    >/dev/null 2>"$TMP/server.err" &
PID=$!
for _ in $(seq 100); do curl -sf "$B/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf -X PUT --data-binary @"$TMP/big.json" "$B/api/v1/connectionMonitors/big" >/dev/null
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for page in $(seq 0 9); do
    curl -sf "$B/api/v1/tests?limit=1000&cursor=$((page * 1000))" |
        jq -c --arg now "$NOW" --argjson seq "$page" '{batch: $seq, results: [.items[] |
            {testId: .id, startTime: $now, checksTotal: 10,
             checksFailed: (if (.id | test("^[0-3]")) then 4 else 0 end),
             rtt: {min: 0.1, avg: 0.2, max: 0.3, jitter: 0.01}}]}' >"$TMP/batch.json"
    curl -sf -X POST --data-binary @"$TMP/batch.json" "$B/api/v1/agent/results" >/dev/null
done
echo "api: 10000 tests, $(curl -sf "$B/api/v1/tests?state=Fail&limit=1000" | jq '.items | length') failing on the first page; $RUNS runs each (goal: tests view < 100 ms)"

measure() { # label path
    local times
    times=$(for _ in $(seq "$RUNS"); do curl -s -o /dev/null -w '%{time_total}\n' "$B$2"; done | sort -n)
    local med p95
    med=$(sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$times")
    p95=$(sed -n "$(( (RUNS * 95 + 99) / 100 ))p" <<<"$times")
    awk -v l="$1" -v m="$med" -v p="$p95" \
        'BEGIN { printf "  %-44s median %7.1f ms   p95 %7.1f ms\n", l, m * 1000, p * 1000 }'
}
measure "tests (first page, limit=100)" "/api/v1/tests"
measure "tests (limit=1000)" "/api/v1/tests?limit=1000"
measure "tests (state=Fail, limit=1000)" "/api/v1/tests?state=Fail&limit=1000"
measure "tests (q=dst-4 scope=destinations)" "/api/v1/tests?q=dst-4&scope=destinations"
measure "tests (last page, cursor=9900)" "/api/v1/tests?cursor=9900"
measure "testGroups (roll-up of 10k tests)" "/api/v1/testGroups"
measure "sources (roll-up of 10k tests)" "/api/v1/sources"
measure "connectionMonitors (list + counts)" "/api/v1/connectionMonitors"
measure "/metrics (30k series)" "/metrics"
