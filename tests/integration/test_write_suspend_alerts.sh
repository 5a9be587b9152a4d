#!/usr/bin/env bash
# test_write_suspend_alerts.sh: alert rule and action group writes hold no
# HTTP thread while the writer works, and their checks ("the groups a rule
# names exist", "a deleted group is unused") run inside the write itself.
# A real `cmon server` with two HTTP threads; an sqlite3 process holds the
# database's write lock, so the writer blocks in the first write's
# transaction and the others queue behind it, in the order they were sent
# (each is sent once the one before is pending: cmon_http_writes_waiting):
#   1. PUT rule uses-spare naming group "spare" (which exists),
#   2. DELETE group "spare" -- checked before 1 was written it would pass,
#   3. DELETE group "ops" (unused),
#   4. PUT rule uses-ops naming "ops" -- checked before 3 was written it
#      would pass and leave the rule naming a deleted group.
# With those 4 pending on 2 HTTP threads a dashboard GET still answers, and
# before any of them (the lock is still held: ordering, not time).  After
# the lock goes each is answered as if it ran alone, in its turn: 201, 409
# in_use, 204, 400 validation_failed at actionGroups[0]; the store agrees.
# Then the same for a rule write refused at the writer: enabling a rule that
# a concurrent delete removed is 404.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 17) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init suspend-alerts curl jq sqlite3

. "$SRC/tests/integration/lib/writelock.sh"

DB="$TMP/data/cmon.db"
STORE="sqlite:$DB"
ADMIN=$("$CMON" token create --role admin --name root --store "$STORE")
start_server --http-threads 2

req 201 PUT /api/v1/actionGroups/spare '{"webhooks":[{"url":"http://127.0.0.1:9/spare"}]}' "$ADMIN"
req 201 PUT /api/v1/actionGroups/ops '{"webhooks":[{"url":"http://127.0.0.1:9/ops"}]}' "$ADMIN"
req 201 PUT /api/v1/alertRules/doomed '{"kind":"state","scope":"monitor"}' "$ADMIN"

# send K METHOD PATH [BODY]: in the background; the status in $TMP/s$K, the
# body in $TMP/r$K; returns once the write waits for the writer (the K-th)
send() {
    local k=$1 method=$2 path=$3 body=${4:-} args=()
    [ -n "$body" ] && args+=(--data-binary "$body" -H 'Content-Type: application/json')
    (trap - EXIT; curl -s -o "$TMP/r$k" -w '%{http_code}' -m 60 -X "$method" "${args[@]}" \
        -H "Authorization: Bearer $ADMIN" "$B$path" >"$TMP/s$k.part"; mv "$TMP/s$k.part" "$TMP/s$k") &
    pids+=($!)
    wait_pending "$k"
}
answered() { # K WANT_STATUS JQ_FILTER WANT: the K-th write's answer
    [ "$(cat "$TMP/s$1")" = "$2" ] || fail "write $1: status $(cat "$TMP/s$1"), want $2: $(cat "$TMP/r$1")"
    [ -z "$3" ] || [ "$(jq -c "$3" "$TMP/r$1")" = "$4" ] ||
        fail "write $1: $3 = $(jq -c "$3" "$TMP/r$1"), want $4"
}

writelock_take "$DB"
pids=()
send 1 PUT /api/v1/alertRules/uses-spare '{"kind":"state","scope":"monitor","actionGroups":["spare"]}'
send 2 DELETE /api/v1/actionGroups/spare
send 3 DELETE /api/v1/actionGroups/ops
send 4 PUT /api/v1/alertRules/uses-ops '{"kind":"state","scope":"monitor","actionGroups":["ops"]}'

code=$(curl -s -o "$TMP/body" -w '%{http_code}' -m 30 -H "Authorization: Bearer $ADMIN" \
    "$B/api/v1/tests?limit=100")
[ "$code" = 200 ] || fail "GET /api/v1/tests with 4 alert writes pending: status $code"
done_n=$(find "$TMP" -maxdepth 1 -name "s?" | wc -l)
[ "$done_n" = 0 ] || fail "$done_n alert writes answered while the write lock was held"
pass "a dashboard GET answered with 4 alert writes pending on 2 HTTP threads, before any of them"

writelock_release
for p in "${pids[@]}"; do wait "$p" || true; done
answered 1 201 .actionGroups '["spare"]'
answered 2 409 .error.code '"in_use"'
answered 3 204 "" ""
answered 4 400 '[.error.code, .error.field]' '["validation_failed","actionGroups[0]"]'
jq -r .error.message "$TMP/r4" | grep -q 'unknown action group "ops"' ||
    fail "write 4's message: $(cat "$TMP/r4")"
pass "each write checked in its turn: 201, 409 in_use, 204, 400 unknown group"

req 200 GET /api/v1/alertRules/uses-spare "" "$ADMIN"
req 200 GET /api/v1/actionGroups/spare "" "$ADMIN"
req 404 GET /api/v1/actionGroups/ops "" "$ADMIN"
req 404 GET /api/v1/alertRules/uses-ops "" "$ADMIN"
pass "the store holds what the answers said (no rule names a deleted group)"

# a rule deleted while its enable waits: the enable finds it gone (404)
writelock_take "$DB"
pids=()
rm -f "$TMP"/s? "$TMP"/r?
send 1 DELETE /api/v1/alertRules/doomed
send 2 POST /api/v1/alertRules/doomed/enable
writelock_release
for p in "${pids[@]}"; do wait "$p" || true; done
answered 1 204 "" ""
answered 2 404 .error.code '"not_found"'
pass "an enable queued behind its rule's delete answers 404, as it would alone"

writelock_server_stops_clean
