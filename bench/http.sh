#!/usr/bin/env bash
# http.sh: HTTP(S) checks per second, a new connection each, against one nginx on
# loopback: cmon's HTTP probe (bench/http_driver.c, linked with libcmon) vs
# prometheus-blackbox-exporter's http module (driven by wrk on /probe, one
# probe per request) vs wrk -H 'Connection: close' (raw client ceiling).
# Then cmon alone against a certificate that names a CRL (blackbox checks no
# revocation): what the CRL check adds to an HTTPS check once the CRL is cached.
# Prints rates and ratios; asserts nothing about speed.
#
#   bench/http.sh [BUILD_DIR or path/to/cmon]  (default: $CMON_BUILD_DIR, $CMON's
#   directory, else build; run-all.sh sets them)
#   env: BENCH_SECONDS (10), BENCH_CONCURRENCY (50)
# Exit 77 (skipped) when a peer tool is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-${CMON_BUILD_DIR:-${CMON:-$ROOT/build}}}
[ -f "$arg" ] && arg=$(dirname "$arg")
BUILD=$(cd "$arg" && pwd)
SECS=${BENCH_SECONDS:-10}
CONC=${BENCH_CONCURRENCY:-50}
. "$ROOT/tests/integration/lib/tls.sh"

for t in nginx wrk prometheus-blackbox-exporter openssl curl cc pkg-config; do
    command -v "$t" >/dev/null || { echo "bench/http.sh: SKIPPED: $t is not installed"; exit 77; }
done
[ -f "$BUILD/libcmon.a" ] || { echo "bench/http.sh: no $BUILD/libcmon.a (build first)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cmh-bench.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { # below the ephemeral range, which the checks themselves churn through
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
wait_port() {
    local i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/http.sh: nothing listens on 127.0.0.1:$1" >&2
    cat "$TMP/error.log" "$TMP/blackbox.log" >&2 2>/dev/null
    exit 1
}

# the cmon side: a driver linked with the library under test
cc -O2 -std=gnu11 -D_GNU_SOURCE -DCMON_VERSION='"bench"' -I"$ROOT/src" \
    "$ROOT/bench/http_driver.c" "$BUILD/libcmon.a" \
    $(pkg-config --cflags --libs libuv libcurl openssl libcares jansson) -lm -o "$TMP/http_driver"

# nginx: plain HTTP and HTTPS, both answering 200 "ok"
HTTP=$(free_port)
HTTPS=$(free_port)
HTTPS_CRL=$(free_port)
BB=$(free_port)
mkdir -p "$TMP/ca" "$TMP/tmp"
tls_ca "$TMP/ca" "cmon Bench CA" >/dev/null
# no CRL distribution point: blackbox does not check revocation either
tls_cert "$TMP/ca" "$TMP/srv" 127.0.0.1 1000 "" >/dev/null
tls_cert "$TMP/ca" "$TMP/srvcrl" 127.0.0.1 1001 "http://127.0.0.1:$HTTP/ca.crl" >/dev/null
mkdir -p "$TMP/www"
tls_crl "$TMP/ca" "$TMP/www/ca.crl"
chmod -R a+rX "$TMP/www"
chmod a+x "$TMP" # nginx's workers (nobody) read the CRL
cat >"$TMP/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/tmp;
    proxy_temp_path $TMP/tmp;
    fastcgi_temp_path $TMP/tmp;
    uwsgi_temp_path $TMP/tmp;
    scgi_temp_path $TMP/tmp;
    server {
        listen 127.0.0.1:$HTTP backlog=4096;
        location / { return 200 "ok\n"; }
        location = /ca.crl { root $TMP/www; }
    }
    server {
        listen 127.0.0.1:$HTTPS_CRL ssl backlog=4096;
        ssl_certificate $TMP/srvcrl.pem;
        ssl_certificate_key $TMP/srvcrl.key;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:$HTTPS ssl backlog=4096;
        ssl_certificate $TMP/srv.pem;
        ssl_certificate_key $TMP/srv.key;
        location / { return 200 "ok\n"; }
    }
}
EOF
nginx -p "$TMP" -c "$TMP/nginx.conf" &
PIDS+=($!)
cat >"$TMP/blackbox.yml" <<EOF
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: $TMP/ca/ca.pem
EOF
prometheus-blackbox-exporter --config.file="$TMP/blackbox.yml" \
    --web.listen-address="127.0.0.1:$BB" --log.level=error >"$TMP/blackbox.log" 2>&1 &
PIDS+=($!)
wait_port "$HTTP"
wait_port "$HTTPS"
wait_port "$HTTPS_CRL"
wait_port "$BB"

# CPU seconds (user+system) a process has used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
BB_PID=${PIDS[1]}

