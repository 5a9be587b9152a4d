#!/usr/bin/env bash
# ingest_pg_bound.sh: what PostgreSQL itself manages on this machine with the
# same rows, as an upper bound for bench/ingest_pg.sh -- psql's COPY of
# RESULTS rows (written by one bench/ingest.c run) into a table shaped like one
# results partition, with and without its index, and the pieces of cmon's
# set-wise move (raw insert, roll-up queue, tests' live figures) timed alone.
# Private cluster, fsync on.  Prints numbers, asserts nothing.
# usage: bench/ingest_pg_bound.sh [RESULTS] [TESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
[ -f "$BUILD/libcmon.a" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
. tests/integration/lib/pg.sh
TMP=$(mktemp -d /tmp/cmon-bench-pgbound-XXXXXX)
chmod 755 "$TMP"
trap 'pg_stop; rm -rf "$TMP"' EXIT
PG_FSYNC=on pg_start
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc bench/ingest.c "$BUILD/libcmon.a" \
   $(pkg-config --cflags --libs libuv libcurl libcares libmicrohttpd jansson sqlite3 libpq openssl) \
   -lpthread -lm -o "$TMP/ingest"
N=${1:-200000} TESTS=${2:-10000}
echo "== cmon's ingest path (the rows used below)"
"$TMP/ingest" "$PG_URL" "$N" "$TESTS" 1000 | head -1
pg_psql -c "COPY (SELECT * FROM results) TO STDOUT" >"$TMP/rows.tsv"
pg_psql -c "COPY (SELECT 0 AS ord, * FROM results) TO STDOUT" >"$TMP/stage.tsv"
# psql \timing prints "Time: X ms" after each statement
t() { # label, SQL...: run in one session, print rows/s of the last statement
    local label=$1; shift
    local ms
    ms=$(printf '%s\n' '\timing on' "$@" | psql -X -q -h "$PG_DIR" -U cmon -d cmon 2>&1 |
         awk '/^Time:/ { v = $2 } END { print v }')
    awk -v l="$label" -v ms="$ms" -v n="$N" \
        'BEGIN { printf "%-58s %9.0f ms  %9.0f rows/s\n", l, ms, n / (ms / 1000) }'
}
psql -X -q -h "$PG_DIR" -U cmon -d cmon -c "CHECKPOINT" >/dev/null
echo "== PostgreSQL alone, $N rows (one transaction each, fsync on)"
t "COPY into a results-shaped table, no index" \
  "CREATE TABLE b1 (LIKE results);" "\\copy b1 FROM '$TMP/rows.tsv'"
t "COPY into a results-shaped table + (test_id, start_ns) index" \
  "CREATE TABLE b2 (LIKE results); CREATE INDEX ON b2 (test_id, start_ns);" \
  "\\copy b2 FROM '$TMP/rows.tsv'"
t "COPY into a TEMP staging table (cmon's first step)" \
  "CREATE TEMP TABLE s (ord BIGINT NOT NULL, LIKE results);" "\\copy s FROM '$TMP/stage.tsv'"
t "  + INSERT INTO results partition SELECT FROM staging" \
  "CREATE TEMP TABLE s (ord BIGINT NOT NULL, LIKE results);" "\\copy s FROM '$TMP/stage.tsv'" \
  "INSERT INTO results SELECT test_id, start_ns, agent, checks_total, checks_failed, rtt_min, rtt_avg, rtt_max, rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms, tls_ms, first_byte_ms FROM s;"
t "  + INSERT INTO rollup_pending SELECT FROM staging" \
  "CREATE TEMP TABLE s (ord BIGINT NOT NULL, LIKE results);" "\\copy s FROM '$TMP/stage.tsv'" \
  "INSERT INTO rollup_pending SELECT test_id, start_ns, 100.0::float8 * checks_failed / checks_total, rtt_avg FROM s;"
t "  + UPDATE tests' live figures (DISTINCT ON per test)" \
  "CREATE TEMP TABLE s (ord BIGINT NOT NULL, LIKE results);" "\\copy s FROM '$TMP/stage.tsv'" \
  "UPDATE tests t SET last_result_ns = l.start_ns, checks_failed_pct = 0, rtt_ms = l.rtt_avg FROM (SELECT DISTINCT ON (test_id) test_id, start_ns, rtt_avg FROM s ORDER BY test_id, start_ns DESC, ord DESC) l WHERE t.id = l.test_id;"
