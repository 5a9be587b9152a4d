#!/usr/bin/env bash
# test_local_token.sh: the first token does not lock the local user out.
# README step 4 creates the agents' workspace key on a `cmon run` that runs
# open; from then on the server wants a token on every request.  The token
# command writes an admin token to the data directory (0600) that cmon uses
# by itself against a loopback server, while a request without a token -- or
# the CLI talking to a non-loopback address -- still gets 401.  The server
# runs in a namespace with a veth to a "remote" namespace.
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?}
NS_PREFIX=lt
. "$SRC/tests/integration/lib/netns.sh"
ns_require
command -v curl >/dev/null && command -v jq >/dev/null || skip "curl and jq are needed"
ns_add srv
ns_add remote
ns_link remote srv 1 # remote 198.18.1.1, srv 198.18.1.2
port=$((20000 + ($$ * 13) % 20000))
data=$NS_TMP/data

start() { ns_cmon_run srv "$port" --listen "$1" --data "$data"; } # LISTEN
stop() { ns_cmon_stop; }
cli() { ns_in srv env CMON_DATA="$data" CMON_SERVER="http://127.0.0.1:$port" "$CMON" "$@"; }

# open mode: the local CLI needs nothing
start "127.0.0.1:$port"
cli tests >/dev/null || fail "open mode: cmon tests"
# the workspace key: the first token of the store
ns_in srv "$CMON" token create --role agent --data "$data" >"$NS_TMP/key" 2>"$NS_TMP/token.err" ||
    fail "token create: $(cat "$NS_TMP/token.err")"
grep -q "first token" "$NS_TMP/token.err" || fail "no word of the switch: $(cat "$NS_TMP/token.err")"
[ "$(stat -c %a "$data/admin.token")" = 600 ] || fail "admin.token is not 0600"
# the running server now wants a token ...
code=$(ns_in srv curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/tests")
[ "$code" = 401 ] || fail "a request without a token after the first token: $code, want 401"
# ... says so once in its log ...
grep -q 'msg="leaving open mode: every request needs a token now"' "$NS_TMP/run.err" ||
    fail "the switch to tokens is not logged: $(tail -3 "$NS_TMP/run.err")"
# ... and the local CLI has one by itself
cli tests >/dev/null || fail "the local CLI is locked out after the first token"
cli monitor list >/dev/null || fail "cmon monitor list with the local token"
# without the data directory it is 401, exit 3, with a hint
set +e
ns_in srv env CMON_DATA="$NS_TMP/elsewhere" CMON_SERVER="http://127.0.0.1:$port" "$CMON" tests \
    >/dev/null 2>"$NS_TMP/cli.err"
rc=$?
set -e
[ $rc = 3 ] || fail "no local token: exit $rc, want 3"
grep -q "admin.token" "$NS_TMP/cli.err" || fail "no hint at the local token: $(cat "$NS_TMP/cli.err")"
stop

# the same server on a network address: remote requests without a token
# fail, and the CLI never sends the local token to a non-loopback address
start "0.0.0.0:$port"
code=$(ns_in remote curl -s -o /dev/null -w '%{http_code}' "http://198.18.1.2:$port/api/v1/tests")
[ "$code" = 401 ] || fail "a remote request without a token: $code, want 401"
set +e
ns_in remote env CMON_DATA="$data" CMON_SERVER="http://198.18.1.2:$port" "$CMON" tests >/dev/null 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "the CLI used the local token for a non-loopback server (exit $rc)"
tok=$(cat "$data/admin.token")
code=$(ns_in remote curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    "http://198.18.1.2:$port/api/v1/tests")
[ "$code" = 200 ] || fail "the admin token from a remote host: $code, want 200"
stop
echo "PASS: the first token keeps the local CLI working; remote requests need a token"
