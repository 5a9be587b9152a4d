# agents.sh: the distributed-agent topology for tests/integration/test_agent*.sh
# (sourced after netns.sh).  A router namespace "hub" joins:
#   dst  198.18.2.2  the seed example's destinations: nginx on :80 answering
#                    http://web.example.test/health and a TCP listener on :5432
#   srv  198.18.3.2  `cmon server` with TLS on :8443 (certificate for 198.18.3.2)
#   a/b/c 198.18.1{1,2,3}.2  one `cmon agent` each (agent-a, agent-b, agent-c)
# Routes cover 198.18.0.0/16 only: no namespace has a default route.
# Helpers: agents_require [TOOL...] (skip without root/netns or the tools),
# agents_topology, agents_tls DIR, server_start, api METHOD PATH [BODY]
# (as admin, body in $NS_TMP/body, status echoed), agent_start X [args],
# agent_kill X [SIGNAL], wait_for SECONDS DESCRIPTION CMD...

# netns.sh's cleanup must run whole even though these tests use set -e (a
# kill of a process already gone would end the trap and leak namespaces).
trap 'set +e; ns_cleanup' EXIT

SRV_ADDR=198.18.3.2
SRV_URL=https://$SRV_ADDR:8443
AGENT_PIDS=()

agents_require() {
    local tool
    for tool in curl jq nginx openssl "$@"; do
        command -v "$tool" >/dev/null || skip "$tool is not installed"
    done
    ns_require
}

agents_topology() {
    local x i
    ns_add hub; ns_forward hub
    ns_add dst; ns_link hub dst 2; ns_route dst 198.18.0.0/16 198.18.2.1
    ns_add srv; ns_link hub srv 3; ns_route srv 198.18.0.0/16 198.18.3.1
    i=11
    for x in a b c; do
        ns_add "$x"; ns_link hub "$x" $i; ns_route "$x" 198.18.0.0/16 "198.18.$i.1"
        mkdir -p "/etc/netns/$(ns "$x")"
        echo "198.18.2.2 web.example.test" >"/etc/netns/$(ns "$x")/hosts"
        i=$((i + 1))
    done
    mkdir -p "$NS_TMP/www"
    echo ok >"$NS_TMP/www/health"
    cat >"$NS_TMP/nginx.conf" <<NGX
daemon off; pid $NS_TMP/nginx.pid; error_log $NS_TMP/nginx.err;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $NS_TMP/cbt;
  server { listen 198.18.2.2:80; root $NS_TMP/www; location / { return 200 "ok\n"; } }
  server { listen 198.18.2.2:5432; return 200 "db\n"; } }
NGX
    ns_bg dst nginx -p "$NS_TMP" -c "$NS_TMP/nginx.conf"
    wait_port dst 198.18.2.2 80
}

# agents_tls DIR CN_ADDR: DIR/ca.pem, DIR/cert.pem, DIR/key.pem (IP SAN).
agents_tls() {
    local d=$1 addr=$2
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
        -subj "/CN=cmon test CA $RANDOM" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/req.pem" \
        -subj "/CN=$addr" 2>/dev/null
    printf 'subjectAltName=IP:%s\n' "$addr" >"$d/ext"
    openssl x509 -req -in "$d/req.pem" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -out "$d/cert.pem" -days 2 -extfile "$d/ext" 2>/dev/null
}

# server_start [extra args]: (re)start the server in srv; sets SERVER_PID.
server_start() {
    ns_bg srv "$CMON" server --listen "$SRV_ADDR:8443" --store "sqlite:$NS_TMP/data/cmon.db" \
        --tls-cert "$NS_TMP/tls/cert.pem" --tls-key "$NS_TMP/tls/key.pem" "$@" \
        >>"$NS_TMP/server.log" 2>&1
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
        ns_in srv curl -sf --cacert "$NS_TMP/tls/ca.pem" "$SRV_URL/healthz" >/dev/null 2>&1 &&
            return 0
        sleep 0.1
    done
    fail "the server did not start: $(tail -5 "$NS_TMP/server.log")"
}

