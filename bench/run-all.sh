#!/usr/bin/env bash
# run-all.sh: run every benchmark in bench/ (each compares cmon with a peer
# tool in one run and prints ratios; none asserts a time).  Output also goes to
# build/bench-latest.txt; copy the figures you keep into bench/RESULTS.md.
set -u
cmon=$(realpath "${1:-build/cmon}")
here=$(cd "$(dirname "$0")" && pwd)
out="$(dirname "$cmon")/bench-latest.txt"
: >"$out"
status=0
for b in "$here"/*.sh; do
    [ "$(basename "$b")" = run-all.sh ] && continue
    echo "== $(basename "$b")" | tee -a "$out"
    CMON="$cmon" CMON_SOURCE_DIR="$(dirname "$here")" CMON_BUILD_DIR="$(dirname "$cmon")" \
        bash "$b" 2>&1 | tee -a "$out"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 77 ]; then
        echo "(skipped)" | tee -a "$out"
    elif [ "$rc" -ne 0 ]; then
        echo "(failed with exit $rc)" | tee -a "$out"
        status=1
    fi
done
echo "results: $out"
exit $status
