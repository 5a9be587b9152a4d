#!/usr/bin/env bash
# ingest.sh: build and run bench/ingest.c against build/libcmon.a -- round
# results per second through the real ingest path into SQLite.  Prints
# numbers, asserts nothing.  usage: bench/ingest.sh [RESULTS] [TESTS] [BATCH]
# PERF="perf record -g -o FILE" runs it under a profiler.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CMON_BUILD_DIR:-build}
[ -f "$BUILD/libcmon.a" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
TMP=$(mktemp -d /tmp/cmon-bench-ingest-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc bench/ingest.c "$BUILD/libcmon.a" \
   $(pkg-config --cflags --libs libuv libcurl libcares libmicrohttpd jansson sqlite3 libpq openssl) \
   -lpthread -lm -o "$TMP/ingest"
${PERF:-} "$TMP/ingest" "$TMP" "${1:-500000}" "${2:-10000}" "${3:-1000}"
