#!/usr/bin/env bash
# bench/loops.sh: checks/s of the agent runtime (the code `cmon agent` and
# `cmon run` run) with 1 and with 2 probe loops, for ICMP, TCP and HTTPS, in
# one run on the same namespace pair: client (the driver, bench/loops.c,
# linked with libcmon) -> server (the kernel for ICMP, nginx for TCP and
# HTTPS).  Each protocol is offered far more than the loops can do, so they
# run at capacity, skipping the rounds they cannot make on time: successful
# checks/s (the capacity), failed %, rounds skipped/s, CPU per check, the
# agent's, nginx's and the kernel's softirq CPU in cores and the machine's
# busy cores, rounds' lateness p99; then the 2-loop/1-loop ratio.  nginx and
# the kernel's softirq work for the server side run on the same cores as the
# loops: on a 2-core machine the second loop competes with them, which the
# CPU columns show.  Then the 1M-test figures: RSS
# idle (tests every 1800 s) and running, and the assignment load time.
# Asserts nothing about speed.
#   CMON_SOURCE_DIR=. CMON_BUILD_DIR=build bash bench/loops.sh
#   env: SECONDS_PER_RUN (8), MILLION (1000000; 0 skips), PROTOS ("icmp tcp https"),
#   ICMP_LOAD (150000), TCP_LOAD (60000), HTTPS_LOAD (2000): checks/s offered,
#   MILLION_RUN ("60 1": the running 1M case's period in seconds and checks per round)
NS_PREFIX=${NS_PREFIX:-cmlp}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMON_SOURCE_DIR=${CMON_SOURCE_DIR:-$ROOT}
. "$ROOT/tests/integration/lib/netns.sh"
. "$ROOT/tests/integration/lib/tls.sh"
ns_require
BUILD=${CMON_BUILD_DIR:-$ROOT/build}
command -v nginx >/dev/null || skip "nginx is not installed"
[ -f "$BUILD/libcmon.a" ] || fail "no $BUILD/libcmon.a (build first)"
SECS=${SECONDS_PER_RUN:-8}
MILLION=${MILLION:-1000000}
PROTOS=${PROTOS-icmp tcp https} # "" : only the 1M part

cc -O2 -std=gnu11 -D_GNU_SOURCE -DCMON_VERSION='"bench"' -I"$ROOT/src" "$ROOT/bench/loops.c" \
    "$BUILD/libcmon.a" $(pkg-config --cflags --libs libuv libcurl openssl libcares jansson) \
    -lm -lpthread -o "$NS_TMP/loops" || fail "cannot build bench/loops.c"

ns_add client
ns_add server
ns_link client server 1
ns_in client sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
ns_in server sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
mkdir -p "$NS_TMP/ca" "$NS_TMP/tmp"
tls_ca "$NS_TMP/ca" "cmon Bench CA" >/dev/null
tls_cert "$NS_TMP/ca" "$NS_TMP/srv" 198.18.1.2 1000 "" >/dev/null
cat >"$NS_TMP/nginx.conf" <<NGX
worker_processes 2;
pid $NS_TMP/nginx.pid;
error_log $NS_TMP/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $NS_TMP/tmp;
  proxy_temp_path $NS_TMP/tmp;
  fastcgi_temp_path $NS_TMP/tmp;
  uwsgi_temp_path $NS_TMP/tmp;
  scgi_temp_path $NS_TMP/tmp;
  server { listen 198.18.1.2:8080 backlog=8192 reuseport; return 204; }
  server {
    listen 198.18.1.2:8443 ssl backlog=8192 reuseport;
    ssl_certificate $NS_TMP/srv.pem;
    ssl_certificate_key $NS_TMP/srv.key;
    location / { return 200 "ok\n"; }
  }
}
NGX
ns_bg server nginx -p "$NS_TMP" -c "$NS_TMP/nginx.conf" -g 'daemon off;'
wait_port client 198.18.1.2 8080
wait_port client 198.18.1.2 8443

# run PROTO TARGET TESTS LOOPS CHECKS FREQ -> the driver's key=value line
run() {
    ns_in client "$NS_TMP/loops" "$1" "$2" "$3" "$4" "$SECS" "$5" "$6" "$NS_TMP/ca/ca.pem"
}
field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$2"; }

