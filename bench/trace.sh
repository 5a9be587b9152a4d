#!/usr/bin/env bash
# trace.sh: cmon trace vs mtr --report on the same router chain
# (client -> r1 -> r2 -> r3 -> server) with 30 % loss injected on what enters r2:
# same hops? loss per hop within +-3 points?  And the wall time of each for
# the same number of probes.  Prints figures; asserts nothing about speed.
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
NS_PREFIX=cmb; . "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/chain.sh"
ns_require
command -v mtr >/dev/null || skip "mtr is not installed (apt-get install mtr-tiny)"
COUNT=${COUNT:-1000}
chain_up
ns_in r2 nft -f - <<'NFT'
table inet lossy {
  chain pre {
    type filter hook prerouting priority -300;
    iifname "v2b" numgen random mod 100 < 30 drop
  }
}
NFT
t0=$(date +%s.%N)
mtr_out=$(ns_in client mtr --report --report-cycles "$COUNT" --interval 0.01 --no-dns --json 198.18.4.2)
t1=$(date +%s.%N)
cmon_out=$(ns_in client "$CMON" trace --count "$COUNT" --interval 10 --json 198.18.4.2)
t2=$(date +%s.%N)
printf '%-4s %-14s %10s   %-14s %10s %8s\n' HOP "mtr address" "mtr loss%" "cmon address" "cmon loss%" "diff"
worst=0
same=yes
for i in 0 1 2 3; do
    ma=$(jq -r ".report.hubs[$i].host // \"-\"" <<<"$mtr_out")
    ml=$(jq -r ".report.hubs[$i][\"Loss%\"] // 0" <<<"$mtr_out")
    ca=$(jq -r ".hops[$i].address // \"-\"" <<<"$cmon_out")
    cl=$(jq -r ".hops[$i].lossPercent // 0" <<<"$cmon_out")
    d=$(awk -v a="$ml" -v b="$cl" 'BEGIN {d = a - b; if (d < 0) d = -d; printf "%.1f", d}')
    printf '%-4d %-14s %10.1f   %-14s %10.1f %8s\n' $((i + 1)) "$ma" "$ml" "$ca" "$cl" "$d"
    [ "$ma" = "$ca" ] || same=no
    worst=$(awk -v w="$worst" -v d="$d" 'BEGIN {print (d > w) ? d : w}')
done
echo "same hops: $same; largest loss difference: $worst points (goal <= 3; with $COUNT probes per hop"
echo "each tool's own sampling error is about $(awk -v n="$COUNT" 'BEGIN {printf "%.1f", 100 * sqrt(0.3 * 0.7 / n)}') points)"
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v n="$COUNT" \
    'BEGIN {printf "wall time for %d probes per hop, 10 ms apart: mtr %.2f s, cmon %.2f s\n", n, t1 - t0, t2 - t1}'
