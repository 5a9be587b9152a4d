#!/usr/bin/env bash
# ingest_pg.sh: round results per second through the real ingest path into
# PostgreSQL 15 (a private cluster started here, fsync on, default
# synchronous_commit), with 1 replica and with 2 replicas (two processes,
# each its own ingest connection and tests, on one database), next to the
# SQLite figure of bench/ingest.sh.  Prints numbers, asserts nothing.
# usage: bench/ingest_pg.sh [RESULTS per replica] [TESTS] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
[ -f "$BUILD/libcmon.a" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
. tests/integration/lib/pg.sh
TMP=$(mktemp -d /tmp/cmon-bench-ingest-pg-XXXXXX)
trap 'pg_stop; rm -rf "$TMP"' EXIT
PG_FSYNC=on pg_start
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc bench/ingest.c "$BUILD/libcmon.a" \
   $(pkg-config --cflags --libs libuv libcurl libcares libmicrohttpd jansson sqlite3 libpq openssl) \
   -lpthread -lm -o "$TMP/ingest"
N=${1:-500000} TESTS=${2:-10000} BATCH=${3:-1000}
echo "== SQLite (1 server)"
mkdir -p "$TMP/sqlite" && "$TMP/ingest" "$TMP/sqlite" "$N" "$TESTS" "$BATCH"
echo "== PostgreSQL, 1 replica"
"$TMP/ingest" "$PG_URL" "$N" "$TESTS" "$BATCH" 0
echo "== PostgreSQL, 2 replicas (2 x $N results at once)"
# the wall time below includes each process's setup (its monitor): conservative
t0=$(date +%s.%N)
"$TMP/ingest" "$PG_URL" "$N" "$TESTS" "$BATCH" 0 >"$TMP/r0" &
p0=$!
"$TMP/ingest" "$PG_URL" "$N" "$TESTS" "$BATCH" 1 >"$TMP/r1" &
p1=$!
wait $p0 $p1
t1=$(date +%s.%N)
cat "$TMP/r0" "$TMP/r1"
awk -v n="$((2 * N))" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "ingest[postgres x2]: %d results in %.2f s = %.0f results/s in total, setup included\n", n, b - a, n / (b - a) }'
# the same without the setup: both ingest at once, so the slower one's time
cat "$TMP/r0" "$TMP/r1" | awk -v n="$((2 * N))" \
    '/^ingest\[postgres\]/ { for (i = 1; i < NF; i++) if ($(i + 1) == "s") t = $i + 0; if (t > m) m = t }
     END { printf "ingest[postgres x2]: %d results in %.2f s of ingest = %.0f results/s in total\n", n, m, n / m }'
echo "rows stored: $(pg_psql -c 'SELECT count(*) FROM results')"