# api METHOD PATH [BODY] [TOKEN]: prints the HTTP status; body in $NS_TMP/body.
api() {
    local args=()
    [ -n "${3:-}" ] && args+=(--data-binary "$3" -H 'Content-Type: application/json')
    ns_in srv curl -s -o "$NS_TMP/body" -w '%{http_code}' --cacert "$NS_TMP/tls/ca.pem" \
        -X "$1" -H "Authorization: Bearer ${4:-$ADMIN}" "${args[@]}" "$SRV_URL$2"
}

# jqb FILTER: a jq value of the last body.
jqb() { jq -c "$1" "$NS_TMP/body"; }

# agent_start X [args]: agent-X in namespace X, log in $NS_TMP/agent-X.log.
agent_start() {
    local x=$1; shift
    ns_bg "$x" "$CMON" agent --server "${SERVERS:-$SRV_URL}" --key "$KEY" --name "agent-$x" \
        --state-dir "$NS_TMP/state-$x" --ca "$NS_TMP/tls/ca.pem" --log-level debug "$@" \
        >>"$NS_TMP/agent-$x.log" 2>&1
    eval "AGENT_PID_$x=$!"
}

# wait_for SECONDS WHAT CMD...: poll CMD every second.
wait_for() {
    local secs=$1 what=$2 i; shift 2
    for i in $(seq "$secs"); do
        "$@" && return 0
        sleep 1
    done
    fail "waited ${secs}s for: $what"
}

# Tests by state: "agent-a Pass" lines for the seed monitor.
tests_table() {
    [ "$(api GET '/api/v1/tests?limit=1000')" = 200 ] || return 1
    jq -r '.items[] | "\(.source) \(.destination) \(.testConfiguration) \(.state) \(.diagnostic) \(.lastResultAt != null)"' \
        "$NS_TMP/body" | sort
}

# agents_many_tcp: the seed monitor replaced by "many": 40 TCP tests from
# agent-a (20 ports to dst and to srv) every 30 s, no traceroute.
agents_many_tcp() {
    local configs p mon
    configs=$(for p in $(seq 5400 5419); do
        printf '{"name":"t%s","protocol":"Tcp","testFrequencySec":30,"tcpConfiguration":{"port":%s,"disableTraceRoute":true}},' "$p" "$p"
    done)
    mon="{\"properties\":{\"endpoints\":[{\"name\":\"a\",\"type\":\"Agent\",\"address\":\"agent-a\"},
 {\"name\":\"dst\",\"address\":\"198.18.2.2\"},{\"name\":\"srv\",\"address\":\"198.18.3.2\"}],\"testConfigurations\":[${configs%,}],
 \"testGroups\":[{\"name\":\"g\",\"sources\":[\"a\"],\"destinations\":[\"dst\",\"srv\"],
 \"testConfigurations\":[$(seq -f '"t%g"' -s, 5400 5419)]}]}}"
    [ "$(api DELETE /api/v1/connectionMonitors/seed)" = 204 ] || fail "seed not deleted"
    [ "$(api PUT /api/v1/connectionMonitors/many "$mon")" = 201 ] || fail "monitor: $(cat "$NS_TMP/body")"
}

# acked_rounds LOG: the rounds in the batches an agent's debug log shows
# spooled and then acked.
acked_rounds() {
    awk '
    /msg="batch spooled"/ { s = r = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^seq=/) s = substr($i, 5); if ($i ~ /^results=/) r = substr($i, 9) } n[s] = r }
    /msg="batch acked"/ { for (i = 1; i <= NF; i++) if ($i ~ /^seq=/) total += n[substr($i, 5)] }
    END { print total + 0 }' "$1"
}

# bootstrap: TLS material, admin token, workspace key, the seed monitor.
agents_bootstrap() { # [SERVER_ARG...]
    agents_tls "$NS_TMP/tls" "$SRV_ADDR"
    ADMIN=$("$CMON" token create --role admin --name root --store "sqlite:$NS_TMP/data/cmon.db" 2>/dev/null)
    KEY=$("$CMON" token create --role agent --store "sqlite:$NS_TMP/data/cmon.db" 2>/dev/null)
    server_start "$@"
    [ "$(api PUT /api/v1/connectionMonitors/seed "$(cat "$CMON_SOURCE_DIR/docs/examples/seed.json")")" = 201 ] ||
        fail "seed monitor not applied: $(cat "$NS_TMP/body")"
}
