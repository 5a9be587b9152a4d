#!/usr/bin/env bash
# test_package.sh: the Debian package as a user meets it.  `make deb`'s script
# builds cmon_VERSION_ARCH.deb from this build; `apt-get install ./...deb`
# installs it on this machine (the binary, the man page, the units, the
# system user, the 0700 data directory, CAP_NET_RAW); the units' own
# ExecStart lines run with their environment files -- the server as the
# package's user, the agent (set up by scripts/install-agent.sh) as an
# unprivileged user, both in a network namespace with only loopback -- and the
# agent registers with the server.  Then `apt-get purge` removes it all.
# Without systemd as PID 1 (CI containers) the ExecStart lines are run the way
# systemd would run them: EnvironmentFile read as root, then the unit's user.
# Skips (77): not root, no dpkg/apt, a cmon package or /usr/bin/cmon that is
# not ours already installed, or a sanitizer build (its binary needs libasan).
set -euo pipefail
CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?}
BUILD=${CMON_BUILD_DIR:-$(dirname "$CMON")}
NS_PREFIX=pk
. "$SRC/tests/integration/lib/netns.sh"
ns_require
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || skip "dpkg-deb and apt-get are needed"
command -v runuser >/dev/null && command -v curl >/dev/null && command -v jq >/dev/null ||
    skip "runuser, curl and jq are needed"
ldd "$CMON" | grep -c libasan >/dev/null && skip "a sanitizer build: the package test runs on the release build"
dpkg-query -W -f='${db:Status-Status}' cmon 2>/dev/null | grep -q installed &&
    skip "a cmon package is installed on this machine already; not touching it"
[ -e /usr/bin/cmon ] && skip "/usr/bin/cmon exists and is not from a cmon package; not touching it"

installed=no
purge() {
    [ $installed = yes ] || return 0
    for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cmon >/dev/null 2>&1 || true
    rm -rf /var/lib/cmon-agent
    installed=no
}
trap 'purge; ns_cleanup' EXIT

# ---- build and install ----
deb=$("$SRC/scripts/build-deb.sh" "$BUILD" "$NS_TMP/dist") || fail "build-deb.sh"
[ -f "$deb" ] || fail "no package: $deb"
control=$(dpkg-deb -f "$deb" Depends)
grep -q 'libuv1.*adduser' <<<"$control" || fail "Depends: $control"
installed=yes
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$NS_TMP/apt.out" 2>&1 ||
    fail "apt-get install: $(tail -5 "$NS_TMP/apt.out")"
[[ "$(/usr/bin/cmon version)" == "cmon "* ]] || fail "installed cmon does not run"
[ -f /usr/share/man/man1/cmon.1.gz ] || fail "no man page"
for u in cmon-server cmon-agent; do
    grep -q "^ExecStart=/usr/bin/cmon " "/usr/lib/systemd/system/$u.service" || fail "$u.service ExecStart"
done
getent passwd cmon >/dev/null || fail "no system user cmon"
[ "$(stat -c '%U %a' /var/lib/cmon)" = "cmon 700" ] || fail "/var/lib/cmon: $(stat -c '%U %a' /var/lib/cmon)"
[ "$(stat -c '%a' /etc/cmon/agent.env)" = 600 ] || fail "agent.env is not 0600"
if command -v getcap >/dev/null; then
    [[ "$(getcap /usr/bin/cmon)" == *cap_net_raw* ]] || fail "no cap_net_raw on /usr/bin/cmon: $(getcap /usr/bin/cmon)"
fi
echo "ok: installed (binary, man page, units, user, data directory, capability)"

# ---- run the units' ExecStart lines ----
ns_add host
exec_start() { sed -n 's/^ExecStart=//p' "/usr/lib/systemd/system/$1.service"; }
umask_of() { sed -n 's/^UMask=//p' "/usr/lib/systemd/system/$1.service"; }
port=$((20000 + $$ % 20000))
# as a user would: edit the settings file, then start the unit
sed -i "s/^CMON_LISTEN=.*/CMON_LISTEN=127.0.0.1:$port/" /etc/cmon/server.env
ns_bg host bash -c "umask $(umask_of cmon-server); set -a; . /etc/cmon/server.env; set +a;
    exec runuser -u cmon -- $(exec_start cmon-server)" \
    >"$NS_TMP/server.log" 2>&1
B=http://127.0.0.1:$port
for _ in $(seq 150); do
    ns_in host curl -sf "$B/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
ns_in host curl -sf "$B/healthz" >/dev/null || fail "the server unit did not start: $(tail -5 "$NS_TMP/server.log")"
[ "$(stat -c '%U %a' /var/lib/cmon/cmon.db)" = "cmon 600" ] || fail "cmon.db: $(stat -c '%U %a' /var/lib/cmon/cmon.db)"

token() { runuser -u cmon -- /usr/bin/cmon token create --role "$1" --store sqlite:/var/lib/cmon/cmon.db --json | jq -r .token; }
key=$(token agent)
admin=$(token admin)
[ -n "$key" ] && [ -n "$admin" ] || fail "token create as the cmon user"
"$SRC/scripts/install-agent.sh" --server "$B" --key "$key" --name pkg-agent --no-start >"$NS_TMP/ia.out" ||
    fail "install-agent.sh: $(cat "$NS_TMP/ia.out")"
grep -q "^CMON_AGENT_KEY=$key$" /etc/cmon/agent.env || fail "agent.env has no key"
[ "$(stat -c '%a' /etc/cmon/agent.env)" = 600 ] || fail "agent.env is not 0600 after install-agent.sh"
# DynamicUser + StateDirectory: an unprivileged user owning /var/lib/cmon-agent
install -d -o nobody -g nogroup -m 0700 /var/lib/cmon-agent
ns_bg host bash -c "umask $(umask_of cmon-agent); set -a; . /etc/cmon/agent.env;
    STATE_DIRECTORY=/var/lib/cmon-agent; set +a; exec runuser -u nobody -- $(exec_start cmon-agent)" >"$NS_TMP/agent.log" 2>&1
state=
for _ in $(seq 150); do
    state=$(ns_in host curl -sf -H "Authorization: Bearer $admin" "$B/api/v1/agents" |
        jq -r '.items[] | select(.name == "pkg-agent") | .state' 2>/dev/null || true)
    [ "$state" = running ] && break
    sleep 0.2
done
[ "$state" = running ] || fail "the agent did not register: $(tail -5 "$NS_TMP/agent.log")"
[ -f /var/lib/cmon-agent/agent.json ] || fail "the agent kept no token in its state directory"
echo "ok: the units' commands run; the agent registered with the server"

# ---- remove ----
for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${NS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
NS_PIDS=()
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cmon >"$NS_TMP/apt.out" 2>&1 ||
    fail "apt-get purge: $(tail -5 "$NS_TMP/apt.out")"
installed=no
[ ! -e /usr/bin/cmon ] || fail "/usr/bin/cmon left behind"
[ ! -e /usr/lib/systemd/system/cmon-server.service ] || fail "unit left behind"
[ ! -e /var/lib/cmon ] || fail "/var/lib/cmon left behind"
[ ! -e /etc/cmon ] || fail "/etc/cmon left behind: $(ls -la /etc/cmon)"
getent passwd cmon >/dev/null && fail "user cmon left behind"
echo "PASS: the package installs, runs its units and purges cleanly"
