# netns.sh: test hosts in network namespaces, sourced by tests/integration/*.sh.
# Every namespace is named "$NS_PREFIX<pid>-<name>" so parallel runs never
# collide, and all of them are removed on exit (also when a test fails), with the
# processes started inside.  Addresses: 198.18.0.0/15 (RFC 2544, reserved for
# benchmarking) and fd00:c30::/32 (unique local), only ever inside these
# namespaces; probing namespaces get no default route, so a wrong address
# cannot leave the machine.
#
#   NS_PREFIX=cmt; . "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"
#   ns_require                      # skip (exit 77) when netns/veth are missing
#   ns_add client; ns_add server    # -> $(ns client) is the real name
#   ns_link client server 1         # veth pair, subnet index 1:
#                                   # client 198.18.1.1/24 fd00:c30:1::1/64
#                                   # server 198.18.1.2/24 fd00:c30:1::2/64
#   ns_in client cmd ...            # run inside a namespace
#   ns_bg server cmd ...            # start in background, killed at cleanup
set -u
: "${NS_PREFIX:=cmt}"
NS_TAG="${NS_PREFIX}$$"
NS_LIST=()
NS_PIDS=()
NS_TMP=$(mktemp -d "/tmp/${NS_TAG}.XXXXXX")

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

ns() { echo "${NS_TAG}-$1"; }

ns_cleanup() {
    local p n
    for p in "${NS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${NS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for n in "${NS_LIST[@]}"; do
        # kill anything still running inside, then drop the namespace
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$n" 2>/dev/null
        rm -rf "/etc/netns/$n"
    done
    rm -rf "$NS_TMP"
}
trap ns_cleanup EXIT
trap 'exit 130' INT TERM

ns_require() {
    [ "$(id -u)" -eq 0 ] || skip "network namespaces need root (run make test as root)"
    command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
    local probe="${NS_TAG}-probe"
    ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace (no CONFIG_NET_NS?)"
    if ! ip -n "$probe" link add vp0 type veth peer name vp1 2>/dev/null; then
        ip netns del "$probe"; skip "veth interfaces are not available"
    fi
    ip netns del "$probe"
}

ns_add() {
    local n; n=$(ns "$1")
    ip netns add "$n" || fail "ip netns add $n"
    NS_LIST+=("$n")
    ip -n "$n" link set lo up
    # ICMP datagram sockets for every group, as on a normal agent host
    ip netns exec "$n" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
    # no duplicate address detection: link-local addresses (and so IPv6
    # neighbour discovery) work the moment a link is up, not ~2 s later
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# ns_link A B IDX: veth between A and B on subnet IDX (1..254).
ns_link() {
    local a b i; a=$(ns "$1"); b=$(ns "$2"); i=$3
    local ia="v${i}a" ib="v${i}b"
    ip link add "${NS_TAG}x$i" type veth peer name "${NS_TAG}y$i" || fail "veth"
    ip link set "${NS_TAG}x$i" netns "$a" name "$ia"
    ip link set "${NS_TAG}y$i" netns "$b" name "$ib"
    ip -n "$a" addr add "198.18.$i.1/24" dev "$ia"
    ip -n "$b" addr add "198.18.$i.2/24" dev "$ib"
    ip -n "$a" addr add "fd00:c30:$i::1/64" dev "$ia" nodad
    ip -n "$b" addr add "fd00:c30:$i::2/64" dev "$ib" nodad
    ip -n "$a" link set "$ia" up
    ip -n "$b" link set "$ib" up
}

# ns_pin_neighbours A B IDX [HOSTNUM...]: permanent neighbour entries on
# link IDX (A is .1/::1, B is .2/::2; HOSTNUMs are more addresses of B, e.g.
# 3 for 198.18.IDX.3 and fd00:c30:IDX::3).  On a starved machine (CI's 2
# shared cores) a neighbour probe can go unanswered for its 1 s timeout, and
# the kernel then answers the sender with its own host-unreachable: pinned,
# a test sees only what it set up.
ns_pin_neighbours() {
    local a b i; a=$(ns "$1"); b=$(ns "$2"); i=$3; shift 3
    local ma mb h
    ma=$(ip -n "$a" -br link show "v${i}a" | awk '{print $3}')
    mb=$(ip -n "$b" -br link show "v${i}b" | awk '{print $3}')
    ip -n "$b" neigh replace "198.18.$i.1" lladdr "$ma" dev "v${i}b" nud permanent
    ip -n "$b" neigh replace "fd00:c30:$i::1" lladdr "$ma" dev "v${i}b" nud permanent
    for h in 2 "$@"; do
        ip -n "$a" neigh replace "198.18.$i.$h" lladdr "$mb" dev "v${i}a" nud permanent
        ip -n "$a" neigh replace "fd00:c30:$i::$h" lladdr "$mb" dev "v${i}a" nud permanent
    done
}

# ns_route NAME DEST VIA: a static route (v4 or v6 by the address form).
ns_route() {
    ip -n "$(ns "$1")" route add "$2" via "$3" || fail "route $2 via $3 in $1"
}

# ns_forward NAME: make a namespace a router.
ns_forward() {
    local n; n=$(ns "$1")
    ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# ns_resolv NAME SERVER: /etc/resolv.conf as seen by `ns_in NAME`.
ns_resolv() {
    local n; n=$(ns "$1")
    mkdir -p "/etc/netns/$n"
    printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$2" >"/etc/netns/$n/resolv.conf"
}

ns_in() { local n; n=$(ns "$1"); shift; ip netns exec "$n" "$@"; }

ns_bg() {
    local n; n=$(ns "$1"); shift
    ip netns exec "$n" "$@" &
    NS_PIDS+=($!)
}

# wait_port NS ADDR PORT: wait up to 5 s until a TCP listener answers.
wait_port() {
    local i
    for i in $(seq 1 50); do
        ns_in "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "nothing listens on $2:$3 in $1"
}

# ns_cmon_run NS PORT ARGS...: `$CMON run ARGS...` in NS in the background
# (stdout and stderr to $NS_TMP/run.out and run.err, emptied first), waiting
# up to 30 s until it answers http://127.0.0.1:PORT/healthz and has printed
# its "serving" banner (the server listens before the monitor files are
# applied; the banner comes after them); its pid in NS_RUN_PID.
# ns_cmon_stop ends it and waits for it.
ns_cmon_run() {
    local n=$1 port=$2; shift 2
    : >"$NS_TMP/run.err"
    ns_bg "$n" "$CMON" run "$@" >"$NS_TMP/run.out" 2>"$NS_TMP/run.err"
    NS_RUN_PID=${NS_PIDS[-1]}
    for _ in $(seq 150); do
        grep -q "^cmon run: serving " "$NS_TMP/run.out" &&
            ns_in "$n" curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
        kill -0 "$NS_RUN_PID" 2>/dev/null || break
        sleep 0.2
    done
    fail "cmon run did not start: $(tail -5 "$NS_TMP/run.err")"
}
ns_cmon_stop() {
    kill "$NS_RUN_PID"
    wait "$NS_RUN_PID" 2>/dev/null || true
    local p keep=()
    for p in "${NS_PIDS[@]}"; do [ "$p" = "$NS_RUN_PID" ] || keep+=("$p"); done
    NS_PIDS=("${keep[@]}")
}

# Assertions that say what they expected.
assert_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
assert_match() { [[ "$1" =~ $2 ]] || fail "${3:-value}: '$1' does not match /$2/"; }
