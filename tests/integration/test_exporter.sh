#!/usr/bin/env bash
# test_exporter.sh: `cmon exporter` as a drop-in for blackbox_exporter, end to
# end.  A real Prometheus scrapes it with the standard blackbox relabelling
# (target -> __param_target, instance; __address__ -> the exporter) for an
# open and a closed TCP port, nginx answering 200 and 503, a reachable host
# and one whose firewall (nft) drops everything, dnsmasq answering a name and
# a closed DNS port; probe_success and
# cmon_probe_diagnostic are read back through Prometheus' /api/v1/query.
# Then the same blackbox.yml and targets (plus HTTPS with a test CA given as
# tls_config.ca_file, fail_if_not_ssl, and the CA missing) go through Debian's
# blackbox_exporter and cmon directly: the same probe_success, and every
# metric blackbox writes for a module is in cmon's answer too unless
# docs/exporter.md lists it as one cmon cannot measure.  Last, POST
# /-/reload and SIGHUP: a good file is taken, a bad one keeps the old.
# Everything probes from a namespace without a default route.
NS_PREFIX=cme
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
. "$CMON_SOURCE_DIR/tests/integration/lib/tls.sh"

: "${CMON:?set CMON to the cmon binary}"
for tool in nginx nft jq curl dnsmasq openssl prometheus prometheus-blackbox-exporter socat; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh --test)"
done
ns_require

SRV=198.18.1.2  # nginx, open port 80, closed port 9, answers ping
DARK=198.18.2.2 # drops every packet (nft)
ns_add cli
ns_add srv
ns_add dark
ns_link cli srv 1
ns_link cli dark 2
ns_in dark nft -f - <<'EOF' || fail "nft in the dark namespace"
table inet drop_all {
    chain in { type filter hook input priority 0; policy drop; }
}
EOF
# counts the echo requests that arrive with TTL 7 and with 1000 bytes of payload
ns_in srv nft -f - <<'EOF' || fail "nft in the srv namespace"
table inet count_icmp {
    chain in {
        type filter hook input priority 0; policy accept;
        icmp type echo-request ip ttl 7 counter comment "ttl7"
        icmp type echo-request ip length 1028 counter comment "payload1000"
    }
}
EOF

D=$NS_TMP/www
mkdir -p "$D"
tls_ca "$D/ca" "cmon exporter test CA" >/dev/null || fail "test CA"
tls_cert "$D/ca" "$D/srv" "$SRV" 1001 "" >/dev/null || fail "server certificate"
tls_cert "$D/ca" "$D/named" "www.cmon.test" 1002 "" >/dev/null || fail "named certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/self.key" \
    -out "$D/self.pem" -days 30 -subj /CN=self-signed -addext "subjectAltName=IP:$SRV" \
    2>/dev/null || fail "self-signed certificate"
mkdir -p "$D/static/private"
printf 'static ok\n' >"$D/static/file.txt"
printf 'secret\n' >"$D/static/private/file.txt"
touch -d '2024-02-03 04:05:06 UTC' "$D/static/file.txt" # Last-Modified
printf 'alice:%s\n' "$(openssl passwd -apr1 s3cret)" >"$D/htpasswd"
cat >"$D/nginx.conf" <<EOF
daemon off;
user root; # workers read the static files and htpasswd under $NS_TMP
pid $D/nginx.pid;
error_log $D/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $D; proxy_temp_path $D; fastcgi_temp_path $D;
    uwsgi_temp_path $D; scgi_temp_path $D;
    server {
        listen $SRV:80;
        location / { return 200 "ok\n"; }
        location = /redirect { return 302 http://$SRV/; }
        location = /post { return 200 "len=\$content_length method=\$request_method\n"; }
        location = /file.txt { root $D/static; }
        location /private/ {
            auth_basic cmon;
            auth_basic_user_file $D/htpasswd;
            root $D/static;
        }
    }
    server {
        listen $SRV:8443 ssl; # self-signed
        ssl_certificate $D/self.pem;
        ssl_certificate_key $D/self.key;
        location / { return 200 "ok\n"; }
    }
    server {
        listen $SRV:8444 ssl; # www.cmon.test, signed by the test CA
        ssl_certificate $D/named.pem;
        ssl_certificate_key $D/named.key;
        location / { return 200 "ok\n"; }
    }
    server { listen $SRV:81; location / { return 503 "down\n"; } }
    server {
        listen $SRV:443 ssl;
        ssl_certificate $D/srv.pem;
        ssl_certificate_key $D/srv.key;
        location / { return 200 "ok\n"; }
    }
}
EOF
ns_bg srv nginx -p "$D" -c "$D/nginx.conf"
wait_port srv "$SRV" 80
wait_port srv "$SRV" 81
wait_port srv "$SRV" 443
wait_port srv "$SRV" 8443
wait_port srv "$SRV" 8444
# DNS on $SRV:53: ok.test answers, other names have no upstream (REFUSED)
ns_bg srv dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$SRV" \
    --address=/ok.test/"$SRV" --pid-file="$D/dnsmasq.pid" --user=root 2>"$NS_TMP/dnsmasq.log"
