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
# but the exporter's HTTP handling is: that is how it is used).  Both warm up
# first, then REPEAT (5) alternating runs; the median ratio is the figure.
NS_PREFIX=${NS_PREFIX:-cmpb}
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
REPEAT=${REPEAT:-5}

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
hz=$(getconf CLK_TCK)
url='http://127.0.0.1:9115/probe?target=198.18.1.2:8080&module=tcp_connect'
ns_in client curl -fsS "$url" | grep -q '^probe_success 1' || fail "blackbox exporter probe does not succeed"
# warm-up, not measured: the exporter's first seconds (Go runtime, heap growth)
ns_in client wrk -t 2 -c "$C" -d 1s "$url" >/dev/null 2>&1
ns_in client "$CMON" check -q -c 2000 -i 0 --concurrency "$C" -t 2000 198.18.1.2:8080 >/dev/null 2>&1

# cmon_run -> "checks/s checks-per-CPU-second failed": -q prints the summary
# only (--json would keep and print every check's result)
cmon_run() {
    local TIMEFORMAT='%3R %3U %3S' wall user sys n f
    { time ns_in client "$CMON" check -q -c "$N" -i 0 --concurrency "$C" -t 2000 \
        198.18.1.2:8080 >"$NS_TMP/cmon.txt" 2>&1; } 2>"$NS_TMP/time"
    read -r wall user sys <"$NS_TMP/time"
    read -r n f < <(sed -nE 's/^--- .*: ([0-9]+) checks, ([0-9]+) failed.*/\1 \2/p' "$NS_TMP/cmon.txt")
    awk -v n="$n" -v f="$f" -v w="$wall" -v u="$user" -v s="$sys" \
        'BEGIN { printf "%.0f %.0f %d\n", n / (w > 0.001 ? w : 0.001), n / (u + s > 0.001 ? u + s : 0.001), f }'
}
# blackbox_run -> "probes/s probes-per-CPU-second errors" (the exporter's CPU
# from /proc; wrk's own CPU is not counted)
blackbox_run() {
    local t0 t1
    t0=$(cpu_ticks "$bbe_pid")
    ns_in client wrk -t 2 -c "$C" -d "${DURATION}s" "$url" >"$NS_TMP/wrk.txt" 2>&1
    t1=$(cpu_ticks "$bbe_pid")
    awk -v ticks=$((t1 - t0)) -v hz="$hz" '
        /requests in/ { n = $1 } /^Requests\/sec/ { r = $2 } /Non-2xx|Socket errors/ { e++ }
        END { printf "%.0f %.0f %d\n", r, n / (ticks / hz > 0.001 ? ticks / hz : 0.001), e }' "$NS_TMP/wrk.txt"
}

# REPEAT alternating runs; the median ratio is the figure (the machine is shared)
echo "TCP connect checks, concurrency $C, $REPEAT runs (cmon $N checks, blackbox ${DURATION} s each)"
ratios=()
for i in $(seq 1 "$REPEAT"); do
    read -r c_rate c_per c_fail < <(cmon_run)
    read -r b_rate b_per b_err < <(blackbox_run)
    ratio=$(awk -v a="$c_per" -v b="$b_per" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 1) }')
    ratios+=("$ratio")
    printf '  run %d: cmon %6d checks/s, %6d per CPU-s, %d failed | blackbox %5d probes/s, %5d per CPU-s%s | ratio %sx\n' \
        "$i" "$c_rate" "$c_per" "$c_fail" "$b_rate" "$b_per" "$([ "$b_err" -gt 0 ] && echo ', wrk errors')" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END {
    printf "  ratio cmon/blackbox checks per CPU-second: median %.1fx (min %.1fx, max %.1fx)\n", r[int((NR + 1) / 2)], r[1], r[NR] }'
exit 0
