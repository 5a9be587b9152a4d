#!/usr/bin/env bash
# test_ingest_pg.sh: the ingest thread's exact outcome (unit/test_ingest_store:
# results once and in arrival order, live figures of the newest round, states
# and their change records, duplicates) over a real PostgreSQL 15 cluster
# started here in a temp dir and torn down.  Skips (77) with the reason when
# PostgreSQL cannot start.
set -u
: "${CMON_SOURCE_DIR:?}"
: "${CMON_BUILD_DIR:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$CMON_SOURCE_DIR/tests/integration/lib/pg.sh"
trap pg_stop EXIT
pg_start || exit $?
t=test_ingest_store
[ -x "$CMON_BUILD_DIR/$t" ] || fail "$CMON_BUILD_DIR/$t is not built"
CMON_TEST_STORE_URL="$PG_URL" "$CMON_BUILD_DIR/$t" >"$PG_DIR/$t.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$PG_DIR/$t.out" >&2
    fail "$t over PostgreSQL exited $rc"
fi
grep -E '^\[  PASSED  \]' "$PG_DIR/$t.out"