wait_port srv "$SRV" 53
# line servers for tcp query_response: an SMTP-like greeting (socat), and
# openssl s_server -rev over TLS (answers each line reversed) with the CA's
# certificate for $SRV and with the self-signed one
ns_bg srv socat TCP-LISTEN:2525,bind="$SRV",fork,reuseaddr \
    SYSTEM:'echo "220 cmon test ESMTP"; read -r l; echo "250 hello ${l#HELO }"'
ns_bg srv openssl s_server -accept "$SRV:4433" -cert "$D/srv.pem" -key "$D/srv.key" -rev -quiet
ns_bg srv openssl s_server -accept "$SRV:4434" -cert "$D/self.pem" -key "$D/self.key" -rev -quiet
wait_port srv "$SRV" 2525
wait_port srv "$SRV" 4433
wait_port srv "$SRV" 4434

BB=$NS_TMP/blackbox.yml
cat >"$BB" <<'EOF'
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      follow_redirects: false
  icmp:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
  dns_ok:
    prober: dns
    timeout: 5s
    dns: {query_name: ok.test, query_type: A, preferred_ip_protocol: ip4}
  dns_other:
    prober: dns
    timeout: 5s
    dns: {query_name: www.example.org, query_type: A, preferred_ip_protocol: ip4}
  icmp_hold:
    prober: icmp
    timeout: 120s
    icmp:
      preferred_ip_protocol: ip4
  dns_hold:
    prober: dns
    timeout: 120s
    dns: {query_name: ok.test, query_type: A, preferred_ip_protocol: ip4}
EOF
cat >>"$BB" <<EOF
  https_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      follow_redirects: false
      fail_if_not_ssl: true
      tls_config:
        ca_file: $D/ca/ca.pem
  https_insecure:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config: {insecure_skip_verify: true}
  https_server_name:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config: {ca_file: $D/ca/ca.pem, server_name: www.cmon.test}
EOF
cat >>"$BB" <<'EOF'
  http_follow:
    prober: http
    timeout: 5s
    http: {preferred_ip_protocol: ip4}
  http_post:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      method: POST
      body: '{"probe": 1}'
      fail_if_body_not_matches_regexp: ["^len=12 method=POST"]
  http_body_ok:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ["^o[k]+", "k"]
      fail_if_body_matches_regexp: ["error|down"]
  http_body_bad:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      fail_if_body_matches_regexp: ["nothing", "o[k]"]
  http_v2_only:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_http_versions: ["HTTP/2.0"]
  http_v11:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_http_versions: ["HTTP/1.0", "HTTP/1.1"]
  http_auth:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      basic_auth: {username: alice, password: s3cret}
  icmp_ttl:
    prober: icmp
    timeout: 5s
    icmp: {preferred_ip_protocol: ip4, ttl: 7}
  icmp_payload:
    prober: icmp
    timeout: 5s
    icmp: {preferred_ip_protocol: ip4, payload_size: 1000}
  tcp_smtp:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - expect: "^220 "
        - send: "HELO cmon"
        - expect: "^250 hello cmon$"
  tcp_smtp_wrong:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      query_response:
        - send: "HELO cmon"
        - expect: "^554 "
