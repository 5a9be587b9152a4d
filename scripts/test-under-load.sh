#!/usr/bin/env bash
# test-under-load.sh: run the whole suite (both builds, as `make test`) RUNS
# times while BUSY processes keep every core busy, and list the tests that
# failed in each run.  CI shares 2 cores; a test that only passes on an idle
# machine is a flaky test, and this is how to find it before CI does.
# usage: scripts/test-under-load.sh [RUNS (3)] [BUSY (number of cores)]
# Exit status: 0 when every run passed, 1 otherwise.  Logs: $LOGDIR (default
# /tmp/cmon-test-load-PID), one per run and build.
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUSY=${2:-$(nproc)}
LOGDIR=${LOGDIR:-/tmp/cmon-test-load-$$}
CTEST_JOBS=${CTEST_JOBS:-$(($(nproc) * 3))}
mkdir -p "$LOGDIR"
[ -x build/cmon ] && [ -x build-asan/cmon ] || { echo "build first: make build build-asan" >&2; exit 2; }

pids=()
stop_busy() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_busy EXIT
for _ in $(seq 1 "$BUSY"); do
    # a plain busy loop at normal priority: it competes with the tests
    bash -c 'while :; do :; done' &
    pids+=($!)
done
echo "== $BUSY busy loops on $(nproc) cores; $RUNS runs; logs in $LOGDIR"

bad=0
for run in $(seq 1 "$RUNS"); do
    for b in build build-asan; do
        log="$LOGDIR/run$run-$b.log"
        start=$(date +%s)
        (cd "$b" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --output-on-failure -j "$CTEST_JOBS") >"$log" 2>&1
        rc=$?
        # ctest lists skipped tests ("did not run") and failed ones apart
        failed=$(sed -n '/tests FAILED:/,$p' "$log" | grep -E '^\s+[0-9]+ - ' |
                 sed -E 's/^\s+[0-9]+ - //' | paste -sd' ')
        printf 'run %d %-10s %4d s  %s\n' "$run" "$b" $(($(date +%s) - start)) \
            "$([ $rc -eq 0 ] && echo passed || echo "FAILED: $failed")"
        [ $rc -eq 0 ] || bad=1
    done
done
exit $bad
