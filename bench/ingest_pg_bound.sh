#!/usr/bin/env bash
# ingest_pg_bound.sh: what PostgreSQL itself manages on this machine with the
# same rows, as an upper bound for bench/ingest_pg.sh -- psql's COPY of
# RESULTS rows (written by one bench/ingest.c run) into a table shaped like one
# results partition, with and without its index, and the pieces of cmon's
# flush (COPY into the partitions, COPY into the roll-up queue, each test's
# newest round into the tests' live figures) timed alone; then cmon's figure
# against the COPY with the index.  Private cluster, fsync on.  Prints
# numbers, asserts nothing.
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
"$TMP/ingest" "$PG_URL" "$N" "$TESTS" 1000 | head -1 | tee "$TMP/cmon.txt"
pg_psql -c "COPY (SELECT * FROM results) TO STDOUT" >"$TMP/rows.tsv"
pg_psql -c "COPY (SELECT test_id, start_ns, 100.0::float8 * checks_failed / checks_total, rtt_avg FROM results) TO STDOUT" >"$TMP/queue.tsv"
pg_psql -c "COPY (SELECT DISTINCT ON (test_id) test_id, start_ns, 0, rtt_avg, diagnostic, detail FROM results ORDER BY test_id, start_ns DESC) TO STDOUT" >"$TMP/live.tsv"
# psql \timing prints "Time: X ms" after each statement
t() { # label, SQL...: run in one session, print rows/s of the last statement
    local label=$1; shift
    local ms
    ms=$(printf '%s\n' '\timing on' "$@" | psql -X -q -h "$PG_DIR" -U cmon -d cmon 2>&1 |
         awk '/^Time:/ { v = $2 } END { print v }')
    awk -v l="$label" -v ms="$ms" -v n="$N" \
        'BEGIN { printf "%-58s %9.0f ms  %9.0f rows/s\n", l, ms, n / (ms / 1000) }'
    echo "$ms" >"$TMP/last_ms"
}
psql -X -q -h "$PG_DIR" -U cmon -d cmon -c "CHECKPOINT" >/dev/null
echo "== PostgreSQL alone, $N rows (one transaction each, fsync on)"
t "COPY into a results-shaped table, no index" \
  "CREATE TABLE b1 (LIKE results);" "\\copy b1 FROM '$TMP/rows.tsv'"
t "COPY into a results-shaped table + (test_id, start_ns) index" \
  "CREATE TABLE b2 (LIKE results); CREATE INDEX ON b2 (test_id, start_ns);" \
  "\\copy b2 FROM '$TMP/rows.tsv'"
bound_ms=$(cat "$TMP/last_ms")
echo "== the pieces of cmon's flush, alone"
t "COPY into the results partitions (cmon's first step)" "TRUNCATE results;" \
  "\\copy results FROM '$TMP/rows.tsv'"
t "COPY into rollup_pending (the roll-up queue)" "TRUNCATE rollup_pending;" "\\copy rollup_pending FROM '$TMP/queue.tsv'"
t "COPY each test's newest round + UPDATE tests ($TESTS rows)" \
  "CREATE TEMP TABLE l (test_id TEXT, start_ns BIGINT, failed_pct FLOAT8, rtt_avg FLOAT8, diagnostic TEXT, detail TEXT);" \
  "\\copy l FROM '$TMP/live.tsv'" \
  "UPDATE tests t SET last_result_ns = l.start_ns, checks_failed_pct = l.failed_pct, rtt_ms = l.rtt_avg, diagnostic = l.diagnostic, detail = l.detail FROM l WHERE t.id = l.test_id;"
cmon_s=$(sed -nE 's/.* in ([0-9.]+) s = .*/\1/p' "$TMP/cmon.txt")
awk -v c="$cmon_s" -v b="$bound_ms" -v n="$N" 'BEGIN {
    printf "cmon one replica / PostgreSQL COPY with the index: %.0f / %.0f rows/s = %.2fx (goal >= 0.6x)\n",
           n / c, n / (b / 1000), (n / c) / (n / (b / 1000)) }'