EOF
cat >>"$BB" <<EOF
  tcp_tls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {ca_file: $D/ca/ca.pem}
      query_response:
        - send: "cmon"
        - expect: "^nomc$"
  tcp_tls_insecure:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {insecure_skip_verify: true}
EOF
ns_bg cli "$CMON" exporter --config.file "$BB" --web.listen-address 127.0.0.1:9115 \
    2>"$NS_TMP/cmon.log" >/dev/null
CMON_PID=${NS_PIDS[-1]} # ip netns exec execs cmon: this is its pid
ns_bg cli prometheus-blackbox-exporter --config.file "$BB" \
    --web.listen-address 127.0.0.1:9116 2>"$NS_TMP/blackbox.log"
wait_port cli 127.0.0.1 9115
wait_port cli 127.0.0.1 9116

# ---- Prometheus with the standard blackbox relabelling ----------------------
job() { # NAME MODULE TARGET...
    local name=$1 module=$2
    shift 2
    printf '  - job_name: %s\n    metrics_path: /probe\n    params: {module: [%s]}\n' "$name" "$module"
    printf '    static_configs: [{targets: [%s]}]\n' "$(IFS=,; echo "$*")"
    cat <<'EOF'
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:9115
EOF
}
{
    printf 'global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n'
    job tcp tcp_connect "$SRV:80" "$SRV:9"
    job http http_2xx "http://$SRV:80/" "http://$SRV:81/"
    job icmp icmp "$SRV" "$DARK"
    job dns dns_ok "$SRV" "$SRV:5353"
} >"$NS_TMP/prometheus.yml"
ns_bg cli prometheus --config.file "$NS_TMP/prometheus.yml" --storage.tsdb.path "$NS_TMP/tsdb" \
    --web.listen-address 127.0.0.1:9090 2>"$NS_TMP/prometheus.log"
PROM_PID=${NS_PIDS[-1]}

query() { # PROMQL -> "job/instance=value[,code]" lines, sorted
    ns_in cli curl -sf -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
        jq -r '.data.result[] | "\(.metric.job)/\(.metric.instance)=\(.value[1])\(if .metric.code then ","+.metric.code else "" end)"' |
        sort
}

# every series of a job scraped at least once; bounded by 60 s of polling
EXPECT_SUCCESS=$(printf '%s\n' "icmp/$DARK=0" "tcp/$SRV:80=1" "tcp/$SRV:9=0" "icmp/$SRV=1" \
    "http/http://$SRV:80/=1" "http/http://$SRV:81/=0" "dns/$SRV=1" "dns/$SRV:5353=0" | sort)
got=""
for _ in $(seq 1 300); do
    got=$(query 'probe_success' 2>/dev/null)
    [ "$got" = "$EXPECT_SUCCESS" ] && break
    sleep 0.2
done
[ "$got" = "$EXPECT_SUCCESS" ] ||
    fail "probe_success through Prometheus: expected
$EXPECT_SUCCESS
got
$got
$(tail -5 "$NS_TMP/prometheus.log")"
echo "ok: probe_success through Prometheus for tcp, http, icmp and dns targets"

EXPECT_DIAG=$(printf '%s\n' "icmp/$DARK=1,timeout" "tcp/$SRV:9=1,connection_refused" \
    "http/http://$SRV:81/=1,http_status" "dns/$SRV:5353=1,connection_refused" | sort)
assert_eq "$(query 'cmon_probe_diagnostic')" "$EXPECT_DIAG" "cmon_probe_diagnostic in Prometheus"
echo "ok: cmon_probe_diagnostic says why: timeout, connection_refused (tcp, dns), http_status"
assert_eq "$(query 'probe_http_status_code')" "$(printf '%s\n' "http/http://$SRV:80/=200" \
    "http/http://$SRV:81/=503")" "probe_http_status_code in Prometheus"

