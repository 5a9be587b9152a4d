#!/usr/bin/env bash
# test_check_http.sh: `cmon check URL --json --ca FILE` end to end against a real
# nginx in a server namespace (certificates from lib/tls.sh, names served by
# dnsmasq), probing from a client namespace without a default route.  Every
# TLS diagnostic of the catalogue that a server can cause, and the default
# status ranges of DESIGN section 3 (200-399 valid: 200 and 301 pass, 503
# fails with http_status; redirects are not followed).
NS_PREFIX=cmh
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/tls.sh"

: "${CMON:?set CMON to the cmon binary}"
for tool in nginx openssl jq dnsmasq nft; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh --test)"
done
"$CMON" check --help >/dev/null 2>&1 ||
    skip "this cmon has no 'check' command yet (src/cli/cmd_check.c comes from the probe branch)"
ns_require

SRV=198.18.1.2
SRV6=fd00:c30:1::2
ns_add cli
ns_add srv
ns_link cli srv 1
FX="$NS_TMP/fx"
# ports:       HTTP GOOD EXPIRED NOTYET WRONG UNTRUSTED CLIENT REVOKED CRLDOWN TLS10 CLOSED
TLS_ADDR6=$SRV6 tls_fixtures "$FX" "$SRV" 80 443 8444 8445 8446 8447 8448 8449 8450 8451 9 ||
    fail "could not make the TLS fixtures"
ns_bg srv nginx -p "$FX" -c "$FX/nginx.conf"
ns_bg srv dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
    --listen-address="$SRV" --address=/test/"$SRV" --address=/six.test/"$SRV6" --pid-file="$FX/dnsmasq.pid" --user=root 2>"$NS_TMP/dnsmasq.log"
ns_resolv cli "$SRV"
wait_port srv "$SRV" 80
wait_port srv "$SRV" 8451
wait_port srv "$SRV" 53

OUT=""
RC=0
# check URL [OPTIONS]: run cmon check in the client namespace; sets OUT and RC.
check() {
    RC=0
    OUT=$(ns_in cli "$CMON" check "$@" -i 0 --json --ca "$FX/ca.pem" 2>"$NS_TMP/stderr") || RC=$?
    jq -e . >/dev/null 2>&1 <<<"$OUT" ||
        fail "$1: output is not JSON (exit $RC): $OUT $(cat "$NS_TMP/stderr")"
}
field() { jq -r "$1" <<<"$OUT"; }

# expect URL PORT EXIT DIAGNOSTIC DETAIL STATUS [OPTIONS]: every check and the
# summary agree.
expect() {
    local url=$1 port=$2 rc=$3 diag=$4 detail=$5 status=$6
    shift 6
    check "$url" "$@"
    assert_eq "$RC" "$rc" "$url: exit code"
    assert_eq "$(field .target)" "$url" "$url: target"
    assert_eq "$(field .protocol)" "Http" "$url: protocol"
    assert_eq "$(field .address)" "${ADDR:-$SRV}" "$url: address"
    assert_eq "$(field .port)" "$port" "$url: port"
    local total; total=$(field .summary.checksTotal)
    [ "$total" -ge 1 ] || fail "$url: no checks ran"
    assert_eq "$(field '.checks | length')" "$total" "$url: checks listed"
    assert_eq "$(field '([.checks[].seq] | sort) == ([.checks[].seq] | unique)')" "true" "$url: seq"
    # no diagnostic/detail/status may be written "" / 0 or null
    assert_eq "$(field '[.checks[].diagnostic // ""] | unique | join(",")')" "$diag" "$url: diagnostics"
    assert_eq "$(field '[.checks[].detail // ""] | unique | join(",")')" "$detail" "$url: details"
    assert_eq "$(field '[.checks[].httpStatus // 0] | unique | join(",")')" "$status" \
        "$url: httpStatus"
    assert_eq "$(field '.summary.diagnostic // ""')" "$diag" "$url: summary diagnostic"
    assert_eq "$(field '.summary.detail // ""')" "$detail" "$url: summary detail"
    if [ "$rc" = 0 ]; then
        assert_eq "$(field .summary.checksFailed)" 0 "$url: checksFailed"
        assert_eq "$(field '[.checks[].ok] | all')" "true" "$url: ok"
        assert_eq "$(field '.summary.rtt | type')" "object" "$url: rtt"
        assert_eq "$(field '[.checks[].rttMs | type] | unique | join(",")')" "number" "$url: rttMs"
    else
        assert_eq "$(field .summary.checksFailed)" "$total" "$url: checksFailed"
        assert_eq "$(field .summary.checksFailedPercent)" 100 "$url: checksFailedPercent"
        assert_eq "$(field '[.checks[].ok] | any')" "false" "$url: ok"
    fi
    echo "ok: $url $* -> ${diag:-pass} ${detail}"
}

