#!/usr/bin/env bash
# test_pg_store.sh: the backend-neutral store suite (test_store, test_store_results,
# test_store_access, test_store_alerts: store_suite.h), the
# PostgreSQL-only one (test_store_pg) and the store-backed server tests over
# a real PostgreSQL 15 cluster that this test starts in a temp dir and tears
# down.  Skips (77) with the reason when PostgreSQL cannot start.
set -u
: "${CMON_SOURCE_DIR:?}"
: "${CMON_BUILD_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$CMON_SOURCE_DIR/tests/integration/lib/pg.sh"
trap pg_stop EXIT
pg_start || exit $?

# test_agent_registry, test_server_alerts: the evaluator's agent_stopped rule
# and the server's alert wiring (fire, restore, resolve) over PostgreSQL
for t in test_store test_store_results test_store_access test_store_alerts test_store_pg \
    test_agent_registry test_server_alerts; do
    [ -x "$CMON_BUILD_DIR/$t" ] || fail "$CMON_BUILD_DIR/$t is not built"
    CMON_TEST_STORE_URL="$PG_URL" "$CMON_BUILD_DIR/$t" >"$PG_DIR/$t.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        cat "$PG_DIR/$t.out" >&2
        fail "$t over PostgreSQL exited $rc"
    fi
    grep -E '^\[  PASSED  \]' "$PG_DIR/$t.out"
done
# cmon migrate end to end: a SQLite store with a token moves into an empty database
# (test_store_pg's test_copy_from_sqlite checks agents, action groups and
# alerts arrive; here the CLI lists their tables)
: "${CMON:?set CMON to the cmon binary}"
SQ="sqlite:$PG_DIR/single/cmon.db"
"$CMON" token create --role admin --name ops --store "$SQ" >"$PG_DIR/tok" 2>/dev/null || fail "token create"
TO=$(pg_new_db moved)
"$CMON" migrate --from "$SQ" --to "$TO" >"$PG_DIR/migrate.out" 2>"$PG_DIR/migrate.err"
rc=$?
[ $rc -eq 0 ] || { cat "$PG_DIR/migrate.err" >&2; fail "cmon migrate exited $rc"; }
grep -qx 'tokens          1 rows' "$PG_DIR/migrate.out" || fail "migrate output: $(cat "$PG_DIR/migrate.out")"
for t in agent_registry action_groups alerts alert_transitions; do
    grep -qx "$(printf '%-15s 0 rows' "$t")" "$PG_DIR/migrate.out" || fail "migrate does not copy $t"
done
[ "$(psql -X -q -A -t -h "$PG_DIR" -U cmon -d moved -c "SELECT name FROM tokens")" = ops ] ||
    fail "the token did not arrive"
"$CMON" migrate --from "$SQ" --to "$TO" >/dev/null 2>"$PG_DIR/again.err"
rc=$?
[ $rc -eq 1 ] && grep -q "already holds cmon data" "$PG_DIR/again.err" || fail "second migrate: exit $rc"
"$CMON" migrate --from "$SQ" >/dev/null 2>&1
[ $? -eq 2 ] || fail "migrate without --to is not a usage error"
"$CMON" migrate --from "postgres://x" --to "$TO" >/dev/null 2>&1
[ $? -eq 2 ] || fail "migrate from a non-SQLite store is not a usage error"
echo "ok: cmon migrate copies a SQLite store once, refuses a non-empty target"
echo "PASS: store suites over PostgreSQL"
