# writelock.sh: hold a SQLite store's write lock from outside the server, so
# its writer blocks in its next transaction and later writes queue behind it
# (the write-suspend tests).  Source after api.sh; uses $TMP, $B, $ADMIN.
#
#   writelock_take DB        an sqlite3 process takes DB's write lock (BEGIN
#                            IMMEDIATE; readers go on: WAL); sets LOCK_PID
#   writelock_release        commit and end it
#   gauge NAME               a /metrics value (empty when /metrics does not
#                            answer within 10 s)
#   wait_pending N           wait (at most 60 s) until at least N requests
#                            wait for the writer (cmon_http_writes_waiting)
#   writelock_server_stops_clean  the server still answers, stops on TERM
#                            with status 0 and no sanitizer report
# The script's cleanup_extra calls writelock_cleanup (also kills its jobs).

LOCK_PID=
writelock_cleanup() {
    exec 9>&- 2>/dev/null || true
    [ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null && wait "$LOCK_PID" 2>/dev/null
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
}
cleanup_extra() { writelock_cleanup; }

writelock_take() {
    rm -f "$TMP/lock.in"
    mkfifo "$TMP/lock.in"
    sqlite3 "$1" <"$TMP/lock.in" >"$TMP/lock.out" 2>&1 &
    LOCK_PID=$!
    exec 9>"$TMP/lock.in"
    echo "PRAGMA busy_timeout = 10000; BEGIN IMMEDIATE; SELECT 'locked';" >&9
    for _ in $(seq 200); do grep -q locked "$TMP/lock.out" && break; sleep 0.05; done
    grep -q locked "$TMP/lock.out" || fail "sqlite3 did not take the write lock: $(cat "$TMP/lock.out")"
}

writelock_release() {
    echo "COMMIT;" >&9
    exec 9>&-
    wait "$LOCK_PID" || true
    LOCK_PID=
}

gauge() {
    { curl -s -m 10 -H "Authorization: Bearer $ADMIN" "$B/metrics" || true; } |
        awk -v m="$1" '$1 == m { print $2 }'
}

wait_pending() {
    local end=$((SECONDS + 60)) q=0
    while [ $SECONDS -lt $end ]; do
        q=$(gauge cmon_http_writes_waiting)
        [ "${q:-0}" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "only ${q:-?} writes waiting for the writer, want $1"
}

writelock_server_stops_clean() {
    req 200 GET /healthz
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    [ "$rc" = 0 ] || fail "the server exited $rc"
    ! grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$TMP/server.err" || fail "sanitizer report"
    pass "the server stayed healthy and stopped cleanly"
}
