#!/usr/bin/env bash
# test_alerts_alertmanager.sh: the issue's end-to-end alert test.  `cmon run`
# (server + embedded agent) and a real prometheus-alertmanager run in
# namespace "a"; the destination 198.18.1.2 lives in namespace "b" behind a
# veth.  An alert rule (ChecksFailedPercent > 40 over 60 s, evaluated every
# 10 s) with an action group pointing at the Alertmanager; an nft rule in "b"
# drops the echo requests: the alert fires and shows in Alertmanager's own
# GET /api/v2/alerts and in cmon's /api/v1/alerts (and `cmon alerts list`);
# after the nft rule is removed it resolves in cmon and Alertmanager drops it
# (the resolve carries endsAt).  About 2-2.5 minutes: rounds are 30 s apart
# (the minimum testFrequencySec) and the failing round must leave the window.
set -u
: "${CMON:?}" "${CMON_SOURCE_DIR:?}"
NS_PREFIX=cmx
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"

command -v prometheus-alertmanager >/dev/null ||
    skip "prometheus-alertmanager is not installed (scripts/install-deps.sh --test)"
for t in nft jq curl; do command -v $t >/dev/null || skip "$t is not installed"; done
ns_require
ns_add a
ns_add b
ns_link a b 1
d=$NS_TMP
B=http://127.0.0.1:8080

dump() {
    echo "--- cmon run stderr (alert lines):" >&2
    grep -E 'alert|error' "$d/run.err" | tail -20 >&2
    echo "--- tests:" >&2
    ns_in a curl -s "$B/api/v1/tests" | jq -c '.items[] | [.state, .checksFailedPercent, .reason]' >&2
}
die() { dump; fail "$*"; }

cat >"$d/am.yml" <<'YML'
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
YML
mkdir "$d/am"
ns_bg a prometheus-alertmanager --config.file="$d/am.yml" --storage.path="$d/am" \
    --web.listen-address=127.0.0.1:9093 --cluster.listen-address= --log.level=warn
wait_port a 127.0.0.1 9093

cat >"$d/edge.json" <<'JSON'
{"name": "edge", "properties": {
  "endpoints": [{"name": "local", "type": "Agent", "address": "local"},
                {"name": "router", "type": "ExternalAddress", "address": "198.18.1.2"}],
  "testConfigurations": [{"name": "ping", "protocol": "Icmp", "testFrequencySec": 30,
                          "checksPerRound": 4, "timeoutMs": 500,
                          "icmpConfiguration": {"disableTraceRoute": true}}],
  "testGroups": [{"name": "wan", "sources": ["local"], "destinations": ["router"],
                  "testConfigurations": ["ping"]}]}}
JSON
ns_bg a "$CMON" run --data "$d/data" "$d/edge.json" >"$d/run.out" 2>"$d/run.err"
wait_port a 127.0.0.1 8080

cat >"$d/group.json" <<'JSON'
{"name": "pager", "alertmanagers": [{"url": "http://127.0.0.1:9093"}]}
JSON
cat >"$d/rule.json" <<'JSON'
{"name": "router-loss", "metric": "ChecksFailedPercent", "operator": "GreaterThan",
 "threshold": 40, "aggregation": "Average", "windowSizeSec": 60, "evaluationFrequencySec": 10,
 "dimensions": {"monitor": "edge", "destination": "*"}, "severity": 0,
 "actionGroups": ["pager"]}
JSON
ns_in a "$CMON" alerts group apply "$d/group.json" >/dev/null || die "group apply"
ns_in a "$CMON" alerts rule apply "$d/rule.json" >/dev/null || die "rule apply"

# wait_for SECONDS DESCRIPTION COMMAND...: poll every second until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2 i; shift 2
    for i in $(seq "$secs"); do "$@" && return 0; sleep 1; done
    die "timed out after ${secs}s waiting for $what"
}
test_state() { ns_in a curl -fsS "$B/api/v1/tests" | jq -r '.items[0].state'; }
is_pass() { [ "$(test_state)" = Pass ]; }
wait_for 45 "the first passing round" is_pass
echo "ok: the destination answers (Pass)"

ns_in b nft -f - <<'NFT' || fail "nft"
table inet cmx_drop {
  chain input { type filter hook input priority 0; icmp type echo-request drop; }
}
NFT
cmon_alerts() { ns_in a curl -fsS "$B/api/v1/alerts$1"; }
am_alerts() { ns_in a curl -fsS "http://127.0.0.1:9093/api/v2/alerts"; }
firing() { [ "$(cmon_alerts '?state=firing' | jq '.items | length')" = 1 ]; }
wait_for 60 "the alert to fire" firing
a=$(cmon_alerts '?state=firing')
assert_eq "$(jq -c '.items[0] | [.key, .rule, .labels.alertname, .labels.monitor, .labels.destination, .severity, .monitors]' <<<"$a")" \
    '["router-loss{monitor=\"edge\",destination=\"router\"}","router-loss","router-loss","edge","router",0,["edge"]]' "cmon alert"
assert_match "$(jq -r '.items[0].summary' <<<"$a")" '^ChecksFailedPercent Average [0-9.]+ > 40 \(window 60s\)$' "summary"
echo "ok: fired in cmon: $(jq -r '.items[0].summary' <<<"$a")"

am_has() { [ "$(am_alerts | jq 'map(select(.labels.alertname == "router-loss")) | length')" = 1 ]; }
wait_for 15 "the alert in Alertmanager" am_has
am=$(am_alerts)
assert_eq "$(jq -c '.[0] | [.labels.alertname, .labels.monitor, .labels.destination, .labels.severity, .status.state]' <<<"$am")" \
    '["router-loss","edge","router","critical","active"]' "Alertmanager alert"
echo "ok: Alertmanager shows it: $(jq -c '.[0].labels' <<<"$am")"

out=$(ns_in a "$CMON" alerts list --state firing --monitor edge) || die "cmon alerts list"
grep -q '^firing  *0  .*router-loss{monitor="edge",destination="router"}' <<<"$out" || die "cmon alerts list: $out"
assert_eq "$(ns_in a "$CMON" alerts list --monitor other --json | jq '.items | length')" 0 "monitor filter"

ns_in b nft delete table inet cmx_drop || fail "nft delete"
resolved() { [ "$(cmon_alerts '?state=resolved' | jq '.items | length')" = 1 ]; }
wait_for 110 "the alert to resolve" resolved
r=$(cmon_alerts '?state=resolved&transitions=true')
assert_eq "$(jq -c '.items[0] | [.state, (.endsAt != null), [.transitions[].event]]' <<<"$r")" \
    '["resolved",true,["firing","resolved"]]' "resolved in cmon"
assert_eq "$(cmon_alerts '?state=firing' | jq '.items | length')" 0 "nothing firing"
am_gone() { [ "$(am_alerts | jq 'map(select(.labels.alertname == "router-loss")) | length')" = 0 ]; }
wait_for 15 "Alertmanager to drop the resolved alert" am_gone
echo "ok: resolved in cmon at $(jq -r '.items[0].endsAt' <<<"$r"); Alertmanager dropped it"
echo "PASS: nft-made failure fires an alert seen in Alertmanager and cmon; it resolves after"
