#!/bin/bash
# run-fuzz.sh: build the libFuzzer targets (clang, -DCMON_FUZZ=ON) and run each
# for FUZZ_SECONDS, printing per target the executions, exec/s and coverage.
# `make fuzz` calls this; FUZZ_TARGETS=time,spool (names with or without the
# fuzz_ prefix) runs a subset.  A crash stops the run with exit 1 and prints
# the path of the crashing input (kept in build-fuzz/crashes/).
# New inputs go to build-fuzz/corpus-<name> (not committed); seeds are read
# from tests/fuzz/corpus/<name>.  Two runs may share build-fuzz: the build
# step holds a lock, so start them with disjoint FUZZ_TARGETS.
set -u
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}
out=build-fuzz

mkdir -p "$out/crashes"
flock "$out/.build.lock" sh -c "
  CC=clang cmake -S . -B $out -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMON_FUZZ=ON >/dev/null &&
  cmake --build $out -j $jobs" || { echo "fuzz build failed" >&2; exit 1; }

# The requested subset, or every target that was built.
targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
    IFS=, read -ra wanted <<<"$FUZZ_TARGETS"
    for w in "${wanted[@]}"; do
        t=$out/fuzz_${w#fuzz_}
        [ -x "$t" ] || { echo "no fuzz target $w (have: $(cd $out && ls -d fuzz_* | grep -v '\.log$' | tr '\n' ' '))" >&2; exit 2; }
        targets+=("$t")
    done
else
    for t in "$out"/fuzz_*; do [ -x "$t" ] && [ -f "$t" ] && targets+=("$t"); done
fi

# UB must abort (the build also has -fno-sanitize-recover=undefined).
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
printf '%-14s %12s %8s %6s\n' target executions exec/s cov
for t in "${targets[@]}"; do
    name=$(basename "$t")
    short=${name#fuzz_}
    seeds=tests/fuzz/corpus/$short
    work=$out/corpus-$short
    log=$out/$name.log
    mkdir -p "$work"
    if ! "$t" -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix="$out/crashes/$short-" "$work" "$seeds" >"$log" 2>&1; then
        tail -40 "$log"
        crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | cut -d' ' -f5)
        echo "== $name FAILED; crashing input: ${crash:-(none written, see $log)}"
        echo "   reproduce: $t ${crash:-}"
        exit 1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o ' cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    printf '%-14s %12s %8s %6s\n' "$short" "${execs:-?}" "${rate:-?}" "${cov:-?}"
done
