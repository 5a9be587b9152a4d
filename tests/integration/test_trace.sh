#!/usr/bin/env bash
# test_trace.sh: `cmon trace` over a chain of router namespaces,
# client -> r1 -> r2 -> r3 -> server, IPv4 and IPv6:
# - the hop list is exactly r1, r2, r3, server for UDP, ICMP and TCP;
# - 30 % loss injected at r2 shows as loss from hop 2 on, attributed to r2;
# - a router that drops only its own time-exceeded replies is silent, not lossy;
# - rerouting r1 -> r2b -> r3 changes the reported path.
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
NS_PREFIX=cmr; . "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/chain.sh"
ns_require
command -v nft >/dev/null || skip "nft (nftables) is not installed"
chain_up

hops_of() { jq -r '[.hops[].address | if . == "" then "???" else . end] | join(" ")'; }
trace() { ns_in client "$CMON" trace --json --interval 5 --timeout 500 "$@"; }

# 1. the exact hop list, every protocol, both IP versions
for proto in icmp udp tcp; do
    args=(--protocol "$proto" --count 3)
    [ "$proto" = tcp ] && args+=(--port 8080)   # closed: the RST ends the trace
    out=$(trace "${args[@]}" 198.18.4.2) || fail "$proto v4 trace failed: $out"
    assert_eq "$(hops_of <<<"$out")" "$CHAIN_HOPS4" "$proto v4 hops"
    assert_eq "$(jq -r .reached <<<"$out")" true "$proto v4 reached"
    assert_eq "$(jq -r '[.hops[].lossPercent] | max' <<<"$out")" 0 "$proto v4 loss"
    out=$(trace "${args[@]}" fd00:c30:4::2) || fail "$proto v6 trace failed: $out"
    assert_eq "$(hops_of <<<"$out")" "$CHAIN_HOPS6" "$proto v6 hops"
done
echo "ok: hop lists for icmp, udp, tcp over IPv4 and IPv6"

# ICMP without ping sockets: raw sockets when CAP_NET_RAW allows (root here),
# else permission_denied with the way out
ns_in client sysctl -qw net.ipv4.ping_group_range="1 0"
out=$(trace --protocol icmp --count 3 198.18.4.2) || fail "raw ICMP trace failed: $out"
assert_eq "$(hops_of <<<"$out")" "$CHAIN_HOPS4" "raw ICMP v4 hops"
out=$(trace --protocol icmp --count 3 fd00:c30:4::2) || fail "raw ICMPv6 trace failed: $out"
assert_eq "$(hops_of <<<"$out")" "$CHAIN_HOPS6" "raw ICMP v6 hops"
if command -v setpriv >/dev/null; then
    err=$(ns_in client setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        "$CMON" trace --count 1 198.18.4.2 2>&1 >/dev/null); rc=$?
    assert_eq "$rc" 1 "unprivileged ICMP trace exit"
    assert_match "$err" "permission_denied .*ping_group_range.*CAP_NET_RAW" "unprivileged ICMP trace error"
fi
ns_in client sysctl -qw net.ipv4.ping_group_range="0 2147483647"
echo "ok: raw-socket ICMP traces, and permission_denied without privileges"

# a listening TCP port ends the trace with the SYN-ACK just as well
ns_bg server python3 -c 'import socket,time
s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 8443)); s.listen(64); time.sleep(600)'
wait_port server 198.18.4.2 8443
out=$(trace --protocol tcp --port 8443 --count 2 198.18.4.2) || fail "tcp open port: $out"
assert_eq "$(hops_of <<<"$out")" "$CHAIN_HOPS4" "tcp open-port hops"

# the human report names every hop and says the destination was reached
report=$(ns_in client "$CMON" trace --count 2 --interval 5 198.18.4.2)
assert_eq "$(awk 'NR>2 && $1 ~ /^[0-9]+$/ {print $2}' <<<"$report" | tr '\n' ' ')" "$CHAIN_HOPS4 " "report hops"
grep -q '^destination reached$' <<<"$report" || fail "report: $report"

