#!/usr/bin/env bash
# Installs the Debian 12 packages cmon needs to build, test and benchmark.
# Fast when everything is present (one dpkg-query call); needs root to install.
set -euo pipefail

build_pkgs=(cmake ninja-build pkg-config gcc clang libclang-rt-14-dev
    libuv1-dev libcurl4-openssl-dev libc-ares-dev libmicrohttpd-dev
    libjansson-dev libsqlite3-dev libpq-dev libssl-dev libcmocka-dev zlib1g-dev libyaml-dev)
# Real peers the tests and benchmarks start: servers, DNS, firewall, tools.
test_pkgs=(iproute2 iputils-ping nftables nginx-light dnsmasq-base openssl curl jq
    fping wrk prometheus prometheus-blackbox-exporter prometheus-alertmanager procps psmisc
    python3 mtr-tiny tcpdump chromium nodejs postgresql-15 socat)

want=("${build_pkgs[@]}")
case "${1:-}" in
    --test|--all) want+=("${test_pkgs[@]}") ;;
    --build|"") ;;
    *) echo "usage: $0 [--build|--test|--all]" >&2; exit 2 ;;
esac

missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)
for p in "${want[@]}"; do
    grep -qx "$p installed" <<<"$installed" || missing+=("$p")
done
# npm (the dashboard's browser test): Debian's own package, but bundled in
# other builds of nodejs (NodeSource), where the npm package cannot install.
case " ${want[*]} " in *" nodejs "*) command -v npm >/dev/null || missing+=(npm) ;; esac
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "cmon: missing Debian packages: ${missing[*]}" >&2
    echo "cmon: install them as root with:" >&2
    echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "cmon: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's postinst may start a system nginx on :80; tests start their own.
if command -v service >/dev/null && pgrep -x nginx >/dev/null 2>&1; then
    service nginx stop >/dev/null 2>&1 || true
fi
