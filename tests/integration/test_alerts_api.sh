#!/usr/bin/env bash
# test_alerts_api.sh: the alert endpoints of a real `cmon server` on
# 127.0.0.1, driven with curl -- /api/v1/alertRules, /api/v1/actionGroups and
# /api/v1/alerts: every method, validation errors with the rule validator's
# line:col messages, 404/405/409, paging, roles (reader reads, admin writes),
# webhook secrets never echoed.  Then an alert through the server: rounds
# posted to the agent endpoint breach a rule, the server fires it to a webhook
# receiver started here that answers 500 first: the retry arrives, both tries
# signed (HMAC-SHA256); the alert is listed by state, rule and monitor, keeps
# firing across a server restart without a second notification, and
# resolves when its rule is disabled.  Traffic stays on 127.0.0.1.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 7) % 20000))
B=http://127.0.0.1:$PORT
HOOK_PID=
cleanup_extra() { [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null && wait "$HOOK_PID" 2>/dev/null; }

fail() { echo "FAIL: $*" >&2; echo "--- last body:" >&2; cat "$TMP/body" >&2 || true;
         echo "--- server log:" >&2; grep -E 'alert|error' "$TMP/server.err" | tail -20 >&2 || true; exit 1; }
pass() { echo "ok: $*"; }
. "$SRC/tests/integration/lib/api.sh"
api_init alerts-api curl jq python3
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" || fail "server exit $?"; SERVER_PID=; }

start_server --allow-exec-actions # the exec group below
# the receiver binds a free port itself and says which: a port derived
# from the PID can be taken by another test running beside this one
python3 "$SRC/tests/integration/lib/webhook_receiver.py" --port 0 --port-file "$TMP/hook.port" \
    --secret 'k3y!' --fail-first 1 --out "$TMP/hooks.jsonl" 2>"$TMP/hook.err" &
HOOK_PID=$!
for _ in $(seq 200); do [ -s "$TMP/hook.port" ] || ! kill -0 "$HOOK_PID" 2>/dev/null && break; sleep 0.1; done
HOOK_PORT=$(cat "$TMP/hook.port" 2>/dev/null) || fail "webhook receiver did not start: $(cat "$TMP/hook.err")"

# ---- action groups ----
GROUP="{\"name\":\"ops\",\"webhooks\":[{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"secret\":\"k3y!\"}]}"
req 201 PUT /api/v1/actionGroups/ops "$GROUP"
jqeq '[.name, .webhooks[0].secret, .alertmanagers, .exec]' '["ops","***",[],[]]'
grep -q 'k3y!' "$TMP/body" && fail "the secret was echoed"
req 200 PUT /api/v1/actionGroups/ops "$GROUP"
req 200 GET /api/v1/actionGroups/ops
jqeq '.webhooks[0] | [.url, .secret]' "[\"http://127.0.0.1:$HOOK_PORT/hook\",\"***\"]"
# what a reader got can be sent back: "***" keeps the stored secret
cp "$TMP/body" "$TMP/group-read.json"
req 200 PUT /api/v1/actionGroups/ops "@$TMP/group-read.json"
req 400 PUT /api/v1/actionGroups/other '{"webhooks":[{"url":"http://127.0.0.1:1/x","secret":"***"}]}'
jqeq '[.error.code, .error.field]' '["validation_failed","webhooks[0].secret"]'
req 201 PUT /api/v1/actionGroups/spare '{"exec":[{"command":["/bin/true"]}]}'
jqeq '[.name, .exec[0].command, .exec[0].timeoutSec]' '["spare",["/bin/true"],10]'
req 400 PUT /api/v1/actionGroups/bad '{
  "webhooks": [{"url": "ftp://x"}]}'
jqeq '[.error.code, .error.problems[0].line, .error.problems[0].path]' '["validation_failed",2,"webhooks[0].url"]'
req 400 PUT /api/v1/actionGroups/empty '{}'
jqeq .error.code '"validation_failed"'
req 400 PUT /api/v1/actionGroups/-bad '{"exec":[{"command":["/bin/true"]}]}'
jqeq .error.code '"invalid_name"'
req 400 PUT /api/v1/actionGroups/x ''
req 400 PUT /api/v1/actionGroups/x '{"exec":'
jqeq .error.code '"validation_failed"'
req 200 GET '/api/v1/actionGroups?limit=1'
jqeq '[(.items | map(.name)), .next]' '[["ops"],"1"]'
req 200 GET '/api/v1/actionGroups?limit=1&cursor=1'
jqeq '[(.items | map(.name)), .next]' '[["spare"],null]'
req 400 GET '/api/v1/actionGroups?limit=0'
req 404 GET /api/v1/actionGroups/nope
req 404 DELETE /api/v1/actionGroups/nope
req 405 POST /api/v1/actionGroups/ops
pass "action groups: put/get/list/delete, secrets masked and kept, validation, paging"

