#!/usr/bin/env bash
# bench/exporter.sh: `cmon exporter` vs prometheus-blackbox-exporter serving
# Prometheus-style /probe requests (the scrape-timeout header, C concurrent
# keep-alive connections from wrk), in one run on the same namespace pair:
# both exporters in the client namespace (no default route), nginx in the
# server namespace (dnsmasq for dns).  For each module (tcp_connect,
# http_2xx, https_2xx and tcp_tls -- a verified handshake each, against the
# same nginx certificate and its own CA --, icmp, dns) both
# exporters take REPEAT alternating runs of DURATION seconds; the figure is
# probes per CPU-second of the exporter process (from /proc; wrk's CPU is
# not counted) and the median ratio cmon/blackbox.  Asserts nothing about
# speed.
#   CMON=build/cmon CMON_SOURCE_DIR=. bash bench/exporter.sh
#   env: C (32), DURATION (5), REPEAT (3), NS_PREFIX,
#        MODULES ("tcp_connect http_2xx https_2xx tcp_tls icmp dns")
NS_PREFIX=${NS_PREFIX:-cmxb}
. "${CMON_SOURCE_DIR:-.}/tests/integration/lib/netns.sh"
. "${CMON_SOURCE_DIR:-.}/tests/integration/lib/tls.sh"
ns_require
: "${CMON:?set CMON to the cmon binary}"
BBE=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter) ||
    skip "prometheus-blackbox-exporter is not installed"
for t in wrk nginx curl dnsmasq; do command -v $t >/dev/null || skip "$t is not installed"; done
"$CMON" exporter --help >/dev/null 2>&1 || skip "this cmon has no exporter command"
C=${C:-32}
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-3}
MODULES=${MODULES:-tcp_connect http_2xx https_2xx tcp_tls icmp dns}
SRV=198.18.1.2

ns_add client
ns_add server
ns_link client server 1
ns_in client sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
ns_in server sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 \
    net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000

W=$NS_TMP/www
mkdir -p "$W" "$W/ca"
tls_ca "$W/ca" "cmon Bench CA" >/dev/null || fail "bench CA"
tls_cert "$W/ca" "$W/srv" "$SRV" 1000 "" >/dev/null || fail "bench certificate" # no CRL: neither checks one
cat >"$W/nginx.conf" <<NGX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W;
  uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen $SRV:8080 backlog=8192 reuseport; location / { return 200 "ok\n"; } }
  server {
    listen $SRV:8443 ssl backlog=8192 reuseport;
    ssl_certificate $W/srv.pem;
    ssl_certificate_key $W/srv.key;
    location / { return 200 "ok\n"; }
  }
}
NGX
ns_bg server nginx -p "$W" -c "$W/nginx.conf" -g 'daemon off;'
wait_port client "$SRV" 8080
wait_port client "$SRV" 8443
ns_bg server dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$SRV" \
    --address=/ok.test/"$SRV" --pid-file="$W/dnsmasq.pid" --user=root --cache-size=0 2>/dev/null
wait_port client "$SRV" 53

cat >"$NS_TMP/blackbox.yml" <<YML
modules:
  tcp_connect:
    prober: tcp
    timeout: 2s
    tcp: {preferred_ip_protocol: ip4}
  http_2xx:
    prober: http
    timeout: 2s
    http: {preferred_ip_protocol: ip4, follow_redirects: false}
  https_2xx:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
      follow_redirects: false
      tls_config: {ca_file: $W/ca/ca.pem}
  tcp_tls:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {ca_file: $W/ca/ca.pem}
  icmp:
    prober: icmp
    timeout: 2s
    icmp: {preferred_ip_protocol: ip4}
  dns:
    prober: dns
    timeout: 2s
    dns: {query_name: ok.test, query_type: A, preferred_ip_protocol: ip4}
YML
ns_bg client "$CMON" exporter --config.file "$NS_TMP/blackbox.yml" --listen 127.0.0.1:9115 \
    --threads "$C" --log-level error
cmon_pid=${NS_PIDS[-1]}
ns_bg client "$BBE" --config.file="$NS_TMP/blackbox.yml" --web.listen-address=127.0.0.1:9116 \
    --log.level=error
bbe_pid=${NS_PIDS[-1]}
wait_port client 127.0.0.1 9115
wait_port client 127.0.0.1 9116

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
HDR='X-Prometheus-Scrape-Timeout-Seconds: 5'

# run PORT PID URL -> "probes/s probes-per-CPU-second"
run() {
    local t0 t1
    t0=$(cpu_ticks "$2")
    ns_in client wrk -t 2 -c "$C" -d "${DURATION}s" -H "$HDR" "http://127.0.0.1:$1$3" \
        >"$NS_TMP/wrk.txt" 2>&1
    t1=$(cpu_ticks "$2")
    awk -v ticks=$((t1 - t0)) -v hz="$hz" '
        /requests in/ { n = $1 } /^Requests\/sec/ { r = $2 }
        END { printf "%.0f %.0f\n", r, n / (ticks / hz > 0.001 ? ticks / hz : 0.001) }' \
        "$NS_TMP/wrk.txt"
}
failures() { # cmon's own count of failed probes so far
    ns_in client curl -s http://127.0.0.1:9115/metrics |
        awk '/^cmon_exporter_probes_total.*result="failure"/ { n += $2 } END { print n + 0 }'
}

bench_module() { # MODULE TARGET
    local path="/probe?module=$1&target=$2" port ratios=() i
    for port in 9115 9116; do
        ns_in client curl -fsS "http://127.0.0.1:$port$path" | grep -q '^probe_success 1' ||
            fail "$1: the exporter on $port does not succeed on $2"
        ns_in client wrk -t 2 -c "$C" -d 1s -H "$HDR" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    done
    local f0; f0=$(failures)
    echo "$1 ($2), concurrency $C, $REPEAT alternating runs of ${DURATION}s"
    for i in $(seq 1 "$REPEAT"); do
        read -r c_rate c_per < <(run 9115 "$cmon_pid" "$path")
        read -r b_rate b_per < <(run 9116 "$bbe_pid" "$path")
        ratios+=("$(awk -v a="$c_per" -v b="$b_per" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')")
        printf '  run %d: cmon %6d probes/s, %6d per CPU-s | blackbox %6d probes/s, %6d per CPU-s | ratio %sx\n' \
            "$i" "$c_rate" "$c_per" "$b_rate" "$b_per" "${ratios[-1]}"
    done
    printf '  cmon probes that failed during the runs: %d\n' $(($(failures) - f0))
    printf '%s\n' "${ratios[@]}" | sort -n | awk -v m="$1" '{ r[NR] = $1 } END {
        printf "  %s: cmon/blackbox probes per CPU-second: median %.1fx (min %.1fx, max %.1fx)\n",
            m, r[int((NR + 1) / 2)], r[1], r[NR] }'
}

target_of() {
    case $1 in
    tcp_connect) echo "$SRV:8080" ;;
    http_2xx) echo "http://$SRV:8080/" ;;
    https_2xx) echo "https://$SRV:8443/" ;;
    tcp_tls) echo "$SRV:8443" ;;
    *) echo "$SRV" ;;
    esac
}
for m in $MODULES; do bench_module "$m" "$(target_of "$m")"; done
exit 0
