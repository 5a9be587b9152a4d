# api.sh: a `cmon server` on 127.0.0.1 for the API tests and benches, and
# curl helpers (uses $CMON, $TMP and $PORT).
#
#   api_init NAME [TOOL...] skip (exit 77, saying which) when a TOOL is missing;
#                           TMP=/tmp/cmon-NAME-XXXXXX, removed at exit after
#                           stopping $SERVER_PID (and whatever cleanup_extra,
#                           if the script defines it, stops first)
#   fail MSG / pass MSG     unless the script defined its own before sourcing:
#                           fail prints the last body and the server log
#   api_store VAR           when $VAR is "pg": the store is a private
#                           PostgreSQL cluster (lib/pg.sh), stopped at exit
#                           after the server; skips (77) when it cannot start
#   start_server [ARGS...]  start on $PORT (the next free one from there, in
#                           steps of $PORT_STEP, default 1) on $STORE (default
#                           sqlite:$TMP/data/cmon.db); sets SERVER_PID, B.
#                           SCHEME=https CACERT=FILE for a TLS server.
#   req STATUS METHOD PATH [BODY|@FILE] [TOKEN]   check the status, keep the
#                           body in $TMP/body
#   jqeq FILTER WANT        assert a jq value of the last body
#   one_agent_test MONITOR ADMIN KEY  a monitor with one TCP test from agent
#                           "agent-a" to 127.0.0.1:9, and that agent registered:
#                           sets TEST (its id) and TA (the agent's token)

api_init() {
    local name=$1 tool
    shift
    for tool in "$@"; do # the tools the test needs: without one it is skipped, saying why
        command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
    done
    TMP=$(mktemp -d "/tmp/cmon-$name-XXXXXX")
    SERVER_PID=
    trap api_cleanup EXIT
}

api_store() {
    [ "${!1:-sqlite}" = pg ] || return 0
    . "$CMON_SOURCE_DIR/tests/integration/lib/pg.sh"
    cleanup_extra() {
        [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID"
        SERVER_PID=
        pg_stop
    }
    local rc=0
    pg_start || rc=$?
    [ $rc = 0 ] || exit $rc
    STORE=$PG_URL
}

api_cleanup() {
    set +e
    declare -F cleanup_extra >/dev/null && cleanup_extra
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}

declare -F fail >/dev/null || fail() {
    echo "FAIL: $*" >&2
    echo "--- last body:" >&2; cat "$TMP/body" >&2 || true
    echo "--- server log:" >&2; tail -20 "$TMP/server.err" >&2 || true
    exit 1
}
declare -F pass >/dev/null || pass() { echo "ok: $*"; }

start_server() {
    local tries
    for tries in $(seq 20); do
        B=http://127.0.0.1:$PORT
        : >"$TMP/server.out"
        "$CMON" server --listen "127.0.0.1:$PORT" --store "${STORE:-sqlite:$TMP/data/cmon.db}" "$@" \
            >"$TMP/server.out" 2>>"$TMP/server.err" &
        SERVER_PID=$!
        for _ in $(seq 600); do
            # our own banner first: a healthz answer alone could come from
            # another test's server that holds the port
            grep -q "serving " "$TMP/server.out" 2>/dev/null &&
                curl -sf ${CACERT:+--cacert "$CACERT"} "${SCHEME:-http}://127.0.0.1:$PORT/healthz" \
                    >/dev/null 2>&1 && return 0
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
        tail -3 "$TMP/server.err" | grep -q "Address already in use" || fail "server did not start"
        PORT=$((PORT + ${PORT_STEP:-1}))
    done
    fail "no free port after $tries tries"
}

req() {
    local want=$1 method=$2 path=$3 body=${4:-} token=${5:-} args=()
    [ -n "$body" ] && args+=(--data-binary "$body" -H 'Content-Type: application/json')
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    local got
    got=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$method" "${args[@]}" "$B$path") ||
        fail "$method $path: curl failed"
    [ "$got" = "$want" ] || fail "$method $path: status $got, want $want"
}

jqeq() {
    local got
    got=$(jq -c "$1" "$TMP/body") || fail "jq '$1' on a non-JSON body"
    [ "$got" = "$2" ] || fail "jq '$1' = $got, want $2"
}

one_agent_test() {
    local monitor=$1 admin=$2 key=$3
    req 201 PUT "/api/v1/connectionMonitors/$monitor" '{"properties": {
  "endpoints": [{"name": "a", "type": "Agent", "address": "agent-a"},
                {"name": "dst", "address": "127.0.0.1"}],
  "testConfigurations": [{"name": "tcp", "protocol": "Tcp", "tcpConfiguration": {"port": 9}}],
  "testGroups": [{"name": "g", "sources": ["a"], "destinations": ["dst"], "testConfigurations": ["tcp"]}]}}' "$admin"
    req 200 GET "/api/v1/tests?monitor=$monitor" "" "$admin"
    TEST=$(jq -r '.items[0].id' "$TMP/body")
    req 201 POST /api/v1/agents/register '{"name":"agent-a"}' "$key"
    TA=$(jq -r .token "$TMP/body")
}
