#!/usr/bin/env bash
# test_check_dns.sh: name resolution of `cmon check` against a real dnsmasq in
# a network namespace: A vs AAAA choice (-4/-6 strict, --prefer with
# fallback), no address of the wanted family (no_address), NXDOMAIN
# (dns_nxdomain), REFUSED and SERVFAIL (dns_servfail, with a detail naming
# the answer), a dropped port 53 (dns_timeout),
# malformed names (url_invalid, never sent), answers cached for their TTL and
# one query shared by concurrent checks (counted in dnsmasq's query log).
NS_PREFIX=cmp
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
# No `set -e`: the harness's cleanup trap waits for killed processes.
ns_require
command -v jq >/dev/null || skip "jq is not installed"
command -v nft >/dev/null || skip "nftables (nft) is not installed"
command -v dnsmasq >/dev/null || skip "dnsmasq (dnsmasq-base) is not installed"

ns_add client
ns_add dns
ns_link client dns 1
ns_resolv client 198.18.1.2   # the client's /etc/resolv.conf under ip netns exec
LOG=$NS_TMP/dnsmasq.log
# sf.test is SERVFAIL: the main dnsmasq forwards it to a validating dnsmasq
# (port 5300) whose root trust anchor matches nothing, so the unsigned answer
# of its upstream (port 5301) is bogus and it answers SERVFAIL.
ns_bg dns dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
    --listen-address=198.18.1.2 --port=5301 --host-record=sf.test,198.18.1.2,fd00:c30:1::2 \
    --log-facility="$LOG.5301"
ns_bg dns dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
    --listen-address=198.18.1.2 --port=5300 --server=198.18.1.2#5301 --dnssec \
    --trust-anchor=.,12345,8,2,49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5 \
    --log-facility="$LOG.5300"
# Unknown names are REFUSED (no upstream servers); nx.test is NXDOMAIN;
# local records live 2 s (--local-ttl) so caching can be observed.
ns_bg dns bash -c 'exec "$@" 2>>"$0"' "$LOG.stderr" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
    --listen-address=198.18.1.2 --local-ttl=2 --log-queries --log-facility="$LOG" \
    --host-record=both.test,198.18.1.2,fd00:c30:1::2 \
    --host-record=v4only.test,198.18.1.2 \
    --host-record=v6only.test,fd00:c30:1::2 \
    --host-record=cached.test,198.18.1.2 \
    --host-record=shared.test,198.18.1.2 \
    --address=/nx.test/ --server=/sf.test/198.18.1.2#5300
# dnsmasq logs "started" once its sockets are bound
for f in "$LOG" "$LOG.5300" "$LOG.5301"; do
    for _ in $(seq 1 300); do grep -q "started" "$f" 2>/dev/null && break; sleep 0.1; done
    grep -q "started" "$f" 2>/dev/null || fail "dnsmasq ($f) did not start: $(tail -3 "$f" 2>/dev/null)"
done

check() { ns_in client "$CMON" check --json -c 1 "$@" || true; }

expect_addr() { # name address [options]
    local name=$1 want=$2; shift 2
    local out; out=$(check "$name" "$@")
    assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 0 "$name $* failed"
    assert_eq "$(jq -r .address <<<"$out")" "$want" "$name $* address"
    echo "ok: $name $* -> $want"
}

expect_diag() { # name diag [options]
    local name=$1 want=$2; shift 2
    local out; out=$(check "$name" "$@")
    assert_eq "$(jq -r .summary.diagnostic <<<"$out")" "$want" "$name $* diagnostic"
    assert_eq "$(jq -r .address <<<"$out")" "" "$name $* address"
    echo "ok: $name $* -> $want ($(jq -r .summary.detail <<<"$out"))"
}

# Family choice: IPv4 first by default, -4/-6 strict, --prefer falls back.
expect_addr both.test 198.18.1.2
expect_addr both.test 198.18.1.2 -4
expect_addr both.test fd00:c30:1::2 -6
expect_addr both.test fd00:c30:1::2 --prefer IPv6
expect_addr v4only.test 198.18.1.2 --prefer IPv6
expect_addr v6only.test fd00:c30:1::2 --prefer IPv4
expect_addr v6only.test fd00:c30:1::2
expect_diag v4only.test no_address -6
expect_diag v6only.test no_address -4
# Literals never touch DNS; a literal of the other family is no_address.
expect_diag 198.18.1.2 no_address -6

# Malformed names are refused before any query: url_invalid.
expect_diag 'bad name.test' url_invalid
expect_diag 'a..b.test' url_invalid
grep -q 'a\.\.b\|bad name' "$LOG" && fail "a malformed name reached the DNS server"

expect_diag nx.test dns_nxdomain
expect_diag unknown.test dns_servfail
out=$(check nx.test)
assert_match "$(jq -r .summary.detail <<<"$out")" "nx.test" "NXDOMAIN detail names the host"
# the server answered REFUSED: the detail says so, not "could not contact"
out=$(check unknown.test)
assert_match "$(jq -r .summary.detail <<<"$out")" "refused the query" "REFUSED detail"
# the server answered SERVFAIL: the detail says so, not "could not contact"
expect_diag sf.test dns_servfail
out=$(check sf.test)
assert_match "$(jq -r .summary.detail <<<"$out")" "answered SERVFAIL" "SERVFAIL detail"

# Answers are cached for their TTL (2 s): checks at 0, 1.5, 3 and 4.5 s ask
# the server at 0 and 3 s only.
: >"$LOG.mark"
before=$(grep -c 'query\[A\] cached.test' "$LOG")
out=$(ns_in client "$CMON" check --json -c 4 -i 1500 cached.test || true)
assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 0 "cached.test checks"
after=$(grep -c 'query\[A\] cached.test' "$LOG")
assert_eq "$((after - before))" 2 "A queries for 4 checks over 4.5 s with TTL 2 s"
echo "ok: cached per TTL (2 queries for 4 checks)"

# Concurrent checks of one name share one query.
out=$(ns_in client "$CMON" check --json -c 20 -i 0 --concurrency 20 shared.test || true)
assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 0 "shared.test checks"
assert_eq "$(grep -c 'query\[A\] shared.test' "$LOG")" 1 "A queries for 20 concurrent checks"
echo "ok: 20 concurrent checks, 1 query"

# A DNS server that never answers: dns_timeout (not a generic timeout).
ns_in dns nft -f - <<'NFT' || fail "nft rules"
table inet cmpd {
  chain input {
    type filter hook input priority 0;
    udp dport 53 drop
    tcp dport 53 drop
  }
}
NFT
out=$(check timeout.test -t 3000)
assert_eq "$(jq -r .summary.diagnostic <<<"$out")" dns_timeout "dropped DNS diagnostic"
echo "ok: dropped port 53 -> dns_timeout ($(jq -r .summary.detail <<<"$out"))"
echo "PASS"
