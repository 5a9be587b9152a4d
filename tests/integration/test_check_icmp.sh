#!/usr/bin/env bash
# test_check_icmp.sh: `cmon check HOST` (ICMP echo) in network namespaces:
# IPv4 and IPv6 reachability with datagram sockets and with the raw-socket
# fallback; 30 % random loss from nftables measured over 4000 checks;
# unreachable codes from the destination (admin-prohibited, host-unreachable,
# protocol-unreachable -> icmp_unreachable) and from a router (net-unreachable,
# time exceeded);
# no route; a local firewall and a user without ICMP rights (permission_denied).
NS_PREFIX=cmp
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
# No `set -e`: the harness's cleanup trap waits for killed processes.
ns_require
command -v jq >/dev/null || skip "jq is not installed"
command -v nft >/dev/null || skip "nftables (nft) is not installed"

# client --1-- router --2-- server ; the client routes 198.18.2.0/24 via the router
ns_add client
ns_add router
ns_add server
ns_link client router 1
ns_link router server 2
ns_forward router
# the unreachable codes below must come from the rules set here, never from
# a neighbour probe that timed out on a busy machine
ns_pin_neighbours client router 1
ns_pin_neighbours router server 2 3 4 5 6 7
# Linux rate-limits ICMP errors per peer (burst 6, then 1/s): this test asks
# for dozens (hundreds at once below), so lift the per-peer and the global
# limits where they are generated.
for n in router server; do
    ns_in $n sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
        net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000
done
ns_route client 198.18.2.0/24 198.18.1.2
ns_route client fd00:c30:2::/64 fd00:c30:1::2
ns_route server 198.18.1.0/24 198.18.2.1
ns_route server fd00:c30:1::/64 fd00:c30:2::1

# Link-local addresses go through DAD (~2 s); until then IPv6 next hops
# cannot answer neighbour solicitations and the first packets wait.
wait_v6_ready() {
    local i n
    for i in $(seq 1 50); do
        n=0
        for ns_name in "$@"; do
            n=$((n + $(ns_in "$ns_name" ip -6 addr show tentative | wc -l)))
        done
        [ "$n" -eq 0 ] && return 0
        sleep 0.1
    done
    fail "IPv6 addresses still tentative after 5 s"
}
wait_v6_ready client router server

check() { ns_in client "$CMON" check --json "$@" || true; }

expect_ok() { # target [options]
    local target=$1; shift
    local out; out=$(check "$target" -c 5 -i 20 "$@")
    assert_eq "$(jq -r .protocol <<<"$out")" Icmp "$target protocol"
    assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 0 "$target failed checks"
    assert_eq "$(jq -r '[.checks[] | .ok and .rttMs > 0] | all' <<<"$out")" true "$target RTTs"
    assert_eq "$(jq -r '.summary.rtt.min <= .summary.rtt.avg and .summary.rtt.avg <= .summary.rtt.max' <<<"$out")" true "$target rtt order"
    echo "ok: $target reachable $* (avg $(jq -r .summary.rtt.avg <<<"$out") ms)"
}

expect_diag() { # target diag detail-regex [options]
    local target=$1 want=$2 detail=$3; shift 3
    local out; out=$(check "$target" -c 3 -i 20 -t 800 "$@")
    assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 3 "$target failed checks"
    assert_eq "$(jq -r '[.checks[].diagnostic] | unique | join(",")' <<<"$out")" "$want" \
        "$target diagnostic (details: $(jq -c '[.checks[].detail]' <<<"$out"))"
    assert_match "$(jq -r .summary.detail <<<"$out")" "$detail" "$target detail"
    echo "ok: $target -> $want ($(jq -r .summary.detail <<<"$out"))"
}

# 1. reachability, datagram sockets (the harness allows every group)
expect_ok 198.18.2.2
expect_ok fd00:c30:2::2
# 2. raw-socket fallback: datagram ICMP forbidden, root still has CAP_NET_RAW
ns_in client sysctl -qw net.ipv4.ping_group_range="1 0"
expect_ok 198.18.2.2
expect_ok fd00:c30:2::2

