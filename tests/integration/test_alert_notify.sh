#!/usr/bin/env bash
# test_alert_notify.sh: the alert senders against real receivers, inside a
# network namespace of its own (loopback only): a real prometheus-alertmanager
# shows the fired alert through its own API and drops it after the resolve;
# a webhook receiver answers 500 once, the retry arrives and both tries carry
# a valid HMAC-SHA256 signature; an exec action gets the alert on stdin and in
# CMON_ALERT_* variables, and a command that outlives its timeout is killed.
set -u
: "${CMON_SOURCE_DIR:?}" "${CMON_BUILD_DIR:?}"
NS_PREFIX=cma
. "$CMON_SOURCE_DIR/tests/integration/lib/netns.sh"

send="$CMON_BUILD_DIR/alert_send"
[ -x "$send" ] || fail "$send is not built"
command -v prometheus-alertmanager >/dev/null ||
    skip "prometheus-alertmanager is not installed (scripts/install-deps.sh --test)"
for t in python3 jq curl; do command -v $t >/dev/null || skip "$t is not installed"; done
ns_require
ns_add a
d=$NS_TMP

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
ns_bg a python3 "$CMON_SOURCE_DIR/tests/integration/lib/webhook_receiver.py" --port 8099 \
    --secret 's3cret!' --fail-first 1 --out "$d/hooks.jsonl"
wait_port a 127.0.0.1 9093
wait_port a 127.0.0.1 8099
for i in $(seq 1 50); do
    ns_in a curl -fsS http://127.0.0.1:9093/-/ready >/dev/null 2>&1 && break
    sleep 0.1
done
am_alerts() { ns_in a curl -fsS "http://127.0.0.1:9093/api/v2/alerts$1"; }

cat >"$d/rule.json" <<'JSON'
{"name": "loss", "metric": "ChecksFailedPercent", "operator": "GreaterThan", "threshold": 10,
 "dimensions": {"monitor": "web", "destination": "*"}, "severity": 1, "actionGroups": ["ops"]}
JSON
cat >"$d/group.json" <<JSON
{"name": "ops",
 "webhooks": [{"url": "http://127.0.0.1:8099/hook", "secret": "s3cret!"}],
 "alertmanagers": [{"url": "http://127.0.0.1:9093/"}],
 "exec": [{"command": ["/bin/sh", "-c",
           "cat > $d/exec-\$CMON_ALERT_EVENT.json; env | grep ^CMON_ALERT_ | sort > $d/exec-\$CMON_ALERT_EVENT.env"],
           "timeoutSec": 10}]}
JSON
run_send() { ns_in a "$send" --rule "$d/rule.json" --group "$1" --state "$2" --value "$3" \
                 --backoff-ms 200 --tries "${4:-5}" 2>"$d/send.log"; }

# --- fire: ChecksFailedPercent 50 > 10
out=$(run_send "$d/group.json" "$d/state.json" 50) || { cat "$d/send.log"; fail "fire: exit $?: $out"; }
assert_eq "$(jq -c .transitions <<<"$out")" '[{"event":"firing","key":"loss{monitor=\"web\",destination=\"shop\"}"}]' "fire transitions"
assert_eq "$(jq -c '[.sent,.retried,.failed,.dropped]' <<<"$out")" '[3,1,0,0]' "fire sent/retried/failed/dropped"
grep -q 'level=warn .*msg="alert notification failed, will retry" action=webhook target=http://127.0.0.1:8099/hook alert="loss{monitor=\\"web\\",destination=\\"shop\\"}" try=1 retry_in_ms=200 error="HTTP status 500"' "$d/send.log" ||
    fail "the 500 was not logged as a retry: $(cat "$d/send.log")"

# webhook: a 500, then the retry with the same signed body
assert_eq "$(wc -l <"$d/hooks.jsonl")" 2 "webhook requests after fire"
assert_eq "$(jq -sc '[.[] | [.try, .status, .signatureOk, .path, .contentType]]' "$d/hooks.jsonl")" \
    '[[1,500,true,"/hook","application/json"],[2,200,true,"/hook","application/json"]]' "webhook tries"
assert_eq "$(jq -s '.[0].body == .[1].body' "$d/hooks.jsonl")" true "retry resends the same body"
assert_eq "$(jq -sc '.[1].body | [.event, .actionGroup, .alert.state, .alert.labels.destination, .alert.value, .alert.severity]' "$d/hooks.jsonl")" \
    '["firing","ops","firing","shop",50,1]' "webhook body"
