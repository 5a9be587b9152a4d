#!/usr/bin/env bash
# bench/icmp.sh: ICMP echo throughput and loss accuracy, cmon vs fping, in one
# run on the same namespace pair (client -> server over a veth, 50 server
# addresses).  Prints figures and ratios; asserts nothing about speed.
#   CMON=build/cmon CMON_SOURCE_DIR=. bash bench/icmp.sh
# 1. Burst: N echo checks as fast as each tool goes -- cmon check -i 0
#    --concurrency C (C in flight; the next starts when one ends) with datagram
#    and with raw ICMP sockets; fping over the 50 addresses at its minimum
#    period (-p 1 -i 0; fping paces each target, so it needs several).
# 2. Sustained for DURATION seconds (the issue's measure): cmon at its burst
#    rate; fping as fast as one fping process can sustain.  fping 5.1 keeps
#    65535 sequence numbers and refuses to reuse one within 10 s ("not enough
#    sequence numbers available", exit 4), so one process sustains at most
#    6553 pings/s: the script shows that limit, runs fping at 50 x -p 8 =
#    6250/s, and also runs FPING_PROCS (8) such fping processes at once
#    (what a user would do to go faster; they share both vCPUs, cmon uses
#    one thread).  A process that falls behind on a busy machine catches up
#    in a burst, runs out of sequence numbers and dies without statistics:
#    the script reports how many did.
# CPU = user + system seconds of the tool, "kernel %" its system share: the
# kernel's work for the veth peer's echo replies runs in the sender's softirq
# and is charged to the sender, the same for both tools.  cmon runs with -q
# (summary only): --json would keep and print every check's result.
# Loss: nftables drops 30 % of echo requests at random; both tools send
# LOSS_N requests and report the loss they measured.
NS_PREFIX=${NS_PREFIX:-cmpb}
. "${CMON_SOURCE_DIR:-.}/tests/integration/lib/netns.sh"
ns_require
command -v fping >/dev/null || skip "fping is not installed"
command -v nft >/dev/null || skip "nftables is not installed"
: "${CMON:?set CMON to the cmon binary}"
N=${N:-60000} # fping: at most 65535 pings in 10 s
C=${C:-100}
DURATION=${DURATION:-60}
FPING_PROCS=${FPING_PROCS:-8}
LOSS_N=${LOSS_N:-5000}
TARGETS=50

ns_add client
ns_add server
ns_link client server 1
targets=()
for i in $(seq 10 $((10 + TARGETS - 1))); do
    ns_in server ip addr add "198.18.1.$i/24" dev v1b
    targets+=("198.18.1.$i")
done
per_target=$((N / TARGETS))
N=$((per_target * TARGETS))

# run_timed OUTFILE CMD...: run, store "wall user sys" (ms resolution) in $NS_TMP/time
run_timed() {
    local out=$1
    shift
    local TIMEFORMAT='%3R %3U %3S'
    { time "$@" >"$out" 2>&1; } 2>"$NS_TMP/time"
}

fping_counts() { # FILE... -> "sent received"
    awk -F'[=/%]' '/xmt\/rcv/ {gsub(/ /, ""); s += $5; r += $6} END {print s + 0, r + 0}' "$@"
}
# cmon's text summary "--- Icmp X: N checks, F failed (P%)" -> "N F"
cmon_counts() { sed -nE 's/^--- .*: ([0-9]+) checks, ([0-9]+) failed.*/\1 \2/p' "$1"; }

ns_in client fping -q -c 3 "${targets[0]}" >/dev/null 2>&1 # warm neighbour caches

