#!/usr/bin/env bash
# test_check_tcp.sh: `cmon check host:port` against real listeners and a real
# nftables firewall in network namespaces: open port, closed port
# (connection_refused), drop (timeout), reject with admin-prohibited and with
# host-unreachable, no route (net_unreachable) and EMFILE (socket_error),
# over IPv4 and IPv6.
NS_PREFIX=cmp
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
# No `set -e`: the harness's cleanup trap waits for killed processes.
ns_require
command -v jq >/dev/null || skip "jq is not installed"
command -v nft >/dev/null || skip "nftables (nft) is not installed"
command -v nginx >/dev/null || skip "nginx (nginx-light) is not installed"

ns_add client
ns_add server
ns_link client server 1

# A listener on 8080 (nginx, v4 and v6); 8081 stays closed.
mkdir -p "$NS_TMP/nginx/logs"
cat >"$NS_TMP/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $NS_TMP/nginx/nginx.pid;
error_log $NS_TMP/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 8080 backlog=1024; listen [::]:8080 backlog=1024; return 204; }
}
NGX
ns_bg server nginx -p "$NS_TMP/nginx" -c "$NS_TMP/nginx/nginx.conf" -g 'daemon off;'
wait_port server 198.18.1.2 8080

ns_in server nft -f - <<'NFT' || fail "nft rules"
table inet cmpt {
  chain input {
    type filter hook input priority 0;
    tcp dport 9001 drop
    tcp dport 9002 reject with icmpx type admin-prohibited
    tcp dport 9003 reject with icmpx type host-unreachable
  }
}
NFT

# check TARGET [OPTIONS...]: run cmon check --json in the client namespace.
check() { ns_in client "$CMON" check --json -i 50 -t 800 "$@" || true; }

expect_diag() { # target diag [options]
    local target=$1 want=$2; shift 2
    local out; out=$(check "$target" -c 3 "$@")
    assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 3 "$target failed checks"
    assert_eq "$(jq -r .summary.diagnostic <<<"$out")" "$want" "$target diagnostic"
    assert_eq "$(jq -r '[.checks[].diagnostic] | unique | join(",")' <<<"$out")" "$want" "$target per-check diagnostics"
    echo "ok: $target -> $want ($(jq -r .summary.detail <<<"$out"))"
}

for addr in 198.18.1.2 "[fd00:c30:1::2]"; do
    out=$(check "$addr:8080" -c 5)
    assert_eq "$(jq -r .protocol <<<"$out")" Tcp "protocol"
    assert_eq "$(jq -r .port <<<"$out")" 8080 "port"
    assert_eq "$(jq -r .summary.checksTotal <<<"$out")" 5 "checks total"
    assert_eq "$(jq -r .summary.checksFailed <<<"$out")" 0 "open port failures"
    assert_eq "$(jq -r '.summary.rtt.min > 0 and .summary.rtt.max >= .summary.rtt.avg' <<<"$out")" true "rtt figures"
    assert_eq "$(jq -r '[.checks[] | .ok and .rttMs > 0] | all' <<<"$out")" true "every check ok with an RTT"
    echo "ok: $addr:8080 open, rtt avg $(jq -r .summary.rtt.avg <<<"$out") ms"

    expect_diag "$addr:8081" connection_refused
    expect_diag "$addr:9001" timeout
    expect_diag "$addr:9002" admin_prohibited
    expect_diag "$addr:9003" host_unreachable
done
# The --json document is a contract: exactly these keys, in this order.
out=$(check 198.18.1.2:8080 -c 2)
assert_eq "$(jq -c '[keys_unsorted, (.checks[0] | keys_unsorted), (.summary | keys_unsorted), (.summary.rtt | keys_unsorted)]' <<<"$out")" \
    '[["target","protocol","address","port","checks","summary"],["seq","ok","rttMs","diagnostic","detail","httpStatus"],["checksTotal","checksFailed","checksFailedPercent","rtt","diagnostic","detail"],["min","avg","max","jitter"]]' "JSON keys"
assert_eq "$(jq -c '[.target, .address, [.checks[].seq], .summary.checksFailedPercent]' <<<"$out")" '["198.18.1.2:8080","198.18.1.2",[1,2],0]' "JSON values"
out=$(check 198.18.1.2:8081 -c 2)
assert_eq "$(jq -c '[.summary.rtt, .summary.checksFailedPercent, .checks[0].ok, .checks[0].rttMs]' <<<"$out")" '[null,100,false,0]' "JSON of a failing run"
echo "ok: --json keys and values"

# Exit codes: 0 all passed, 1 a check failed, 2 usage errors.
ns_in client "$CMON" check -c 1 198.18.1.2:8080 >/dev/null || fail "exit status 0 for a passing check"
for bad in "" "--count 0 h:1" "--protocol udp h" "h:99999" "--protocol tcp h" "--header nocolon h:1" \
           "--status 2xx h:1" "--interval -1 h:1" "-c 1 h:1 extra"; do
    rc=0; ns_in client "$CMON" check $bad >/dev/null 2>&1 || rc=$?
    assert_eq "$rc" 2 "exit status of 'cmon check $bad'"
done
echo "ok: usage errors exit 2"

# Text output: one line per check with the code and its explanation, a summary.
text=$(ns_in client "$CMON" check -c 2 -i 50 198.18.1.2:8081 || true)
assert_match "$text" "  1    FAIL  198\.18\.1\.2  connection_refused: no listener on the destination port \(connect: errno 111" "text check line"
assert_match "$text" "--- Tcp 198\.18\.1\.2:8081: 2 checks, 2 failed \(100\.0%\)" "text summary"
text=$(ns_in client "$CMON" check -c 2 -i 50 198.18.1.2:8080 || true)
assert_match "$text" "rtt min/avg/max/jitter = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms" "text rtt line"
echo "ok: text output"
rc=0; ns_in client "$CMON" check -c 1 -t 300 198.18.1.2:9001 >/dev/null || rc=$?
assert_eq "$rc" 1 "exit status of a failing check"

# No route: the client namespace has no default route.
expect_diag 198.18.99.2:80 net_unreachable
expect_diag "[fd00:c30:99::2]:80" net_unreachable

# Connections close with RST: no TIME_WAIT left behind after 200 checks.
check 198.18.1.2:8080 -c 200 -i 0 --concurrency 20 >/dev/null
tw=$(ns_in client ss -Htan state time-wait | wc -l)
assert_eq "$tw" 0 "TIME_WAIT sockets in the client"
echo "ok: 200 checks, no TIME_WAIT"

# (A local output firewall that drops SYNs cannot be seen from connect():
# the kernel ignores the EPERM of a SYN transmit and retransmits, so it is a
# timeout; test_check_icmp.sh covers permission_denied.)

# Out of file descriptors: socket_error with the errno, not a crash.
out=$(ns_in client bash -c 'ulimit -n 16; exec "$0" check --json -c 40 -i 0 --concurrency 40 -t 800 198.18.1.2:8080' "$CMON" || true)
assert_eq "$(jq -r '[.checks[] | select(.diagnostic == "socket_error")] | length > 0' <<<"$out")" true "EMFILE checks"
assert_match "$(jq -r '[.checks[] | select(.diagnostic == "socket_error")][0].detail' <<<"$out")" "errno 24" "EMFILE detail"
assert_eq "$(jq -r '[.checks[] | select(.ok)] | length > 0' <<<"$out")" true "some checks still ran"
echo "ok: EMFILE -> socket_error ($(jq -r '.summary.checksFailed' <<<"$out") of 40 failed)"
echo "PASS"
