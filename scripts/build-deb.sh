#!/usr/bin/env bash
# build-deb.sh BUILD_DIR OUT_DIR: the cmon Debian package from a configured,
# built tree -- `cmake --install` into a staging root with prefix /usr, the
# settings files of the units (/etc/cmon, conffiles), the maintainer scripts
# of packaging/deb/ (system user, data directory, CAP_NET_RAW), and Depends
# worked out from the libraries the binary links (ldd + dpkg -S), so the
# package installs with `apt install ./cmon_VERSION_ARCH.deb`.
set -euo pipefail
build=${1:?usage: build-deb.sh BUILD_DIR OUT_DIR}
out=${2:?usage: build-deb.sh BUILD_DIR OUT_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
cmon=$build/cmon
[ -x "$cmon" ] || { echo "build-deb: no $cmon: build first (make build)" >&2; exit 1; }
version=$("$cmon" version | awk 'NR == 1 { print $2 }')
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The install tree for /usr (the units then name /usr/bin/cmon).
chmod 0755 "$stage"
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
gzip -9n "$stage/usr/share/man/man1/cmon.1"
install -D -m 0644 "$src/packaging/deb/server.env" "$stage/etc/cmon/server.env"
install -D -m 0600 "$src/packaging/deb/agent.env" "$stage/etc/cmon/agent.env"
install -D -m 0644 "$src/README.md" "$stage/usr/share/doc/cmon/README.md"

# Depends: the package of every shared library the binary itself needs
# (NEEDED entries; their own dependencies are their packages' business).
needed=$(readelf -d "$cmon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
depends=$(for lib in $needed; do
    path=$(ldd "$cmon" | awk -v l="$lib" '$1 == l { print $3 }')
    [ -n "$path" ] || continue
    dpkg -S "$(readlink -f "$path")" 2>/dev/null || dpkg -S "$path" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
[ -n "$depends" ] || { echo "build-deb: could not work out the library packages" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: cmon
Version: $version
Architecture: $arch
Maintainer: cmon developers <cmon@localhost>
Section: net
Priority: optional
Depends: $depends, adduser, libcap2-bin
Installed-Size: $(du -sk "$stage" | cut -f1)
Description: self-hosted network connection monitor
 cmon checks, from your own machines, whether your services are reachable
 and fast: agents run HTTP(S), TCP and ICMP checks and traceroutes, a server
 stores the results, decides each test's state, alerts, and serves a REST
 API, Prometheus metrics and a dashboard.  This package holds the cmon
 binary, its manual page and the cmon-server and cmon-agent systemd units
 (configured in /etc/cmon/).
CONTROL
printf '/etc/cmon/server.env\n/etc/cmon/agent.env\n' >"$stage/DEBIAN/conffiles"
install -m 0755 "$src/packaging/deb/postinst" "$src/packaging/deb/prerm" \
    "$src/packaging/deb/postrm" "$stage/DEBIAN/"

mkdir -p "$out"
deb=$out/cmon_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