# cmon_run MODE COUNT -> "MODE wall user sys checks failed": datagram ICMP
# sockets (what an unprivileged agent uses) or raw ones (what root gets when
# datagram sockets are not allowed; fping as root uses raw sockets too).
cmon_run() {
    local range="0 2147483647"
    [ "$1" = raw ] && range="1 0"
    ns_in client sysctl -qw net.ipv4.ping_group_range="$range"
    run_timed "$NS_TMP/cmon.txt" ip netns exec "$(ns client)" "$CMON" check -q -c "$2" \
        -i 0 --concurrency "$C" -t 1000 198.18.1.10
    ns_in client sysctl -qw net.ipv4.ping_group_range="0 2147483647"
    read -r wall user sys <"$NS_TMP/time"
    echo "$1 $wall $user $sys $(cmon_counts "$NS_TMP/cmon.txt")"
}
# fping_run LABEL PERIOD_MS COUNT_PER_TARGET PROCS -> "LABEL wall user sys sent failed"
fping_run() {
    local label=$1 period=$2 count=$3 procs=$4 p
    rm -f "$NS_TMP"/fping.*.txt
    # shellcheck disable=SC2034 # read by run_timed's time
    run_timed "$NS_TMP/fping.run" bash -c '
        for p in $(seq 1 "$1"); do
            { ip netns exec "$2" fping -q -c "$3" -p "$4" -i 0 -t 1000 "${@:6}"
              echo "exit $?"; } >"$5.$p.txt" 2>&1 &
        done
        wait' _ "$procs" "$(ns client)" "$count" "$period" "$NS_TMP/fping" "${targets[@]}"
    read -r wall user sys <"$NS_TMP/time"
    read -r sent recv < <(fping_counts "$NS_TMP"/fping.*.txt)
    # a process that fell behind and then exceeded its sequence numbers
    # exits 4 without statistics: say so rather than count it as zero
    local bad
    bad=$(grep -L 'xmt/rcv' "$NS_TMP"/fping.*.txt | wc -l)
    [ "$bad" -gt 0 ] && echo "  ($label: $bad of $procs fping processes failed:" \
        "$(grep -h -m1 -v '^exit\|xmt/rcv' "$NS_TMP"/fping.*.txt | head -1 | cut -c1-80))" >&2
    echo "$label $wall $user $sys $sent $((sent - recv))"
}
# report LINE...: one line per run; the first is the reference (fping)
report() {
    printf '%s\n' "$@" | awk '
    function max(a, b) { return a > b ? a : b }
    $5 == 0 { printf "  %-22s no figures (every process failed)\n", $1; if (NR == 1) noref = 1; next }
    {
        rate = $5 / max($2, 0.001); cpu = ($3 + $4) * 1e6 / max($5, 1)
        kern = 100 * $4 / max($3 + $4, 0.001)
        printf "  %-22s %8.0f checks/s, %6.2f us CPU/check (kernel %2.0f%%), %d checks, %d failed\n", $1, rate, cpu, kern, $5, $6
        if (NR == 1) { frate = rate; fcpu = cpu; ref = $1; next }
        if (noref) next
        printf "  %-22s ratio to %s: %.2fx checks/s, %.2fx CPU per check (lower is better)\n", "", ref, rate / max(frate, 1), cpu / max(fcpu, 0.001)
    }'
}

echo "ICMP burst, $N echo checks each (cmon: concurrency $C; fping: $TARGETS targets, -p 1)"
f=$(fping_run fping-raw 1 "$per_target" 1)
d=$(cmon_run datagram "$N")
r=$(cmon_run raw "$N")
report "$f" "cmon-$d" "cmon-$r"
rate=$(awk '{ printf "%d", $5 / ($2 > 0.001 ? $2 : 0.001) }' <<<"$d")

echo "ICMP sustained for ~${DURATION} s"
ns_in client timeout $((DURATION + 5)) fping -q -c $((DURATION * 1000)) -p 1 -i 0 -t 1000 \
    "${targets[@]}" >"$NS_TMP/limit.txt" 2>&1
echo "  one fping at -p 1 over $TARGETS targets for ${DURATION} s: exit $?," \
    "$(grep -m1 -o 'not enough sequence numbers[^(]*' "$NS_TMP/limit.txt" || echo 'no error')"
fs=$(fping_run fping-1proc 8 $((DURATION * 125)) 1)
ds=$(cmon_run datagram $((rate * DURATION)))
ff=$(fping_run "fping-${FPING_PROCS}procs" 8 $((DURATION * 125)) "$FPING_PROCS")
report "$fs" "cmon-$ds"
report "$ff" "cmon-$ds"

# Loss accuracy at 30 % random drop.
ns_in server nft -f - <<'NFT' || fail "nft"
table inet cmpb {
  chain input {
    type filter hook input priority 0;
    icmp type echo-request numgen random mod 100 < 30 drop
  }
}
NFT
ns_in client "$CMON" check --json -q -c "$LOSS_N" -i 0 --concurrency "$C" -t 500 198.18.1.10 \
    >"$NS_TMP/loss.json" 2>/dev/null
c_loss=$(jq -r .summary.checksFailedPercent "$NS_TMP/loss.json")
ns_in client fping -q -c $((LOSS_N / TARGETS)) -p 1 -i 0 -t 500 "${targets[@]}" >"$NS_TMP/floss.txt" 2>&1
read -r f_sent f_recv < <(fping_counts "$NS_TMP/floss.txt")
awk -v cl="$c_loss" -v fs="$f_sent" -v fr="$f_recv" -v n="$LOSS_N" 'BEGIN {
    fl = fs ? 100 * (fs - fr) / fs : 0
    d1 = cl - 30; if (d1 < 0) d1 = -d1; d2 = fl - 30; if (d2 < 0) d2 = -d2
    printf "Loss accuracy at 30%% random drop, %d checks each\n", n
    printf "  cmon : %.2f%% measured (off by %.2f points)\n", cl, d1
    printf "  fping: %.2f%% measured (off by %.2f points)\n", fl, d2
}'
