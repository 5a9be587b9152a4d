#!/usr/bin/env bash
# test_edge_limits.sh: the limits of the server's HTTP edge against a real
# `cmon server` on 127.0.0.1 -- database files 0600 in a 0700 directory (and a
# warning for an open one), the SQL query's time and memory limits and its
# concurrency bound while /healthz stays fast, authentication and 413 before
# any body byte is read, OPTIONS/HEAD authenticated first, the per-IP
# connection limit with its (rate-limited) log line, the header deadline
# against slowloris, one escaped log line for
# a value with a newline, and TLS 1.2+ with forward-secret suites only.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ + 7919) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init edgel curl jq python3 openssl
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || fail "exit $?"; SERVER_PID=; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
mode() { stat -c %a "$1"; }

# raw HOST REQUEST-BYTES (printf escapes): send, wait up to 5 s for the
# status line; prints it, or "none" when the server sent nothing
raw() {
    python3 - "$1" "$PORT" "$2" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(sys.argv[3].encode().decode("unicode_escape").encode("latin-1"))
try:
    line = s.makefile("rb").readline().decode().strip()
except socket.timeout:
    line = ""
print(line or "none")
PY
}

# ---- file modes: a pre-existing open directory is warned about ----
mkdir -m 0755 "$TMP/data"
start_server
[ "$(mode "$TMP/data/cmon.db")" = 600 ] || fail "cmon.db mode $(mode "$TMP/data/cmon.db")"
req 201 PUT /api/v1/actionGroups/ops '{"webhooks":[{"url":"http://127.0.0.1:9/h","secret":"s"}]}'
for f in cmon.db-wal cmon.db-shm; do
    [ -e "$TMP/data/$f" ] || fail "no $f"
    [ "$(mode "$TMP/data/$f")" = 600 ] || fail "$f mode $(mode "$TMP/data/$f")"
done
grep -q 'msg="the data directory is open to other users" dir=[^ ]* mode=0755' "$TMP/server.err" ||
    fail "no warning about the 0755 data directory"
stop_server
rm -rf "$TMP/fresh"
"$CMON" server --listen "127.0.0.1:$PORT" --store "sqlite:$TMP/fresh/d/cmon.db" >/dev/null \
    2>"$TMP/fresh.err" & SERVER_PID=$!
for _ in $(seq 100); do [ -e "$TMP/fresh/d/cmon.db" ] && break; sleep 0.1; done
[ "$(mode "$TMP/fresh/d")" = 700 ] || fail "created data dir mode $(mode "$TMP/fresh/d")"
stop_server
pass "database, WAL and SHM 0600, created directory 0700, open directory warned about"

# ---- SQL limits, and /healthz while queries hold the pool ----
start_server
# refused by its plan, not run: a run would fail otherwise (too big / no memory)
req 400 POST /api/v1/query '{"sql":"select zeroblob(1000000000)"}'
jqeq .error.code '"invalid_query"'
started=$(date +%s%N)
FOREVER='{"sql":"with recursive c(x) as (select 1 union all select x+1 from c) select count(*) from c"}'
req 422 POST /api/v1/query "$FOREVER"
jqeq .error.code '"query_timeout"'
took=$(ms_since "$started")
# it ran to its 2 s budget (a lower bound: load cannot make it shorter)
[ "$took" -ge 1900 ] || fail "the endless query stopped after $took ms, before its 2 s budget"
qpids=()
for i in $(seq 8); do
    curl -s -o "$TMP/q$i" -D "$TMP/h$i" -w '%{http_code}\n' -H 'Content-Type: application/json' \
        --data-binary "$FOREVER" "$B/api/v1/query" >"$TMP/c$i" &
    qpids+=($!)