# hop names: the client's resolver is a dnsmasq on the server that knows the
# routers' PTR records (r3 has none: its hop stays numeric)
if command -v dnsmasq >/dev/null; then
    ns_bg server dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
        --listen-address=198.18.4.2 --user=root --pid-file= \
        --ptr-record=2.1.18.198.in-addr.arpa,r1.chain.test \
        --ptr-record=2.2.18.198.in-addr.arpa,r2.chain.test \
        --ptr-record=2.4.18.198.in-addr.arpa,server.chain.test
    ns_resolv client 198.18.4.2
    sleep 0.5
    out=$(trace --count 2 198.18.4.2) || fail "named trace: $out"
    assert_eq "$(jq -r '[.hops[].name] | join(",")' <<<"$out")" \
        "r1.chain.test,r2.chain.test,,server.chain.test" "hop names"
    report=$(ns_in client "$CMON" trace --count 1 --interval 5 198.18.4.2)
    grep -q '^1 *r1.chain.test (198.18.1.2) ' <<<"$report" || fail "report names: $report"
    out=$(trace --count 1 --no-dns 198.18.4.2)
    assert_eq "$(jq -r '[.hops[].name] | join(",")' <<<"$out")" ",,," "--no-dns"
    rm -rf "/etc/netns/$(ns client)"
    echo "ok: hops named from PTR records"
else
    echo "SKIPPED (part): dnsmasq not installed, hop names not checked"
fi

# 2. 30 % loss on what enters r2 from r1
ns_in r2 nft -f - <<'NFT'
table inet lossy {
  chain pre {
    type filter hook prerouting priority -300;
    iifname "v2b" numgen random mod 100 < 30 drop
  }
}
NFT
out=$(trace --count 400 --interval 2 198.18.4.2)
for i in 1 2 3; do
    loss=$(jq ".hops[$i].lossPercent" <<<"$out")
    awk -v l="$loss" 'BEGIN {exit !(l >= 20 && l <= 40)}' || fail "hop $((i+1)) loss $loss, want 30 +- 10"
done
assert_eq "$(jq '.hops[0].lossPercent' <<<"$out")" 0 "hop 1 loss"
assert_eq "$(jq -r '.issues[] | select(.diagnostic == "hop_loss") | .ttl' <<<"$out")" 2 "hop_loss attributed"
echo "ok: 30% loss at r2 measured $(jq -c '[.hops[].lossPercent]' <<<"$out"), attributed to hop 2"
ns_in r2 nft delete table inet lossy

# 3. r2 stays silent (drops its own time-exceeded) but forwards: silent, not lossy
ns_in r2 nft -f - <<'NFT'
table inet quiet {
  chain out {
    type filter hook output priority 0;
    icmp type time-exceeded drop
    icmpv6 type time-exceeded drop
  }
}
NFT
for proto in icmp udp; do
    out=$(trace --protocol "$proto" --count 5 198.18.4.2) || fail "silent r2 ($proto): $out"
    assert_eq "$(hops_of <<<"$out")" "198.18.1.2 ??? 198.18.3.2 198.18.4.2" "$proto hops with silent r2"
    assert_eq "$(jq -r '.hops[1].received' <<<"$out")" 0 "silent hop received"
    assert_eq "$(jq '.issues | length' <<<"$out")" 0 "no hop issue for a silent router"
done
echo "ok: a router that does not answer is shown silent, not lossy"
ns_in r2 nft delete table inet quiet

# 4. reroute r1 -> r2b -> r3: the reported path changes
ns_add r2b
ns_link r1 r2b 5
ns_link r2b r3 6
ns_forward r2b
ns_in r2b sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
ns_route r2b 198.18.4.0/24 198.18.6.2
ns_route r2b 198.18.1.0/24 198.18.5.1
ns_route r3 198.18.5.0/24 198.18.6.1
ns_in r1 ip route replace 198.18.4.0/24 via 198.18.5.2
ns_in r3 ip route replace 198.18.1.0/24 via 198.18.6.1
out=$(trace --count 3 198.18.4.2) || fail "rerouted trace: $out"
assert_eq "$(hops_of <<<"$out")" "198.18.1.2 198.18.5.2 198.18.6.2 198.18.4.2" "rerouted hops"
echo "ok: rerouted path r1 -> r2b -> r3 reported"
echo "test_trace: all checks passed"