# 3. unreachable codes from the destination (raw sockets still in use here)
ns_in server nft -f - <<'NFT' || fail "nft server rules"
table inet cmpt {
  chain input {
    type filter hook input priority 0;
    ip saddr 198.18.1.1 ip daddr 198.18.2.2 icmp type echo-request reject with icmp type admin-prohibited
    ip6 daddr fd00:c30:2::2 icmpv6 type echo-request reject with icmpv6 type admin-prohibited
  }
}
NFT
ns_in server ip addr add 198.18.2.3/24 dev v2b
ns_in server ip addr add 198.18.2.4/24 dev v2b
ns_in server nft add rule inet cmpt input ip daddr 198.18.2.3 icmp type echo-request reject with icmp type host-unreachable
ns_in server nft add rule inet cmpt input ip daddr 198.18.2.4 icmp type echo-request reject with icmp type prot-unreachable
ns_in router nft -f - <<'NFT' || fail "nft router rules"
table inet cmpr {
  chain forward {
    type filter hook forward priority 0;
    ip daddr 198.18.2.5 reject with icmp type net-unreachable
    ip6 daddr fd00:c30:2::5 reject with icmpv6 type no-route
  }
}
NFT
for mode in raw datagram; do
    expect_diag 198.18.2.2 admin_prohibited "type 3 code 13 from 198.18.2.2"
    expect_diag fd00:c30:2::2 admin_prohibited "ICMPv6 type 1 code 1 from fd00:c30:2::2"
    expect_diag 198.18.2.3 host_unreachable "type 3 code 1 from 198.18.2.3"
    expect_diag 198.18.2.4 icmp_unreachable "type 3 code 2 from 198.18.2.4"
    expect_diag 198.18.2.5 net_unreachable "type 3 code 0 from 198.18.1.2"
    expect_diag fd00:c30:2::5 net_unreachable "ICMPv6 type 1 code 0 from fd00:c30:1::2"
    # Many checks in flight on the one shared socket: an ICMP error that is
    # still queued when the next echo is sent must stay with its own check
    # (a datagram socket's pending error fails the next send: it used to
    # turn into "send echo: errno 113" on whichever check sent next)
    out=$(check 198.18.2.2 -c 300 -i 0 --concurrency 64 -t 2000)
    assert_eq "$(jq -r '[.checks[].detail] | unique | join(",")' <<<"$out")" \
        "echo: ICMP type 3 code 13 from 198.18.2.2" "300 concurrent checks' details"
    echo "ok: unreachable codes with $mode sockets"
    ns_in client sysctl -qw net.ipv4.ping_group_range="0 2147483647"
done

# time exceeded: the client sends with TTL / hop limit 1, so the router
# answers instead of forwarding (raw sockets parse it, datagram sockets get it
# through the error queue; both tested above for the other codes)
ns_in client sysctl -qw net.ipv4.ip_default_ttl=1
ns_in client sysctl -qw net.ipv6.conf.all.hop_limit=1 net.ipv6.conf.v1a.hop_limit=1
expect_diag 198.18.2.2 host_unreachable "ICMP type 11 code 0 from 198.18.1.2"
expect_diag fd00:c30:2::2 host_unreachable "ICMPv6 type 3 code 0 from fd00:c30:1::2"
ns_in client sysctl -qw net.ipv4.ip_default_ttl=64
ns_in client sysctl -qw net.ipv6.conf.all.hop_limit=64 net.ipv6.conf.v1a.hop_limit=64

# 4. no route at all in the client
expect_diag 198.18.99.2 net_unreachable "errno 101"
expect_diag fd00:c30:99::2 net_unreachable "errno 101"
# a timeout: the server drops echo requests to .6
ns_in server ip addr add 198.18.2.6/24 dev v2b
ns_in server nft add rule inet cmpt input ip daddr 198.18.2.6 icmp type echo-request drop
expect_diag 198.18.2.6 timeout "no echo reply within 800 ms"

# 5. permission_denied: a local firewall, then a user without ICMP rights
ns_in client nft -f - <<'NFT' || fail "nft client rules"
table inet cmpc {
  chain output {
    type filter hook output priority 0;
    ip daddr 198.18.2.7 drop
  }
}
NFT
expect_diag 198.18.2.7 permission_denied "errno 1 "
ns_in client sysctl -qw net.ipv4.ping_group_range="1 0"
# a copy nobody can execute, wherever the build tree lives (e.g. under /root)
chmod 711 "$NS_TMP"
install -d -m 755 "$NS_TMP/pub"
install -m 755 "$CMON" "$NS_TMP/pub/cmon"
out=$(ns_in client setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
      "$NS_TMP/pub/cmon" check --json -c 1 198.18.2.2 || true)
assert_eq "$(jq -r .summary.diagnostic <<<"$out")" permission_denied "unprivileged diagnostic"
assert_match "$(jq -r .summary.detail <<<"$out")" "ping_group_range" "unprivileged detail says how to fix it"
echo "ok: unprivileged -> permission_denied ($(jq -r .summary.detail <<<"$out"))"
ns_in client sysctl -qw net.ipv4.ping_group_range="0 2147483647"

# 6. 30 % random loss over 4000 checks: measured loss within +-3 points
ns_in server nft flush chain inet cmpt input
ns_in server nft add rule inet cmpt input ip daddr 198.18.2.2 icmp type echo-request numgen random mod 100 '<' 30 drop
out=$(ns_in client "$CMON" check --json -q -c 4000 -i 0 --concurrency 200 -t 500 198.18.2.2 || true)
loss=$(jq -r .summary.checksFailedPercent <<<"$out")
assert_eq "$(jq -r .summary.checksTotal <<<"$out")" 4000 "loss run checks"
assert_eq "$(jq -r "($loss - 30) | fabs <= 3" <<<null)" true "measured loss $loss% vs 30%"
assert_eq "$(jq -r .summary.diagnostic <<<"$out")" timeout "lost checks' diagnostic"
echo "ok: 30% drop measured as $loss% over 4000 checks"
echo "PASS"
