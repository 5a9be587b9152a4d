#!/usr/bin/env bash
# rtt.sh: how far cmon's ICMP RTT is from the RTT the kernel saw on the wire.
# A packet capture on the client's veth (kernel timestamps, ns precision)
# gives each echo request -> reply time; cmon check reports its own RTT for
# the same checks (paired in order: one check in flight at a time).  Prints
# the median and 95th percentile of |cmon - wire|; goal: median <= 5 us.
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
NS_PREFIX=${NS_PREFIX:-cmb}; . "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
ns_require
command -v tcpdump >/dev/null || skip "tcpdump is not installed"
N=${N:-2000}
ns_add client; ns_add server; ns_link client server 1
cap="$NS_TMP/cap.txt"
ns_in client tcpdump -i v1a -n -l --time-stamp-precision=nano -tt 'icmp' >"$cap" 2>/dev/null &
tpid=$!
sleep 1
out=$(ns_in client "$CMON" check 198.18.1.2 --protocol icmp --count "$N" --interval 2 --json)
sleep 0.5
kill "$tpid"; wait "$tpid" 2>/dev/null
jq -r '.checks[] | select(.ok) | .rttMs' <<<"$out" >"$NS_TMP/cmon.txt"
# wire RTT per (id, seq): reply time - request time, in capture order of requests
awk '/echo request/ {match($0, /id [0-9]+, seq [0-9]+/); k = substr($0, RSTART, RLENGTH); req[k] = $1; order[n++] = k}
     /echo reply/   {match($0, /id [0-9]+, seq [0-9]+/); k = substr($0, RSTART, RLENGTH); rep[k] = $1}
     END {for (i = 0; i < n; i++) if (order[i] in rep) printf "%.6f\n", (rep[order[i]] - req[order[i]]) * 1000}' \
    "$cap" >"$NS_TMP/wire.txt"
paste "$NS_TMP/cmon.txt" "$NS_TMP/wire.txt" | awk 'NF == 2 {d = ($1 - $2) * 1000; print (d < 0 ? -d : d), d}' \
    | sort -n >"$NS_TMP/err.txt"
pairs=$(wc -l <"$NS_TMP/err.txt")
[ "$pairs" -gt 0 ] || { echo "no pairs: capture or check failed"; exit 1; }
med=$(awk -v n="$pairs" 'NR == int((n + 1) / 2) {print $1}' "$NS_TMP/err.txt")
p95=$(awk -v n="$pairs" 'NR == int(n * 0.95) {print $1}' "$NS_TMP/err.txt")
bias=$(sort -n -k2 "$NS_TMP/err.txt" | awk -v n="$pairs" 'NR == int((n + 1) / 2) {print $2}')
wmed=$(sort -n "$NS_TMP/wire.txt" | awk -v n="$(wc -l <"$NS_TMP/wire.txt")" 'NR == int((n + 1) / 2) {print $1 * 1000}')
printf 'ICMP RTT error vs kernel capture timestamps, %d checks on a veth pair\n' "$pairs"
printf '  wire RTT median %.1f us; |cmon - wire| median %.2f us, p95 %.2f us; signed median %.2f us (goal: median <= 5 us)\n' \
    "$wmed" "$med" "$p95" "$bias"