target_of() {
    case $1 in
    icmp) echo 198.18.1.2 ;;
    tcp) echo 198.18.1.2:8080 ;;
    https) echo https://198.18.1.2:8443/ ;;
    esac
}
# Offered checks/s per protocol: well above what one loop (and two) can do
# (100 checks per round every 30 s per test).  An overloaded loop skips the
# rounds it cannot make on time (src/probe/scheduler.h, Overload) and runs
# at capacity, so successful checks/s at this load is the capacity, as long
# as the checks it makes succeed (failed % is printed next to it).
load_of() {
    case $1 in
    icmp) echo "${ICMP_LOAD:-150000}" ;;
    tcp) echo "${TCP_LOAD:-60000}" ;;
    https) echo "${HTTPS_LOAD:-2000}" ;;
    esac
}
# nginx's master and workers, whose CPU the driver reports as the peer's
peer_pids() {
    local master
    master=$(cat "$NS_TMP/nginx.pid" 2>/dev/null) || return 0
    echo "$master" $(ps -o pid= --ppid "$master")
}

echo "== agent runtime, 1 vs 2 probe loops ($(nproc) cores, shared with the server side), ${SECS}s per run"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: see RESULTS.md)"
echo "   cores: agent = the driver's CPU; nginx = its processes'; softirq and busy = the whole machine's"
printf '%-6s %7s %5s %8s %7s %9s %8s %6s %6s %8s %6s %7s %7s\n' proto offer loops ok/s failed% \
    skipped/s us/check agent nginx softirq busy late99 loadavg
for p in $PROTOS; do
    t=$(target_of "$p")
    proto=$p
    [ "$p" = https ] && proto=http
    load=$(load_of "$p")
    tests=$((load * 30 / 100))
    declare -A cap=()
    for l in 1 2; do
        out=$(CMON_BENCH_PEER_PIDS="$(peer_pids)" run "$proto" "$t" "$tests" "$l" 100 30)
        ok=$(field ok_per_s "$out")
        cap[$l]=$ok
        skipped=$(awk -v a="$(field skipped_late_per_s "$out")" -v b="$(field skipped_busy_per_s "$out")" \
            'BEGIN { printf "%.0f", a + b }')
        printf '%-6s %7s %5s %8s %7s %9s %8s %6s %6s %8s %6s %7s %7s\n' "$p" "$load" "$l" "$ok" \
            "$(field failed_pct "$out")" "$skipped" "$(field cpu_us_per_check "$out")" \
            "$(field agent_cores "$out")" "$(field peer_cores "$out")" "$(field softirq_cores "$out")" \
            "$(field busy_cores "$out")" "$(field late_p99_ms "$out")" "$(cut -d' ' -f1 /proc/loadavg)"
        f=$(sed -nE 's/.* failure="([^"]*)".*/\1/p' <<<"$out")
        [ -n "$f" ] && echo "       first failure: $f"
    done
    awk -v p="$p" -v o="$load" -v a="${cap[1]}" -v b="${cap[2]}" \
        'BEGIN { printf "%-6s capacity (ok/s, %d/s offered): 1 loop %d, 2 loops %d, ratio %.2fx\n", p, o, a, b, a ? b / a : 0 }'
    unset cap
done

if [ "$MILLION" -gt 0 ]; then
    ulimit -n 65536 2>/dev/null || true
    echo "== $MILLION tests in one agent (ICMP to 198.18.1.2, 2 loops)"
    out=$(run icmp 198.18.1.2 "$MILLION" 2 1 1800)
    echo "idle (every 1800 s, 1 check): load $(field load_s "$out") s, RSS loaded $(field rss_loaded_mib "$out") MiB, end $(field rss_end_mib "$out") MiB, peak $(field hwm_mib "$out") MiB, $(field ok_per_s "$out") ok/s, late p99 $(field late_p99_ms "$out") ms"
    read -r freq checks <<<"${MILLION_RUN:-60 1}"
    out=$(run icmp 198.18.1.2 "$MILLION" 2 "$checks" "$freq")
    echo "running (every $freq s, $checks checks: $(field offered_per_s "$out") checks/s offered): load $(field load_s "$out") s, RSS loaded $(field rss_loaded_mib "$out") MiB, end $(field rss_end_mib "$out") MiB, peak $(field hwm_mib "$out") MiB, $(field ok_per_s "$out") ok/s, failed $(field failed "$out"), late p50 $(field late_p50_ms "$out") ms p99 $(field late_p99_ms "$out") ms"
fi
