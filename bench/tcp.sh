#!/usr/bin/env bash
# bench/tcp.sh: TCP connect checks per CPU-second, cmon vs the Prometheus
# blackbox exporter (tcp_connect module), in one run on the same namespace
# pair: client -> server, nginx listening in the server namespace.  Prints
# figures and ratios; asserts nothing about speed.
#   CMON=build/cmon CMON_SOURCE_DIR=. bash bench/tcp.sh
# cmon: `cmon check HOST:PORT -c N --interval 0 --concurrency C` (C connects
# in flight).  blackbox exporter: started in the client namespace on
# 127.0.0.1:9115 and driven by wrk against /probe for DURATION seconds with C
# connections; its CPU time comes from /proc (wrk's own CPU is not counted,
# but the exporter's HTTP handling is: that is how it is used).
NS_PREFIX=cmpb
. "${CMON_SOURCE_DIR:-.}/tests/integration/lib/netns.sh"
ns_require
: "${CMON:?set CMON to the cmon binary}"
BBE=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter) ||
    skip "prometheus-blackbox-exporter is not installed"
command -v wrk >/dev/null || skip "wrk is not installed"
command -v nginx >/dev/null || skip "nginx is not installed"
N=${N:-50000}
C=${C:-50}
DURATION=${DURATION:-5}

ns_add client
ns_add server
ns_link client server 1
# many short connections: room for ephemeral ports and TIME_WAIT reuse
ns_in client sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
ns_in server sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192

mkdir -p "$NS_TMP/nginx/logs"
cat >"$NS_TMP/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $NS_TMP/nginx/nginx.pid;
error_log $NS_TMP/nginx/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  server { listen 198.18.1.2:8080 backlog=8192 reuseport; return 204; }
}
NGX
ns_bg server nginx -p "$NS_TMP/nginx" -c "$NS_TMP/nginx/nginx.conf" -g 'daemon off;'
wait_port client 198.18.1.2 8080

cat >"$NS_TMP/blackbox.yml" <<'YML'
modules:
  tcp_connect:
    prober: tcp
    timeout: 2s
YML
ns_bg client "$BBE" --config.file="$NS_TMP/blackbox.yml" --web.listen-address=127.0.0.1:9115 \
    --log.level=error
bbe_pid=${NS_PIDS[-1]}
wait_port client 127.0.0.1 9115

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# cmon
TIMEFORMAT='%3R %3U %3S'
{ time ns_in client "$CMON" check --json -q -c "$N" -i 0 --concurrency "$C" -t 2000 \
      198.18.1.2:8080 >"$NS_TMP/cmon.json" 2>&1; } 2>"$NS_TMP/time"
read -r c_wall c_user c_sys <"$NS_TMP/time"
c_fail=$(jq -r .summary.checksFailed "$NS_TMP/cmon.json")
c_avg=$(jq -r .summary.rtt.avg "$NS_TMP/cmon.json")

# blackbox exporter
url='http://127.0.0.1:9115/probe?target=198.18.1.2:8080&module=tcp_connect'
ns_in client curl -fsS "$url" | grep -q '^probe_success 1' || fail "blackbox exporter probe does not succeed"
t0=$(cpu_ticks "$bbe_pid")
ns_in client wrk -t 2 -c "$C" -d "${DURATION}s" "$url" >"$NS_TMP/wrk.txt" 2>&1
t1=$(cpu_ticks "$bbe_pid")
b_reqs=$(awk '/requests in/ {print $1}' "$NS_TMP/wrk.txt")
b_rate=$(awk '/^Requests\/sec/ {print $2}' "$NS_TMP/wrk.txt")
b_errs=$(awk '/Non-2xx|Socket errors/ {print}' "$NS_TMP/wrk.txt")
hz=$(getconf CLK_TCK)

awk -v n="$N" -v cw="$c_wall" -v cu="$c_user" -v cs="$c_sys" -v cf="$c_fail" -v ca="$c_avg" \
    -v br="$b_reqs" -v brate="$b_rate" -v ticks=$((t1 - t0)) -v hz="$hz" -v c="$C" '
function max(a, b) { return a > b ? a : b }
BEGIN {
    ccpu = cu + cs; bcpu = ticks / hz
    cper = n / max(ccpu, 0.001); bper = br / max(bcpu, 0.001)
    printf "TCP connect checks, concurrency %d\n", c
    printf "  cmon    : %d checks, %8.0f checks/s, %8.0f checks per CPU-second, %d failed, rtt avg %s ms\n", n, n / max(cw, 0.001), cper, cf, ca
    printf "  blackbox: %d probes, %8.0f probes/s, %8.0f probes per CPU-second (exporter process)\n", br, brate, bper
    printf "  ratio cmon/blackbox: %.1fx checks per CPU-second\n", cper / max(bper, 1)
}'
[ -n "$b_errs" ] && echo "  (wrk: $b_errs)"
exit 0
