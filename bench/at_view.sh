#!/usr/bin/env bash
# at_view.sh: build bench/at_view.c against $BUILD/libcmon.a (default build/)
# and time the views at= (GET /api/v1/tests?at=..., views_test_query) on a
# SQLite store of TESTS tests with DAYS days of state changes (PER_DAY per
# test per day) and HOURS hours of 60-s rounds; STORE=postgres does the same
# on a private PostgreSQL 15 cluster.  BEFORE=DIR (another build directory,
# e.g. an older commit's) runs the same queries with that build on the same
# store, in the same run: compare medians and the answer hashes (equal hashes:
# equal answers).  Prints numbers, asserts nothing.
# usage: [BEFORE=DIR] [STORE=postgres] bench/at_view.sh [TESTS] [DAYS] [PER_DAY] [HOURS] [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
for b in "$BUILD" ${BEFORE:+"$BEFORE"}; do
    [ -f "$b/libcmon.a" ] || { echo "build first: cmake --build $b" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/cmon-bench-at-XXXXXX)
cleanup() { [ "${STORE:-sqlite}" != postgres ] || pg_stop; rm -rf "$TMP"; }
trap cleanup EXIT
compile() { # build dir, output: with that build's own headers
    local src
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$1/CMakeCache.txt")
    # shellcheck disable=SC2046
    cc -O2 -std=gnu11 -D_GNU_SOURCE -I"${src:-.}/src" bench/at_view.c "$1/libcmon.a" \
       $(pkg-config --cflags --libs libuv libcurl libcares libmicrohttpd jansson sqlite3 libpq openssl) \
       -lpthread -lm -o "$2"
}
compile "$BUILD" "$TMP/after"
[ -z "${BEFORE:-}" ] || compile "$BEFORE" "$TMP/before"
if [ "${STORE:-sqlite}" = postgres ]; then
    . tests/integration/lib/pg.sh
    PG_FSYNC=on pg_start
    URL=$PG_URL
else
    URL="sqlite:$TMP/cmon.db"
fi
"$TMP/after" fill "$URL" "${1:-10000}" "${2:-30}" "${3:-4}" "${4:-2}"
[ "${STORE:-sqlite}" != sqlite ] || echo "store: $(du -h "$TMP/cmon.db" | cut -f1)"
for run in before after; do
    [ -x "$TMP/$run" ] || continue
    label=$BUILD
    [ "$run" = after ] || label=$BEFORE
    echo "== $run ($label)"
    "$TMP/$run" query "$URL" "${5:-5}"
done
