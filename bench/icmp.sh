#!/usr/bin/env bash
# bench/icmp.sh: ICMP echo throughput and loss accuracy, cmon vs fping, in one
# run on the same namespace pair (client -> server over a veth).  Prints
# figures and ratios; asserts nothing about speed.
#   CMON=build/cmon CMON_SOURCE_DIR=. bash bench/icmp.sh
# Throughput: N echo checks as fast as each tool goes -- cmon check with
# --interval 0 --concurrency C (C checks in flight, the next starts when one
# ends), once with datagram and once with raw ICMP sockets; fping over 50
# target addresses at its minimum period (-p 1 -i 0), since fping paces each
# target.  CPU = user + system seconds of the tool (the kernel's work for the
# veth peer's replies is charged to the sender, the same for both tools).
# Loss: nftables drops 30 % of echo requests at random; both tools send
# LOSS_N requests and report the loss they measured.
NS_PREFIX=cmpb
. "${CMON_SOURCE_DIR:-.}/tests/integration/lib/netns.sh"
ns_require
command -v fping >/dev/null || skip "fping is not installed"
command -v nft >/dev/null || skip "nftables is not installed"
: "${CMON:?set CMON to the cmon binary}"
N=${N:-60000}   # fping tracks at most 65535 sequence numbers per run
C=${C:-100}
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
    local out=$1; shift
    local TIMEFORMAT='%3R %3U %3S'
    { time "$@" >"$out" 2>&1; } 2>"$NS_TMP/time"
}

fping_counts() { # -> "sent received"
    awk -F'[=/%]' '/xmt\/rcv/ {gsub(/ /, ""); s += $5; r += $6} END {print s + 0, r + 0}' "$1"
}

ns_in client fping -q -c 3 "${targets[0]}" >/dev/null 2>&1   # warm neighbour caches

# cmon_run MODE: cmon's throughput with datagram ICMP sockets (what an
# unprivileged agent uses) or raw ones (what root gets when datagram sockets
# are not allowed; fping as root uses raw sockets too).
cmon_run() {
    local range="0 2147483647"
    [ "$1" = raw ] && range="1 0"
    ns_in client sysctl -qw net.ipv4.ping_group_range="$range"
    run_timed "$NS_TMP/cmon.json" ip netns exec "$(ns client)" "$CMON" check --json -q -c "$N" \
        -i 0 --concurrency "$C" -t 1000 198.18.1.10
    read -r wall user sys <"$NS_TMP/time"
    echo "$1 $wall $user $sys $(jq -r '"\(.summary.checksFailed) \(.summary.rtt.avg)"' "$NS_TMP/cmon.json")"
}
cmon_run datagram >"$NS_TMP/cmon-datagram.txt"
cmon_run raw >"$NS_TMP/cmon-raw.txt"
ns_in client sysctl -qw net.ipv4.ping_group_range="0 2147483647"

run_timed "$NS_TMP/fping.txt" ip netns exec "$(ns client)" fping -q -c "$per_target" -p 1 -i 0 \
    -t 1000 "${targets[@]}"
read -r f_wall f_user f_sys <"$NS_TMP/time"
read -r f_sent f_recv < <(fping_counts "$NS_TMP/fping.txt")

echo "ICMP throughput, $N echo checks each (cmon: concurrency $C)"
cat "$NS_TMP/cmon-datagram.txt" "$NS_TMP/cmon-raw.txt" | awk -v n="$N" -v fw="$f_wall" -v fu="$f_user" \
    -v fs="$f_sys" -v fsent="$f_sent" -v frecv="$f_recv" '
function max(a, b) { return a > b ? a : b }
BEGIN {
    frate = fsent / max(fw, 0.001); fcpu = (fu + fs) * 1e6 / max(fsent, 1)
    printf "  fping (raw, 50 targets): %8.0f checks/s, %6.2f us CPU/check, %d failed\n", frate, fcpu, fsent - frecv
}
{
    rate = n / max($2, 0.001); cpu = ($3 + $4) * 1e6 / n
    printf "  cmon  (%-8s sockets): %8.0f checks/s, %6.2f us CPU/check, %d failed, rtt avg %s ms\n", $1, rate, cpu, $5, $6
    printf "        ratio cmon/fping: %.2fx checks/s, %.2fx CPU per check (lower is better)\n", rate / max(frate, 1), cpu / max(fcpu, 0.001)
}'

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