done
# /healthz needs no pool connection: it answers while queries still hold the
# pool (an order, not a time: a /healthz that waited for the pool would come
# back only after the queries' 2 s budget, when none is running any more)
for _ in $(seq 100); do grep -q . "$TMP"/c? 2>/dev/null && break; sleep 0.02; done # the 503s are in
running() { local p n=0; for p in "${qpids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done; echo $n; }
before=$(running)
[ "$before" -ge 1 ] || fail "no query held the pool"
curl -sf -m 5 "$B/healthz" >/dev/null || fail "/healthz failed while queries ran"
after=$(running)
[ "$after" -ge 1 ] || fail "/healthz answered only after every query had ended ($before were running)"
wait "${qpids[@]}" 2>/dev/null || true
worst="answered with $after of 8 queries still running"
cat "$TMP"/c? | sort | uniq -c >"$TMP/codes"
grep -q ' 503$' "$TMP/codes" || fail "no query was refused: $(cat "$TMP/codes")"
grep -lq '"overloaded"' "$TMP"/q? || fail "503 without code overloaded"
grep -qi '^Retry-After: 1' "$TMP"/h? || fail "503 without Retry-After"
pass "zeroblob refused by its plan, endless query stopped at its 2 s budget, 8 queries: /healthz $worst, $(tr -s ' \n' ' ' <"$TMP/codes")"

# ---- token mode: nothing about routes or bodies before authentication ----
req 201 POST /api/v1/tokens '{"role":"admin","name":"ops"}'
ADMIN=$(jq -r .token "$TMP/body")
req 201 POST /api/v1/tokens '{"role":"agent"}' "$ADMIN"
KEY=$(jq -r .token "$TMP/body")
# no body is sent: a server that waited for it would answer nothing before
# raw's 5 s timeout (its own header deadline is 15 s)
got=$(raw 127.0.0.1 "PUT /api/v1/connectionMonitors/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n")
[[ "$got" == "HTTP/1.1 401 "* ]] || fail "unauthenticated body: '$got', want 401 at once"
got=$(raw 127.0.0.1 "PUT /api/v1/connectionMonitors/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $ADMIN\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
[[ "$got" == "HTTP/1.1 413 "* ]] || fail "oversized Content-Length: '$got', want 413 at once"
req 401 OPTIONS /api/v1/connectionMonitors/x
req 401 OPTIONS /api/v1/nothing/here
req 401 DELETE /api/v1/tests
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$B/api/v1/tests")
[ "$code" = 401 ] || fail "HEAD without a token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $ADMIN" "$B/api/v1/tests")
[ "$code" = 200 ] || fail "HEAD with a token: $code"
allow=$(curl -s -D - -o /dev/null -X OPTIONS -H "Authorization: Bearer $ADMIN" \
    "$B/api/v1/connectionMonitors/x" | tr -d '\r' | sed -n 's/^Allow: //p')
[ "$allow" = "OPTIONS, GET, HEAD, PUT, DELETE" ] || fail "Allow: '$allow'"
req 400 GET '/api/v1/tests%00' "" "$ADMIN"
pass "401 before the body, 413 from the headers, OPTIONS/HEAD authenticated first"

# ---- a newline in an agent's version forges no log line ----
# The agent API refuses control characters outright (400); every logged value
# is escaped besides (unit/test_log checks the escaping itself).
req 400 POST /api/v1/agents/register \
    '{"name":"nl","version":"1.0\nts=2026-01-01T00:00:00Z level=error msg=\"forged\"","heartbeatSec":60}' "$KEY"
jqeq .error.field '"version"'
grep -q '^ts=2026-01-01' "$TMP/server.err" && fail "a log line was forged"
pass "a newline in an agent's version is refused and forges no log line"
stop_server

# ---- per-IP connection limit, logged ----
start_server --max-conns-per-ip 8 --log-level debug
python3 - "$PORT" >"$TMP/perip" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(12)]
time.sleep(0.3)
refused = 0
for s in held:
    s.settimeout(3)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        if not s.recv(64).startswith(b"HTTP/1.1 200"):
            refused += 1
    except OSError:
        refused += 1
other = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0), timeout=3)
other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
print(refused, other.recv(64).split(b"\r\n")[0].decode())
PY
[ "$(cat "$TMP/perip")" = "4 HTTP/1.1 200 OK" ] || fail "per-IP limit: $(cat "$TMP/perip")"
for _ in $(seq 300); do grep -q 'msg="http" detail="Server reached connection limit' "$TMP/server.err" && break; sleep 0.1; done
grep -q 'msg="http" detail="Server reached connection limit' "$TMP/server.err" || fail "limit not logged"
[ "$(grep -c 'reached connection limit' "$TMP/server.err")" = 1 ] || fail "the limit log is not rate-limited"
pass "per-IP limit: 4 of 12 refused, another address served, one log line"

# ---- slowloris: a header byte a second is cut at the header deadline ----
# beside it, a kept-alive connection that sends nothing after its request is
# closed too, said at debug: it is a client's pool, not a slow client
python3 - "$PORT" >"$TMP/idle" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(40)  # bounded
got = b""
while b"\r\n\r\n" not in got:
    got += s.recv(4096)
start = time.monotonic()
try:
    while s.recv(4096):
        pass
except OSError:
    pass
print(int(time.monotonic() - start))
PY
IDLE=$!
python3 - "$PORT" >"$TMP/slow" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(1)
start, req = time.monotonic(), b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100
for i in range(40):  # bounded: 40 s at most
    try:
        s.sendall(req[i:i + 1])
        if s.recv(64) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print(int(time.monotonic() - start))
PY
slow=$(cat "$TMP/slow")
[ "$slow" -ge 14 ] && [ "$slow" -le 20 ] || fail "a slowloris connection lived $slow s, want ~15"
for _ in $(seq 300); do grep -q 'msg="slow clients cut" connections=1' "$TMP/server.err" && break; sleep 0.1; done
grep -q 'msg="slow clients cut" connections=1 total=1 deadline_s=15' "$TMP/server.err" ||
    fail "the cut was not logged"
wait "$IDLE"
idle=$(cat "$TMP/idle")
[ "$idle" -ge 14 ] && [ "$idle" -le 21 ] || fail "an idle kept-alive connection lived $idle s, want ~15"
for _ in $(seq 300); do grep -q 'msg="idle keep-alive connections closed" connections=1' "$TMP/server.err" && break; sleep 0.1; done
grep -q 'msg="idle keep-alive connections closed" connections=1 idle_s=15' "$TMP/server.err" ||
    fail "the idle connection's close was not logged at debug, or counted as slow"
stop_server
pass "a slowloris connection cut after $slow s, logged; an idle kept-alive one after $idle s, not as slow"

# ---- TLS 1.2+ with forward secrecy ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null ||
    fail "openssl req"
SCHEME=https CACERT=$TMP/cert.pem start_server --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
tls() { openssl s_client -connect "127.0.0.1:$PORT" "$@" </dev/null >"$TMP/tls.out" 2>&1; }
tls -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' && fail "TLS 1.1 accepted"
tls -tls1_2 -cipher AES128-SHA256 && fail "RSA key exchange (no forward secrecy) accepted"
tls -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 || fail "TLS 1.2 ECDHE refused"
tls -tls1_3 || fail "TLS 1.3 refused"
pass "TLS 1.1 and RSA key exchange refused, TLS 1.2 ECDHE and 1.3 accepted"