# ---- the same blackbox.yml and targets through blackbox_exporter ------------
probe() { # PORT MODULE TARGET -> the answer's sample lines
    ns_in cli curl -sf -H 'X-Prometheus-Scrape-Timeout-Seconds: 3' \
        "http://127.0.0.1:$1/probe?module=$2&target=$3"
}
value() { awk -v m="$1" '$1 == m { print $2 }'; }
names() { grep -v '^#' | sed 's/[{ ].*//' | sort -u; }
DOCS=$CMON_SOURCE_DIR/docs/exporter.md
compare() { # MODULE TARGET [EXPECTED probe_success]
    local c b
    c=$(probe 9115 "$1" "$2") || fail "cmon: /probe $1 $2"
    b=$(probe 9116 "$1" "$2") || fail "blackbox: /probe $1 $2"
    assert_eq "$(value probe_success <<<"$c")" "$(value probe_success <<<"$b")" \
        "probe_success of $1 $2 (cmon vs blackbox)"
    [ -z "${3:-}" ] || assert_eq "$(value probe_success <<<"$c")" "$3" "probe_success of $1 $2"
    local missing m
    missing=$(comm -13 <(names <<<"$c") <(names <<<"$b"))
    for m in $missing; do
        grep -q "\`$m\`" "$DOCS" ||
            fail "$1 $2: blackbox writes $m, cmon does not, and docs/exporter.md does not say why"
        echo "note: $1: $m is not measured by cmon (docs/exporter.md)"
    done
    echo "ok: $1 $2: probe_success $(value probe_success <<<"$c") in both"
}
compare tcp_connect "$SRV:80"
compare tcp_connect "$SRV:9"
compare http_2xx "http://$SRV:80/"
compare http_2xx "http://$SRV:81/"
compare https_2xx "https://$SRV/"
# the TLS facts blackbox gives, with the same values
c=$(probe 9115 https_2xx "https://$SRV/") && b=$(probe 9116 https_2xx "https://$SRV/") ||
    fail "https_2xx probes"
for m in probe_ssl_earliest_cert_expiry probe_http_version 'probe_tls_version_info{version="TLS'; do
    # the same series with the same value (1827827924 and Go's 1.827827924e+09 are equal)
    [ "$(grep "^$m" <<<"$c" | head -1 | awk '{printf "%s %.6f", $1, $2}')" = \
      "$(grep "^$m" <<<"$b" | head -1 | awk '{printf "%s %.6f", $1, $2}')" ] ||
        fail "$m: cmon '$(grep "^$m" <<<"$c" | head -1)', blackbox '$(grep "^$m" <<<"$b" | head -1)'"
done
echo "ok: https_2xx: certificate expiry, HTTP and TLS versions as blackbox reports them"
compare https_2xx "http://$SRV:80/" # fail_if_not_ssl
compare http_2xx "https://$SRV/"    # the test CA is not in the system store
assert_eq "$(probe 9115 http_2xx "https://$SRV/" | grep '^cmon_probe_diagnostic')" \
    'cmon_probe_diagnostic{code="tls_untrusted_root"} 1' "https without the CA: diagnostic"
assert_eq "$(probe 9115 https_2xx "https://$SRV/" | value probe_http_ssl)" 1 "probe_http_ssl"
# ---- the options of the http prober beyond status codes --------------------
same() { # MODULE TARGET METRIC...: the same value in both answers
    local c b m
    c=$(probe 9115 "$1" "$2") && b=$(probe 9116 "$1" "$2") || fail "$1 $2: probes"
    for m in "${@:3}"; do
        [ -n "$(value "$m" <<<"$b")" ] || fail "$1 $2: blackbox wrote no $m"
        assert_eq "$(value "$m" <<<"$c" | awk '{printf "%.6f", $1}')" \
            "$(value "$m" <<<"$b" | awk '{printf "%.6f", $1}')" "$1 $2: $m (cmon vs blackbox)"
    done
}
compare http_follow "http://$SRV/redirect" 1 # followed by default
compare http_2xx "http://$SRV/redirect" 0    # follow_redirects: false: the 302 fails 2xx
same http_follow "http://$SRV/redirect" probe_http_redirects probe_http_status_code
assert_eq "$(probe 9115 http_follow "http://$SRV/redirect" | value probe_http_redirects)" 1 \
    "redirects followed"
echo "ok: a redirect is followed by default and not with follow_redirects: false"
compare http_post "http://$SRV/post" 1 # the body's length and the method, echoed
compare http_post "http://$SRV/" 0
compare http_body_ok "http://$SRV/" 1
compare http_body_bad "http://$SRV/" 0
same http_body_bad "http://$SRV/" probe_failed_due_to_regex
assert_eq "$(probe 9115 http_body_bad "http://$SRV/" | value probe_failed_due_to_regex)" 1 \
    "probe_failed_due_to_regex"