# http.c alone through the bench driver, for about SECS (calibrated by a short
# first run); prints the rate, its CPU ms per check goes to $TMP/cmon_cpu
cmon_rate() { # URL PORT
    local n rate out
    out=$("$TMP/http_driver" "$1" 127.0.0.1 "$2" 2000 "$CONC" "$TMP/ca/ca.pem")
    rate=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$out")
    n=$(awk -v r="$rate" -v s="$SECS" 'BEGIN { n = int(r * s); print (n < 2000 ? 2000 : n) }')
    out=$("$TMP/http_driver" "$1" 127.0.0.1 "$2" "$n" "$CONC" "$TMP/ca/ca.pem")
    grep -q 'failed=0 ' <<<"$out" || { echo "bench/http.sh: cmon checks failed: $out" >&2; exit 1; }
    sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$out"
    sed -E 's/.*cpu_ms_per_check=([0-9.]+).*/\1/' <<<"$out" >"$TMP/cmon_cpu"
}
wrk_rate() { # URL [wrk args]
    local url=$1
    shift
    wrk -t2 -c"$CONC" -d"${SECS}s" "$@" "$url" | awk '/Requests\/sec/ { print $2 }'
}
# blackbox: rate of /probe requests; its CPU ms per probe goes to $TMP/bb_cpu
blackbox_rate() { # TARGET
    local probe="http://127.0.0.1:$BB/probe?module=http_2xx&target=$1" t0 t1 out
    curl -s "$probe" | grep -q '^probe_success 1' ||
        { echo "bench/http.sh: blackbox probe of $1 does not succeed" >&2; exit 1; }
    t0=$(cpu_ticks "$BB_PID")
    out=$(wrk -t2 -c"$CONC" -d"${SECS}s" "$probe")
    t1=$(cpu_ticks "$BB_PID")
    awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" \
        '/^Requests\/sec/ { printf "%.3f", (b - a) * 1000 / hz / ($2 * '"$SECS"') }' \
        <<<"$out" >"$TMP/bb_cpu"
    awk '/^Requests\/sec/ { print $2 }' <<<"$out"
}
# cmon as users run it: `cmon check URL -c N -i 0 --concurrency C` (one loop);
# prints the rate, its CPU ms per check (user + system) goes to $TMP/cli_cpu
cli_rate() { # URL N
    local t0 t1 cpu
    t0=$(date +%s.%N)
    cpu=$( { TIMEFORMAT='%U %S'; time "$BUILD/cmon" check "$1" -c "$2" -i 0 \
        --concurrency "$CONC" --ca "$TMP/ca/ca.pem" -q --json >"$TMP/cli.json" 2>&1; } 2>&1) ||
        { echo "bench/http.sh: cmon check $1 failed: $(head -c 300 "$TMP/cli.json")" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v n="$2" -v c="$cpu" 'BEGIN { split(c, a, " "); printf "%.3f", (a[1] + a[2]) * 1000 / n }' \
        >"$TMP/cli_cpu"
    awk -v n="$2" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo "== HTTP(S) checks per second, new connection each, ~${SECS}s each, concurrency $CONC, loopback nginx"
"$BUILD/cmon" check --help 2>/dev/null | grep -q -- --concurrency ||
    { echo "bench/http.sh: SKIPPED: this cmon check has no --concurrency"; exit 77; }
for scheme in http https; do
    port=$HTTP
    [ "$scheme" = https ] && port=$HTTPS
    url="$scheme://127.0.0.1:$port/"
    d=$(cmon_rate "$url" "$port")
    d_ms=$(cat "$TMP/cmon_cpu")
    n=$(awk -v r="$d" -v s="$SECS" 'BEGIN { n = int(r * s * 0.7); print (n < 500 ? 500 : n) }')
    c=$(cli_rate "$url" "$n")
    c_ms=$(cat "$TMP/cli_cpu")
    b=$(blackbox_rate "$url")
    b_ms=$(cat "$TMP/bb_cpu")
    w=$(wrk_rate "$url" -H 'Connection: close')
    printf '%-5s cmon check  %9.1f/s  %7.3f ms CPU/check  (%s checks)\n' "$scheme" "$c" "$c_ms" "$n"
    printf '%-5s http.c only %9.1f/s  %7.3f ms CPU/check  (bench/http_driver.c, no engine)\n' \
        "$scheme" "$d" "$d_ms"
    printf '%-5s blackbox    %9.1f/s  %7.3f ms CPU/check  (exporter process, all cores)\n' \
        "$scheme" "$b" "$b_ms"
    printf '%-5s wrk         %9.1f/s  (Connection: close; raw client ceiling)\n' "$scheme" "$w"
    printf '%-5s ratios: cmon/blackbox checks/s %s (goal >= 3), blackbox/cmon CPU per check %s, cmon/wrk %s\n' \
        "$scheme" "$(ratio "$c" "$b")" "$(ratio "$b_ms" "$c_ms")" "$(ratio "$c" "$w")"
done
d=$(cmon_rate "https://127.0.0.1:$HTTPS_CRL/" "$HTTPS_CRL")
printf '%-5s http.c only %9.1f/s  %7.3f ms CPU/check  (a certificate naming a CRL, the CRL cached)\n' \
    "https" "$d" "$(cat "$TMP/cmon_cpu")"
