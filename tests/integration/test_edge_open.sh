#!/usr/bin/env bash
# test_edge_open.sh: the open mode of a real `cmon run` serves only
# same-origin local use (DESIGN 9) -- DNS rebinding (a foreign Host) is
# refused, --allowed-host is honoured, cross-site writes (text/plain forms, a
# foreign Origin) are refused without creating anything, exec action groups
# need --allow-exec-actions, %00 in a path is 400, oversized bodies are 413
# from the headers alone.  Everything runs in a fresh network namespace with
# only loopback (prefix cme + PID), torn down on exit.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}
NS_PREFIX=cme
. "$SRC/tests/integration/lib/netns.sh" # namespaces removed on exit
ns_require
for tool in curl jq; do command -v $tool >/dev/null || skip "$tool not installed"; done
ns_add a
TMP=$NS_TMP
RUN_PID=
in_ns() { ns_in a "$@"; }

fail() { echo "FAIL: $*" >&2; echo "--- last body:" >&2; cat "$TMP/body" >&2 || true;
         echo "--- stderr:" >&2; tail -20 "$TMP/run.err" >&2 || true; exit 1; }
pass() { echo "ok: $*"; }

PORT=8080 # the namespace is ours
B=http://127.0.0.1:$PORT
start_run() {
    rm -f "$TMP/run.out" # not the previous run's banner
    ip netns exec "$(ns a)" "$CMON" run --data "$TMP/data" "$@" >"$TMP/run.out" 2>"$TMP/run.err" &
    RUN_PID=$!
    for _ in $(seq 150); do
        grep -q "serving" "$TMP/run.out" 2>/dev/null && in_ns curl -sf "$B/healthz" >/dev/null &&
            return 0
        kill -0 $RUN_PID 2>/dev/null || fail "cmon run exited at start"
        sleep 0.1
    done
    fail "no banner"
}
stop_run() { kill -TERM $RUN_PID; wait $RUN_PID || fail "exit status $?"; RUN_PID=; }
trap '[ -n "$RUN_PID" ] && kill $RUN_PID 2>/dev/null; ns_cleanup' EXIT
# hit WANT METHOD PATH [curl args...]: check the status, keep the body
hit() {
    local want=$1 method=$2 path=$3 got
    shift 3
    got=$(in_ns curl -s -o "$TMP/body" -w '%{http_code}' -X "$method" "$@" "$B$path") ||
        fail "$method $path: curl failed"
    [ "$got" = "$want" ] || fail "$method $path $*: status $got, want $want"
}
code() { [ "$(jq -r .error.code "$TMP/body")" = "$1" ] || fail "error code, want $1"; }
J=(-H 'Content-Type: application/json')

start_run --allowed-host cmon.example
grep -q "running open" "$TMP/run.out" || fail "not open"

# ---- DNS rebinding: the attacker's name resolves to 127.0.0.1 ----
hit 403 GET /api/v1/tests -H "Host: evil.example:$PORT"; code host_not_allowed
hit 403 PUT /api/v1/actionGroups/x -H "Host: evil.example:$PORT" "${J[@]}" --data '{"webhooks":[]}'
code host_not_allowed
hit 403 GET /api/v1/tests -H "Host: 127.0.0.1.evil.example"
hit 200 GET /api/v1/tests -H "Host: localhost:$PORT"
hit 200 GET /api/v1/tests -H "Host: 127.0.0.1:$PORT"
hit 200 GET /api/v1/tests -H "Host: [::1]:$PORT"
hit 200 GET /api/v1/tests -H "Host: CMON.example:$PORT"
pass "Host: foreign names 403, loopback and --allowed-host 200"

# ---- cross-site form: text/plain POST to /tokens ----
hit 415 POST /api/v1/tokens -H 'Content-Type: text/plain' --data '{"role":"admin","name":"x"}'
code unsupported_media_type
hit 415 POST /api/v1/tokens --data '{"role":"admin","name":"x"}' # curl: form-urlencoded
hit 403 POST /api/v1/tokens -H "Origin: http://evil.example" "${J[@]}" \
    --data '{"role":"admin","name":"x"}'
code origin_mismatch
hit 403 POST /api/v1/tokens -H "Origin: null" "${J[@]}" --data '{"role":"admin","name":"x"}'
hit 403 POST /api/v1/tokens -H "Origin: http://127.0.0.1:9999" "${J[@]}" \
    --data '{"role":"admin","name":"x"}'
hit 200 GET /api/v1/tests # still open, so no token exists (one would end open mode)
in_ns "$CMON" tests --server "$B" >/dev/null || fail "the local CLI stopped working"
pass "cross-site writes refused (415, 403), no token created, the CLI still works"

# ---- same-origin writes keep working (the dashboard sends JSON) ----
hit 201 PUT /api/v1/actionGroups/hook -H "Origin: $B" "${J[@]}" \
    --data '{"webhooks":[{"url":"http://127.0.0.1:9/x"}]}'
hit 201 PUT /api/v1/actionGroups/hook2 -H "Origin: http://localhost:$PORT" \
    -H "Host: localhost:$PORT" -H 'Content-Type: application/json; charset=utf-8' \
    --data '{"webhooks":[{"url":"http://127.0.0.1:9/x"}]}'
hit 204 DELETE /api/v1/actionGroups/hook2
pass "same-origin JSON writes and a bodiless DELETE pass"

# ---- exec actions only with --allow-exec-actions ----
EXEC='{"exec":[{"command":["/bin/touch","'$TMP'/pwned"]}]}'
hit 403 PUT /api/v1/actionGroups/x "${J[@]}" --data "$EXEC"; code exec_disabled
hit 404 GET /api/v1/actionGroups/x
pass "exec action group refused without the flag"

# ---- %00, 413 before the body, HEAD/OPTIONS ----
hit 400 GET '/ui/app.js%00.html'; code invalid_path
hit 400 GET '/api/v1/tests%00/x'
# no body is sent: a server that waited for it would answer nothing before
# curl gives up after 5 s (status 000)
got=$(in_ns curl -s -o "$TMP/body" -w '%{http_code}' -m 5 -X PUT "${J[@]}" \
    -H 'Content-Length: 900000000' "$B/api/v1/actionGroups/big" --data-binary @/dev/null) || true
[ "$got" = 413 ] || fail "oversized Content-Length: status $got, want 413 before the body"
code body_too_large
hit 200 HEAD /api/v1/tests -I
hit 204 OPTIONS /api/v1/actionGroups/x
pass "%00 400, 413 from the headers, HEAD and OPTIONS"

stop_run
start_run --allow-exec-actions
hit 201 PUT /api/v1/actionGroups/x "${J[@]}" --data "$EXEC"
hit 200 GET /api/v1/actionGroups/x
[ "$(jq -c .exec[0].command "$TMP/body")" = '["/bin/touch","'$TMP'/pwned"]' ] || fail "stored"
hit 403 GET /api/v1/tests -H "Host: cmon.example:$PORT" # not allowed on this run
pass "exec action group accepted with --allow-exec-actions"
stop_run
