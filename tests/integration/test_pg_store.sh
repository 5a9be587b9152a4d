#!/usr/bin/env bash
# test_pg_store.sh: the backend-neutral store suite (test_store) and the
# PostgreSQL-only one (test_store_pg) over a real PostgreSQL 15 cluster that
# this test starts in a temp dir and tears down.  Skips (77) with the reason
# when PostgreSQL cannot start.
set -u
: "${CMON_SOURCE_DIR:?}"
: "${CMON_BUILD_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$CMON_SOURCE_DIR/tests/integration/lib/pg.sh"
trap pg_stop EXIT
pg_start || exit $?

for t in test_store test_store_pg; do
    [ -x "$CMON_BUILD_DIR/$t" ] || fail "$CMON_BUILD_DIR/$t is not built"
    CMON_TEST_STORE_URL="$PG_URL" "$CMON_BUILD_DIR/$t" >"$PG_DIR/$t.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        cat "$PG_DIR/$t.out" >&2
        fail "$t over PostgreSQL exited $rc"
    fi
    grep -E '^\[  PASSED  \]' "$PG_DIR/$t.out"
done
echo "PASS: store suites over PostgreSQL"
