#!/usr/bin/env bash
# flood.sh: does the server stay available under a connection flood?  A real
# `cmon server` (token mode, SQLite) on 127.0.0.1 gets IDLE (10000) idle and
# SLOW (2000) slowloris connections from bench/flood.py, over many 127.0.x.y
# source addresses, for DURATION (60) s, while a reader and an agent (valid
# tokens) measure success rate and latency.  Prints flood.py's JSON plus the
# server's RSS before, at its peak during, and after the flood.  Loopback
# only; bounded; stops by itself.
#   CMON=build/cmon CMON_SOURCE_DIR=. bash bench/flood.sh
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
PORT=${PORT:-$((30000 + $$ % 20000))}
. "$SRC/tests/integration/lib/api.sh"
api_init flood
ulimit -n "$(ulimit -Hn)" # the flooder holds IDLE + SLOW sockets
need=$(( ${IDLE:-10000} + ${SLOW:-2000} + 100 ))
[ "$(ulimit -n)" -ge "$need" ] || { echo "SKIP: open-file limit $(ulimit -n) < $need"; exit 77; }

STORE=sqlite:$TMP/data/cmon.db
"$CMON" token create --role admin --name bench --store "$STORE" >/dev/null 2>&1
READER_TOKEN=$("$CMON" token create --role reader --name reader --store "$STORE" 2>/dev/null)
KEY=$("$CMON" token create --role agent --store "$STORE" 2>/dev/null)
"$CMON" server --listen "127.0.0.1:$PORT" --store "$STORE" >"$TMP/out" 2>"$TMP/err" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
AGENT_TOKEN=$(curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data '{"name":"bench-agent","version":"bench","heartbeatSec":60}' \
    "http://127.0.0.1:$PORT/api/v1/agents/register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }
before=$(rss)
PORT=$PORT READER_TOKEN=$READER_TOKEN AGENT_TOKEN=$AGENT_TOKEN \
    python3 "$SRC/bench/flood.py" >"$TMP/flood.json" &
FLOOD=$!
peak=0 fds=0
while kill -0 "$FLOOD" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    f=$(ls "/proc/$SERVER_PID/fd" | wc -l); [ "$f" -gt "$fds" ] && fds=$f
    sleep 1
done
wait "$FLOOD"
sleep 1
echo "server: RSS ${before} MB before, ${peak} MB peak during, $(rss) MB after; peak open fds $fds"
cat "$TMP/flood.json"
echo "server log (limits):"
grep -E 'msg="(http|slow clients cut|http limits)"' "$TMP/err" | tail -8