# ---- alert rules ----
RULE='{"name": "loss", "metric": "ChecksFailedPercent", "operator": "GreaterThan",
 "threshold": 40, "windowSizeSec": 60, "evaluationFrequencySec": 10,
 "dimensions": {"monitor": "*", "destination": "*"}, "severity": 1, "actionGroups": ["ops"]}'
req 201 PUT /api/v1/alertRules/loss "$RULE"
jqeq '[.name, .kind, .enabled, .metric, .operator, .threshold, .aggregation, .windowSizeSec, .evaluationFrequencySec, .forEvaluations, .severity, .actionGroups]' \
    '["loss","metric",true,"ChecksFailedPercent","GreaterThan",40,"Average",60,10,1,1,["ops"]]'
req 200 PUT /api/v1/alertRules/loss "$RULE"
# legacy metric names are accepted and written back under the current name;
# the URL's name wins over the body's
req 201 PUT /api/v1/alertRules/rtt '{"name":"other","metric":"AverageRoundtripMs","operator":"GreaterThan","threshold":750}'
jqeq '[.name, .metric, .actionGroups]' '["rtt","RoundTripTimeMs",[]]'
req 201 PUT /api/v1/alertRules/failing '{"kind":"state","scope":"test","states":["Fail"],"forEvaluations":3}'
jqeq '[.kind, .scope, .states, .forEvaluations]' '["state","test",["Fail"],3]'
req 400 PUT /api/v1/alertRules/typo '{"name": "typo",
 "metric": "ChecksFailedPercnt", "operator": "GreaterThan", "threshold": 5}'
jqeq '[.error.code, .error.field, .error.problems[0].line, .error.problems[0].col]' '["validation_failed","metric",2,12]'
jqeq '.error.message | startswith("2:12: metric: unknown metric \"ChecksFailedPercnt\" (did you mean \"ChecksFailedPercent\"?)")' true
req 400 PUT /api/v1/alertRules/win '{"name":"win","metric":"ChecksFailedPercent","operator":"GreaterThan","threshold":5,"windowSizeSec":10}'
jqeq '.error.problems[0] | [.path, .message]' '["windowSizeSec","must be between 30 and 86400, got 10"]'
req 400 PUT /api/v1/alertRules/nogroup '{"metric":"ChecksFailedPercent","operator":"GreaterThan","threshold":5,"actionGroups":["ops","nope"]}'
jqeq '[.error.code, .error.field]' '["validation_failed","actionGroups[1]"]'
req 400 PUT /api/v1/alertRules/AgentUnavailable '{"metric":"ChecksFailedPercent","operator":"GreaterThan","threshold":5}'
req 200 GET /api/v1/alertDimensions
jqeq . '{"items":["monitor","testGroup","source","destination","testConfiguration","protocol","SourceAddress","SourceResourceId","SourceType","DestinationAddress","DestinationResourceId","DestinationType","DestinationPort","Region","TestId"],"each":"*"}'
req 200 GET /api/v1/alertRules
jqeq '[(.items | map(.name)), .next]' '[["failing","loss","rtt"],null]'
req 200 GET /api/v1/alertRules/loss
jqeq .threshold 40
req 404 GET /api/v1/alertRules/nope
req 200 POST /api/v1/alertRules/rtt/disable
jqeq .enabled false
req 200 GET /api/v1/alertRules/rtt
jqeq .enabled false
req 200 POST /api/v1/alertRules/rtt/enable
jqeq .enabled true
req 404 POST /api/v1/alertRules/nope/enable
req 204 DELETE /api/v1/alertRules/rtt
req 404 DELETE /api/v1/alertRules/rtt
req 405 PATCH /api/v1/alertRules/loss
req 409 DELETE /api/v1/actionGroups/ops
jqeq '[.error.code, .error.message]' '["in_use","action group '"'"'ops'"'"' is used by alert rule '"'"'loss'"'"'; change the rule first"]'
req 204 DELETE /api/v1/actionGroups/spare
pass "alert rules: put/get/list/delete/enable/disable, validator messages with line:col, unknown groups refused"

# ---- alerts ----
req 200 GET /api/v1/alerts
jqeq . '{"items":[],"next":null}'
req 400 GET '/api/v1/alerts?state=burning'
jqeq '[.error.code, .error.field]' '["invalid_parameter","state"]'
req 400 GET '/api/v1/alerts?limit=1001'

# a monitor and a failing round through the agent endpoint
req 201 PUT /api/v1/connectionMonitors/edge '{"properties": {
  "endpoints": [{"name": "a", "type": "Agent", "address": "agent-a"},
                {"name": "router", "address": "198.18.1.2"}],
  "testConfigurations": [{"name": "ping", "protocol": "Icmp", "testFrequencySec": 30}],
  "testGroups": [{"name": "wan", "sources": ["a"], "destinations": ["router"],
                  "testConfigurations": ["ping"]}]}}'