assert_eq "$(probe 9115 http_body_ok "http://$SRV/" | value probe_failed_due_to_regex)" 0 \
    "probe_failed_due_to_regex of a match"
echo "ok: POST with a body, body regexps matching and not"
compare http_v2_only "http://$SRV/" 0
compare http_v11 "http://$SRV/" 1
compare http_auth "http://$SRV/private/file.txt" 1
compare http_2xx "http://$SRV/private/file.txt" 0 # 401 without credentials
compare http_follow "http://$SRV/file.txt" 1
same http_follow "http://$SRV/file.txt" probe_http_content_length \
    probe_http_uncompressed_body_length probe_http_last_modified_timestamp_seconds
echo "ok: valid_http_versions, basic_auth, content length and Last-Modified as blackbox"
compare https_insecure "https://$SRV:8443/" 1 # self-signed, not verified
compare https_2xx "https://$SRV:8443/" 0
compare https_server_name "https://$SRV:8444/" 1 # the certificate names www.cmon.test
compare https_2xx "https://$SRV:8444/" 0
assert_eq "$(probe 9115 https_2xx "https://$SRV:8444/" | grep '^cmon_probe_diagnostic')" \
    'cmon_probe_diagnostic{code="tls_hostname_mismatch"} 1' "https without server_name"
same https_server_name "https://$SRV:8444/" probe_ssl_last_chain_expiry_timestamp_seconds
assert_eq "$(probe 9115 https_server_name "https://$SRV:8444/" | grep -o 'fingerprint_sha256="[0-9a-f]*"')" \
    "$(probe 9116 https_server_name "https://$SRV:8444/" | grep -o 'fingerprint_sha256="[0-9a-f]*"')" \
    "probe_ssl_last_chain_info's fingerprint (cmon vs blackbox)"
echo "ok: insecure_skip_verify, server_name, the leaf's chain info as blackbox"
# ---- tcp beyond connect: query_response and TLS ----------------------------
compare tcp_smtp "$SRV:2525" 1
compare tcp_smtp_wrong "$SRV:2525" 0
same tcp_smtp_wrong "$SRV:2525" probe_failed_due_to_regex
assert_eq "$(probe 9115 tcp_smtp_wrong "$SRV:2525" | value probe_failed_due_to_regex)" 1 \
    "tcp: probe_failed_due_to_regex"
compare tcp_tls "$SRV:4433" 1
compare tcp_tls "$SRV:4434" 0 # self-signed
assert_eq "$(probe 9115 tcp_tls "$SRV:4434" | grep '^cmon_probe_diagnostic')" \
    'cmon_probe_diagnostic{code="tls_untrusted_root"} 1' "tcp tls, self-signed: diagnostic"