assert_match "$(jq -r '.[1].signature' -s "$d/hooks.jsonl")" '^sha256=[0-9a-f]{64}$' "signature header"

# Alertmanager: the alert, through its own API
am=$(am_alerts "") || fail "GET /api/v2/alerts"
assert_eq "$(jq length <<<"$am")" 1 "alertmanager alerts after fire"
assert_eq "$(jq -c '.[0] | [.labels.alertname, .labels.monitor, .labels.destination, .labels.severity, .status.state, .annotations.value, .generatorURL]' <<<"$am")" \
    '["loss","web","shop","error","active","50","http://127.0.0.1:8080/alerts"]' "alertmanager alert"
assert_eq "$(jq -r '.[0].annotations.summary' <<<"$am")" "ChecksFailedPercent Average 50 > 10 (window 300s)" "summary"

# exec: JSON on stdin, CMON_ALERT_* in the environment
assert_eq "$(jq -c '[.event, .alert.key]' "$d/exec-firing.json")" '["firing","loss{monitor=\"web\",destination=\"shop\"}"]' "exec stdin"
grep -qx 'CMON_ALERT_LABEL_DESTINATION=shop' "$d/exec-firing.env" || fail "exec env: $(cat "$d/exec-firing.env")"
grep -qx 'CMON_ALERT_SEVERITY=1' "$d/exec-firing.env" || fail "exec env severity"
grep -qx 'CMON_ALERT_ENDS_AT=' "$d/exec-firing.env" || fail "exec env ends"

# --- still breaching: deduplicated; only the Alertmanager refresh is sent
out=$(run_send "$d/group.json" "$d/state.json" 60) || fail "second evaluation: $out"
assert_eq "$(jq -c '[.transitions, .sent]' <<<"$out")" '[[],1]' "no re-notification while firing"
assert_eq "$(wc -l <"$d/hooks.jsonl")" 2 "webhook requests while firing"
[ -e "$d/exec-firing.json" ] && [ ! -e "$d/exec-resolved.json" ] || fail "exec ran again while firing"
am=$(am_alerts "") || fail "GET /api/v2/alerts"
assert_eq "$(jq -c '[length, .[0].status.state, .[0].annotations.value]' <<<"$am")" '[1,"active","50"]' "alertmanager alert after refresh"

# --- resolve: 0 > 10 is false
out=$(run_send "$d/group.json" "$d/state.json" 0) || { cat "$d/send.log"; fail "resolve: $out"; }
assert_eq "$(jq -c '[.transitions[0].event, .sent, .retried, .failed]' <<<"$out")" '["resolved",3,0,0]' "resolve"
assert_eq "$(jq -s 'length' "$d/hooks.jsonl")" 3 "webhook requests after resolve"
assert_eq "$(jq -sc '.[2] | [.status, .signatureOk, .body.event, .body.alert.state, (.body.alert.endsAt != null)]' "$d/hooks.jsonl")" \
    '[200,true,"resolved","resolved",true]' "resolved webhook"
am=$(am_alerts "") || fail "GET /api/v2/alerts"
assert_eq "$(jq length <<<"$am")" 0 "alertmanager still lists the resolved alert: $am"
grep -qx 'CMON_ALERT_EVENT=resolved' "$d/exec-resolved.env" || fail "exec resolved env"
assert_match "$(grep '^CMON_ALERT_ENDS_AT=' "$d/exec-resolved.env")" '^CMON_ALERT_ENDS_AT=20[0-9]{2}-' "exec ends"

# --- an exec that outlives its timeout is killed, retried, then given up
# a duration no other process on this machine sleeps, so pgrep finds only ours
slow="60.$$"
cat >"$d/slow.json" <<JSON
{"name": "ops", "exec": [{"command": ["/bin/sh", "-c", "sleep $slow"], "timeoutSec": 1}]}
JSON
out=$(run_send "$d/slow.json" "$d/state2.json" 50 2); rc=$?
assert_eq "$rc" 1 "slow exec exit"
assert_eq "$(jq -c '[.sent, .retried, .failed]' <<<"$out")" '[0,1,1]' "slow exec"
grep -q 'level=error .*msg="alert notification failed, giving up" action=exec .*tries=2 error="/bin/sh killed after 1 s"' "$d/send.log" ||
    fail "timeout not logged: $(cat "$d/send.log")"
for i in 1 2 3 4 5; do pgrep -f "sleep $slow" >/dev/null || break; sleep 0.2; done
pgrep -f "sleep $slow" >/dev/null && fail "the timed-out command is still running"

echo "PASS: alertmanager fire/resolve, signed webhook with retry, exec env/stdin/timeout"
