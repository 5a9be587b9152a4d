#!/usr/bin/env bash
# test_web_static.sh: the dashboard's files embedded in the binary and served
# by `cmon run` (src/server/static.c): the exact bytes of web/, the right
# Content-Type, a strong ETag answered with 304 on If-None-Match, no-cache,
# the strict Content-Security-Policy, 404 for unknown files, 405 for POST,
# and no token needed for the files while the API still wants one.
# Only 127.0.0.1 is used; nothing is probed (no monitor is applied).
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
command -v curl >/dev/null || { echo "SKIPPED: curl is not installed"; exit 77; }
TMP=$(mktemp -d /tmp/cmw$$.XXXXXX)
RUN_PID=
cleanup() { [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -5 "$TMP/run.err" >&2 || true; exit 1; }
PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT

# another test may hold the port: the next one then (the banner is ours)
start_run() {
    for _ in $(seq 20); do
        B=http://127.0.0.1:$PORT
        "$CMON" run --listen "127.0.0.1:$PORT" --data "$TMP/data" >"$TMP/run.out" 2>"$TMP/run.err" &
        RUN_PID=$!
        for _ in $(seq 600); do
            grep -q serving "$TMP/run.out" 2>/dev/null && return 0
            kill -0 $RUN_PID 2>/dev/null || break
            sleep 0.1
        done
        kill -0 $RUN_PID 2>/dev/null && fail "no banner within 60 s"
        wait $RUN_PID 2>/dev/null || true
        RUN_PID=
        grep -q "address in use\|Address already in use" "$TMP/run.err" || fail "cmon run exited at start"
        PORT=$((PORT + 1))
    done
    fail "no free port"
}
header() { grep -i "^$1:" "$2" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
start_run

# every file under web/ comes back byte for byte with its type
while IFS= read -r f; do
    rel=${f#"$SRC/web/"}
    curl -sf -D "$TMP/h" -o "$TMP/body" "$B/ui/$rel" || fail "GET /ui/$rel"
    cmp -s "$TMP/body" "$f" || fail "/ui/$rel differs from web/$rel"
    case "$rel" in
        *.html) want="text/html; charset=utf-8" ;;
        *.js) want="text/javascript; charset=utf-8" ;;
        *.css) want="text/css; charset=utf-8" ;;
        *.svg) want="image/svg+xml" ;;
        *.json) want="application/json" ;;
        *) want="" ;;
    esac
    [ -z "$want" ] || [ "$(header Content-Type "$TMP/h")" = "$want" ] ||
        fail "/ui/$rel Content-Type $(header Content-Type "$TMP/h"), want $want"
done < <(find "$SRC/web" -type f ! -name '.*')
echo "ok: $(find "$SRC/web" -type f ! -name '.*' | wc -l) files served byte for byte with their types"

curl -s -D "$TMP/h" -o "$TMP/index" "$B/" || fail "GET /"
cmp -s "$TMP/index" "$SRC/web/index.html" || fail "/ is not index.html"
grep -q '^HTTP/1.1 200' "$TMP/h" || fail "/ status"
csp=$(header Content-Security-Policy "$TMP/h")
[[ "$csp" == *"script-src 'self';"* && "$csp" != *unsafe* && "$csp" == *"default-src 'none'"* ]] ||
    fail "CSP: $csp"
[ "$(header Cache-Control "$TMP/h")" = no-cache ] || fail "Cache-Control"
[ "$(header X-Content-Type-Options "$TMP/h")" = nosniff ] || fail "nosniff"
etag=$(header ETag "$TMP/h")
[[ "$etag" =~ ^\"[0-9a-f]{16}\"$ ]] || fail "ETag '$etag'"
code=$(curl -s -o "$TMP/b304" -w '%{http_code}' -H "If-None-Match: $etag" "$B/")
[ "$code" = 304 ] && [ ! -s "$TMP/b304" ] || fail "If-None-Match: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: W/"x", '"$etag" "$B/ui/index.html")
[ "$code" = 304 ] || fail "If-None-Match list: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000000000000000"' "$B/")
[ "$code" = 200 ] || fail "stale ETag: $code"
echo "ok: / is index.html with a strict CSP, no-cache, ETag and 304"

code=$(curl -s -o "$TMP/b" -w '%{http_code}' "$B/ui/no-such-file.js")
[ "$code" = 404 ] && grep -q '"code":"not_found"' "$TMP/b" || fail "unknown file: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/ui/index.html")
[ "$code" = 405 ] || fail "POST: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$B/ui/app.js")
[ "$code" = 200 ] || fail "HEAD: $code"
echo "ok: 404 for unknown files, 405 for POST, HEAD works"

kill $RUN_PID; wait $RUN_PID || true; RUN_PID=
"$CMON" token create --role reader --data "$TMP/data" >/dev/null 2>&1 || fail "token create"
start_run
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/")
[ "$code" = 200 ] || fail "UI with tokens: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$B/api/v1/tests")
[ "$code" = 401 ] || fail "API without token: $code"
echo "ok: the files need no token, the API still does"