compare tcp_tls_insecure "$SRV:4434" 1
compare tcp_tls_insecure "$SRV:2525" 0 # no TLS there
same tcp_tls "$SRV:4433" probe_ssl_earliest_cert_expiry
echo "ok: tcp query_response against a line server, tls against openssl s_server"
# ---- icmp ttl and payload_size: the echo requests as they arrive -----------
compare icmp_ttl "$SRV" 1
compare icmp_payload "$SRV" 1
counted() { ns_in srv nft list chain inet count_icmp in | grep "\"$1\"" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
for m in ttl:ttl7 payload:payload1000; do
    before=$(counted "${m#*:}")
    assert_eq "$(probe 9115 "icmp_${m%%:*}" "$SRV" | value probe_success)" 1 "icmp_${m%%:*}"
    [ "$(counted "${m#*:}")" -gt "$before" ] ||
        fail "icmp_${m%%:*}: no echo request with ${m#*:} reached $SRV"
done
echo "ok: icmp ttl and payload_size shape the echo request"
compare icmp "$SRV"
compare icmp "$DARK"
compare dns_ok "$SRV"
compare dns_ok "$SRV:5353"
compare dns_ok "$DARK"
compare dns_other "$SRV"
assert_eq "$(probe 9115 dns_ok "$DARK" | grep "^cmon_probe_diagnostic")" \
    'cmon_probe_diagnostic{code="dns_timeout"} 1' "dns_ok $DARK: diagnostic"
assert_match "$(probe 9115 dns_other "$SRV" | grep "^cmon_probe_diagnostic")" \
    'code="dns_(servfail|nxdomain)"' "dns_other $SRV: diagnostic"

# ---- the exporter's own /metrics --------------------------------------------
own=$(ns_in cli curl -s http://127.0.0.1:9115/metrics)
for m in process_cpu_seconds_total process_resident_memory_bytes \
    blackbox_exporter_config_last_reload_successful cmon_exporter_probes_in_flight; do
    grep -q "^$m " <<<"$own" || fail "/metrics lacks $m"
done
n=$(awk '/^cmon_exporter_probes_total\{prober="dns",result="success"\}/ { print $2 }' <<<"$own")
[ "${n:-0}" -ge 1 ] || fail "/metrics counts no successful dns probe: $own"
echo "ok: /metrics: process, reload and probe counters"

# ---- reload: POST /-/reload and SIGHUP --------------------------------------
reload_ok() { ns_in cli curl -s http://127.0.0.1:9115/metrics | value blackbox_exporter_config_last_reload_successful; }
cat >>"$BB" <<'EOF'
  tcp_again:
    prober: tcp
EOF
code=$(ns_in cli curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9115/-/reload)
assert_eq "$code" 200 "POST /-/reload of a good file"
assert_eq "$(probe 9115 tcp_again "$SRV:80" | value probe_success)" 1 "module added by reload"
printf '  broken:\n    prober: smtp\n' >>"$BB"
out=$(ns_in cli curl -s -X POST http://127.0.0.1:9115/-/reload)
assert_match "$out" "blackbox.yml:$(wc -l <"$BB"):13: module 'broken': unknown prober 'smtp'" \
    "bad reload (the last line names the prober)"
assert_eq "$(reload_ok)" 0 "last_reload_successful after a bad file"
assert_eq "$(probe 9115 tcp_again "$SRV:80" | value probe_success)" 1 "old config kept"
sed -i '/broken:/,$d' "$BB"
kill -HUP "$CMON_PID" 
for _ in $(seq 1 300); do [ "$(reload_ok)" = 1 ] && break; sleep 0.1; done
assert_eq "$(reload_ok)" 1 "last_reload_successful after SIGHUP with a good file"
echo "ok: /-/reload and SIGHUP take a good file and keep the old one over a bad one"

# ---- a clean stop (and, in the sanitizer build, no report at exit) -----------
# with probes in flight (an engine check and a dns query, both to the dark
# host): stopping cancels them, their scrapes get an answer, cmon exits 0.
# Prometheus stops first, so the two probes counted in flight are these.
# Their modules allow 120 s (the scrapes ask 60 s): on a busy machine a 5 s
# probe could end, or outlive its handler's grace, before the stop lands.
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null
SCRAPES=()
for m in icmp_hold dns_hold; do
    ns_in cli curl -s -H 'X-Prometheus-Scrape-Timeout-Seconds: 60' \
        "http://127.0.0.1:9115/probe?module=$m&target=$DARK" >"$NS_TMP/inflight.$m" &
    SCRAPES+=($!)
done
for _ in $(seq 1 300); do
    n=$(ns_in cli curl -s http://127.0.0.1:9115/metrics | value cmon_exporter_probes_in_flight)
    [ "$n" = 2 ] && break
    sleep 0.1
done
assert_eq "$n" 2 "probes in flight before the stop"
kill -TERM "$CMON_PID"
rc=0
wait "$CMON_PID" || rc=$?
[ "$rc" = 0 ] || fail "cmon exporter exited $rc after SIGTERM: $(tail -30 "$NS_TMP/cmon.log")"
! grep -q 'Sanitizer' "$NS_TMP/cmon.log" || fail "sanitizer report: $(cat "$NS_TMP/cmon.log")"
wait "${SCRAPES[@]}"
for m in icmp_hold dns_hold; do
    assert_eq "$(value probe_success <"$NS_TMP/inflight.$m")" 0 "$m probe cancelled by the stop"
done
echo "ok: SIGTERM stops cmon exporter cleanly, answering the probes in flight"
echo "PASS"