# status ranges (default 200-399), no redirects followed
expect "http://www.plain.test/ok" 80 0 "" "" 200
expect "http://www.plain.test/moved" 80 0 "" "" 301
expect "http://www.plain.test/unavailable" 80 1 http_status "HTTP 503 not in 200-399" 503
expect "http://www.plain.test/big" 80 0 "" "" 200
# ranges as the monitor file writes them (DESIGN 3): 2xx, 301-304, 418
expect "http://www.plain.test/moved" 80 0 "" "" 301 --status 301-304
expect "http://www.plain.test/moved" 80 1 http_status "HTTP 301 not in 200-299,418" 301 \
    --status 2xx,418
expect "http://www.plain.test/ok" 80 0 "" "" 200 --status 2xx,418
expect "http://www.plain.test/unavailable" 80 0 "" "" 503 --status 5xx
expect "http://www.plain.test/ok" 80 0 "" "" 200 -X HEAD -H "Accept: */*"

# phases of a good HTTPS check over HTTP/2 (its CRL is fetched and clean); DNS
# is the engine's (c-ares against dnsmasq)
expect "https://www.good.test/" 443 0 "" "" 200
for p in dnsMs connectMs tlsMs firstByteMs; do
    assert_eq "$(field ".summary.phases.$p | type")" "number" "phases.$p"
    [ "$(field ".summary.phases.$p >= 0")" = true ] || fail "phases.$p is negative"
done

# the TLS diagnostics of DESIGN section 5
expect "https://www.expired.test:8444/" 8444 1 tls_expired "notAfter 2026-01-02T00:00:00Z" 0
expect "https://www.notyet.test:8445/" 8445 1 tls_not_yet_valid "notBefore 2030-01-01T00:00:00Z" 0
expect "https://www.wrong.test:8446/" 8446 1 tls_hostname_mismatch \
    "certificate names www.other.test" 0
expect "https://www.untrusted.test:8447/" 8447 1 tls_untrusted_root \
    "issuer CN=Rogue Test CA not trusted" 0
expect "https://www.good.test:8448/" 8448 1 tls_client_cert_required \
    "server asked for a client certificate; HTTP 400" 400
expect "https://www.revoked.test:8449/" 8449 1 tls_revoked "serial 1002 revoked" 200
expect "https://www.crldown.test:8450/" 8450 1 tls_crl_unreachable \
    "CRL http://$SRV:9/ca.crl: errno 111 (Connection refused)" 200
expect "https://www.good.test:8451/" 8451 1 tls_incompatible \
    "TLS alert protocol version received" 0

# IPv6: the engine resolves the AAAA record, http.c pins curl to it; SNI and
# Host stay the name (the certificate names www.six.test)
ADDR=$SRV6 expect "https://www.six.test/" 443 0 "" "" 200 -6
ADDR=$SRV6 expect "https://www.six.test:8448/" 8448 1 tls_client_cert_required \
    "server asked for a client certificate; HTTP 400" 400 -6
ADDR=$SRV6 expect "http://www.six.test/unavailable" 80 1 http_status "HTTP 503 not in 200-399" \
    503 -6

# a firewall drops the SYNs: the timeout says which step did not finish (the
# budget is what DNS left of --timeout, so the number is not fixed)
ns_in srv nft -f - <<'NFT' || fail "nft"
table inet cmh {
    chain input { type filter hook input priority 0; tcp dport 8452 drop; }
}
NFT
check "http://www.plain.test:8452/" -c 1 -t 700
assert_eq "$RC" 1 "dropped SYN: exit code"
assert_eq "$(field .summary.diagnostic)" timeout "dropped SYN: diagnostic"
assert_match "$(field .summary.detail)" '^no TCP connection within [0-9]+ ms$' "dropped SYN: detail"
echo "ok: http://www.plain.test:8452/ (SYN dropped) -> timeout $(field .summary.detail)"

# nothing listens: the transport error, not an HTTP one
expect "http://www.plain.test:9/" 9 1 connection_refused "errno 111 (Connection refused)" 0

echo "PASS: test_check_http"