req 200 GET /api/v1/tests
ID=$(jq -r '.items[0].id' "$TMP/body")
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[{\"testId\":\"$ID\",\"startTime\":\"$NOW\",\"checksTotal\":10,\"checksFailed\":8,\"rtt\":{\"min\":1,\"avg\":2,\"max\":3,\"jitter\":0.5},\"diagnostic\":\"timeout\",\"detail\":\"\"}]}"

wait_alert() { # QUERY COUNT
    for _ in $(seq 40); do
        curl -fsS "$B/api/v1/alerts$1" -o "$TMP/body" && [ "$(jq '.items | length' "$TMP/body")" = "$2" ] && return 0
        sleep 0.5
    done
    fail "alerts$1: want $2 items"
}
wait_alert '?state=firing' 1
jqeq '.items[0] | [.key, .rule, .state, .labels, .severity, .value, .firedValue, .summary, .actionGroups, .monitors, .endsAt]' \
    '["loss{monitor=\"edge\",destination=\"router\"}","loss","firing",{"alertname":"loss","monitor":"edge","destination":"router"},1,80,80,"ChecksFailedPercent Average 80 > 40 (window 60s)",["ops"],["edge"],null]'
jqeq '.items[0] | has("timesNs")' false
req 200 GET '/api/v1/alerts?rule=loss&monitor=edge'
jqeq '.items | length' 1
req 200 GET '/api/v1/alerts?monitor=other'
jqeq '.items | length' 0
req 200 GET '/api/v1/alerts?rule=failing'
jqeq '.items | length' 0
req 200 GET '/api/v1/alerts?state=firing&transitions=true'
jqeq '[.items[0].transitions[] | [.event, .value]]' '[["firing",80]]'
out=$("$CMON" alerts list --server "$B" --state firing) || fail "cmon alerts list"
grep -q '^firing  *1  .*  *80  *loss{monitor="edge",destination="router"}  *ChecksFailedPercent Average 80 > 40 (window 60s)$' <<<"$out" ||
    fail "cmon alerts list: $out"
pass "the alert fired from posted rounds; filters by state, rule and monitor"

# the webhook: a 500, then the retry (1 s later), both signed
# (up to 60 s: on a loaded machine 10 s was once not enough, and then say why)
for _ in $(seq 240); do [ "$(cat "$TMP/hooks.jsonl" 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.25; done
[ "$(cat "$TMP/hooks.jsonl" 2>/dev/null | wc -l)" -ge 2 ] ||
    fail "the webhook got $(cat "$TMP/hooks.jsonl" 2>/dev/null | wc -l) of 2 requests; receiver: $(cat "$TMP/hook.err"); server: $(grep -i 'notif' "$TMP/server.err" | tail -5)"
jq -sc '[.[] | [.try, .status, .signatureOk, .body.event, .body.alert.key]]' "$TMP/hooks.jsonl" >"$TMP/body"
jqeq . '[[1,500,true,"firing","loss{monitor=\"edge\",destination=\"router\"}"],[2,200,true,"firing","loss{monitor=\"edge\",destination=\"router\"}"]]'
grep -q 'msg="alert notification failed, will retry" action=webhook .*try=1 .*error="HTTP status 500"' "$TMP/server.err" ||
    fail "the 500 was not logged"
pass "webhook through the server: signed, retried after a 500"

# a restart keeps the firing alert and does not notify it again
stop_server
start_server
sleep 12   # more than one evaluation period of the rule
req 200 GET '/api/v1/alerts?state=firing'
jqeq '[.items[0].key, .items[0].firedAt == .items[0].startsAt]' '["loss{monitor=\"edge\",destination=\"router\"}",true]'
[ "$(wc -l <"$TMP/hooks.jsonl")" = 2 ] || fail "a restart re-notified: $(cat "$TMP/hooks.jsonl")"
grep -q 'msg="alerts restored" active=1' "$TMP/server.err" || fail "restore not logged"
pass "a restart keeps the firing alert without notifying it twice"

# disabling the rule resolves its alert (and notifies the resolve)
req 200 POST /api/v1/alertRules/loss/disable
wait_alert '?state=resolved' 1
jqeq '.items[0] | [.state, (.endsAt != null)]' '["resolved",true]'
for _ in $(seq 240); do [ "$(wc -l <"$TMP/hooks.jsonl")" -ge 3 ] && break; sleep 0.25; done
jq -sc '.[2] | [.status, .signatureOk, .body.event, (.body.alert.endsAt != null)]' "$TMP/hooks.jsonl" >"$TMP/body"
jqeq . '[200,true,"resolved",true]'
req 200 GET '/api/v1/alerts?state=firing'
jqeq '.items | length' 0
pass "a disabled rule's alert resolves and the resolve is sent"

# ---- roles ----
ADMIN=$("$CMON" token create --role admin --name ci --store "sqlite:$TMP/data/cmon.db")
READER=$("$CMON" token create --role reader --name ro --store "sqlite:$TMP/data/cmon.db")
req 401 GET /api/v1/alertRules
req 200 GET /api/v1/alertRules "" "$READER"
req 200 GET /api/v1/actionGroups/ops "" "$READER"
jqeq '.webhooks[0].secret' '"***"'
req 200 GET /api/v1/alerts "" "$READER"
req 403 PUT /api/v1/alertRules/loss "$RULE" "$READER"
jqeq .error.code '"forbidden"'
req 403 POST /api/v1/alertRules/loss/enable "" "$READER"
req 403 DELETE /api/v1/alertRules/loss "" "$READER"
req 403 PUT /api/v1/actionGroups/ops "$GROUP" "$READER"
req 403 DELETE /api/v1/actionGroups/ops "" "$READER"
req 200 PUT /api/v1/alertRules/loss "$RULE" "$ADMIN"
CMON_TOKEN=$READER "$CMON" alerts rule list --server "$B" >/dev/null || fail "reader rule list"
set +e
CMON_TOKEN=$READER "$CMON" alerts rule disable loss --server "$B" 2>/dev/null; rc=$?
set -e
[ $rc = 3 ] || fail "reader disable exits $rc, want 3"
pass "roles: readers read (secrets masked), admins write"

# ---- the CLI ----
echo "$RULE" | jq '. + {name: "cli-rule", severity: 3}' >"$TMP/cli-rule.json"
jq -n '[{"name":"arr-1","kind":"state","scope":"monitor"},{"name":"arr-2","kind":"state","scope":"testGroup"}]' >"$TMP/rules.json"
export CMON_TOKEN=$ADMIN
out=$("$CMON" alerts rule apply --server "$B" "$TMP/cli-rule.json" "$TMP/rules.json")
[ "$out" = "$TMP/cli-rule.json: alert rule cli-rule created
$TMP/rules.json: alert rule arr-1 created
$TMP/rules.json: alert rule arr-2 created" ] || fail "rule apply: $out"
printf '{"name": "bad",\n "metric": "Nope"}\n' >"$TMP/bad.json"
set +e
"$CMON" alerts rule apply --server "$B" "$TMP/bad.json" 2>"$TMP/err"; rc=$?
set -e
[ $rc = 1 ] || fail "bad rule exits $rc, want 1"
grep -q "^$TMP/bad.json:2:12: metric: unknown metric \"Nope\"" "$TMP/err" || fail "bad rule message: $(cat "$TMP/err")"
# in an array file the problem is placed in the file itself, and nothing of
# the file is applied
printf '[{"name":"arr-ok","kind":"state","scope":"monitor"},\n {"name": "arr-bad", "metric": "Nope"}]\n' >"$TMP/bad-arr.json"
set +e
"$CMON" alerts rule apply --server "$B" "$TMP/bad-arr.json" 2>"$TMP/err"; rc=$?
set -e
[ $rc = 1 ] || fail "bad rule array exits $rc, want 1"
grep -q "^$TMP/bad-arr.json:2:32: \[1\].metric: unknown metric \"Nope\"" "$TMP/err" ||
    fail "bad rule array message: $(cat "$TMP/err")"
req 404 GET /api/v1/alertRules/arr-ok "" "$ADMIN"
out=$("$CMON" alerts rule list --server "$B")
grep -q '^cli-rule  *metric  *yes  *3  *ChecksFailedPercent Average > 40 (60s)  *ops$' <<<"$out" || fail "rule list: $out"
[ "$("$CMON" alerts rule get cli-rule --server "$B" | jq -r .severity)" = 3 ] || fail "rule get"
"$CMON" alerts rule delete cli-rule --server "$B" | grep -qx 'alert rule cli-rule deleted' || fail "rule delete"
"$CMON" alerts group list --server "$B" | grep -q '^ops  *1  *0  *0$' || fail "group list"
"$CMON" alerts group get ops --server "$B" | jq -e '.webhooks[0].secret == "***"' >/dev/null || fail "group get"
set +e
"$CMON" alerts rule frob x --server "$B" 2>/dev/null; rc=$?
set -e
[ $rc = 2 ] || fail "unknown action exits $rc, want 2"
[ "$("$CMON" alerts list --server "$B" --json --state resolved | jq '.items | length')" = 1 ] || fail "alerts list --json"
pass "cmon alerts rule/group/list"
echo "PASS: alert API, server-side evaluation and webhook delivery"
