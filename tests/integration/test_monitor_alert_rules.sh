#!/usr/bin/env bash
# test_monitor_alert_rules.sh: alert rules written inside a monitor file
# (docs/monitor-file.md, "alertRules"), against a real `cmon server` on
# 127.0.0.1 over SQLite, or over a PostgreSQL 15 cluster started here with
# RULES_STORE=pg (test_monitor_alert_rules_pg.sh): applied with the monitor
# in one write (their monitor dimension defaults to it, GET of the monitor
# shows them), a bad rule or an unknown action group rejects the whole
# monitor with line:column and the field and writes nothing, a rule name the
# alerts API or another monitor has is refused, the alerts API refuses to
# change a managed rule (409 managed_by_monitor), re-applying drops the
# rules the file no longer holds, deleting the monitor deletes them; and a
# managed rule fires on rounds posted to the agent endpoint.
set -euo pipefail

CMON=${CMON:?set CMON to the cmon binary}
SRC=${CMON_SOURCE_DIR:?set CMON_SOURCE_DIR}

PORT=$((20000 + ($$ * 11) % 20000))
. "$SRC/tests/integration/lib/api.sh"
api_init monitor-rules curl jq
api_store RULES_STORE
start_server

req 201 PUT /api/v1/actionGroups/ops '{"webhooks":[{"url":"http://127.0.0.1:9/hook"}]}'
req 201 PUT /api/v1/alertRules/api-rule '{"kind":"state","scope":"monitor"}'

# The monitor file: rule "loss" from line 9, its threshold at 11:57, its action group at 12:25.
monitor() { # LOSS_THRESHOLD [EXTRA_RULE_LINE] [GROUP]
    cat <<JSON
{
  "properties": {
    "endpoints": [{"name": "a", "type": "Agent", "address": "agent-a"},
                  {"name": "router", "address": "198.18.1.2"}],
    "testConfigurations": [{"name": "ping", "protocol": "Icmp", "testFrequencySec": 30}],
    "testGroups": [{"name": "wan", "sources": ["a"], "destinations": ["router"],
                    "testConfigurations": ["ping"]}],
    "alertRules": [
      {"name": "loss", "metric": "ChecksFailedPercent",
       "operator": "GreaterThan", "windowSizeSec": 60, "evaluationFrequencySec": 10,
       "dimensions": {"destination": "*"}, "threshold": $1,
       "actionGroups": ["${3:-ops}"]}${2:+,
      $2}
    ]
  }
}
JSON
}
monitor 40 '{"name": "failing", "kind": "state", "scope": "test"}' >"$TMP/edge.json"
req 201 PUT /api/v1/connectionMonitors/edge "@$TMP/edge.json"
req 200 GET /api/v1/connectionMonitors/edge
jqeq '[.properties.alertRules[] | .name]' '["loss","failing"]'
req 200 GET /api/v1/alertRules
jqeq '[.items[] | [.name, .managedBy.monitor, .dimensions.monitor]]' \
    '[["api-rule",null,null],["failing","edge","edge"],["loss","edge","edge"]]'
jqeq '[.items[] | select(.name == "loss") | .threshold, .actionGroups]' '[40,["ops"]]'
pass "alertRules applied with the monitor, managed by it, watching it; GET shows them"

# a bad rule rejects the whole monitor, at its line:column, writing nothing
monitor 150 >"$TMP/bad.json"
req 400 PUT /api/v1/connectionMonitors/edge "@$TMP/bad.json"
jqeq '[.error.code, .error.field, .error.problems[0].line, .error.problems[0].col]' \
    '["validation_failed","alertRules[0].threshold",11,57]'
jqeq '.error.message' '"11:57: alertRules[0].threshold: ChecksFailedPercent threshold must be between 0 and 100, got 150"'
req 200 GET /api/v1/alertRules/failing
req 200 GET /api/v1/alertRules/loss
jqeq .threshold 40
req 400 PUT /api/v1/connectionMonitors/fresh "@$TMP/bad.json"
req 404 GET /api/v1/connectionMonitors/fresh
# an action group that does not exist: the same, at the group's place
monitor 40 "" nope >"$TMP/nogroup.json"
req 400 PUT /api/v1/connectionMonitors/edge "@$TMP/nogroup.json"
jqeq '[.error.code, .error.field, .error.problems[0].line]' '["validation_failed","alertRules[0].actionGroups[0]",12]'
jqeq '.error.message | startswith("12:25: alertRules[0].actionGroups[0]: unknown action group \"nope\"")' true
req 200 GET /api/v1/alertRules/failing
pass "a bad rule or unknown action group rejects the monitor with line:column and field, nothing written"

# names the alerts API or another monitor has are refused, nothing written
monitor 40 '{"name": "api-rule", "kind": "state", "scope": "test"}' >"$TMP/taken.json"
req 409 PUT /api/v1/connectionMonitors/other "@$TMP/taken.json"
jqeq '.error.code' '"rule_name_taken"'
req 404 GET /api/v1/connectionMonitors/other
req 200 GET /api/v1/alertRules
jqeq '[.items[] | [.name, .managedBy.monitor]]' '[["api-rule",null],["failing","edge"],["loss","edge"]]'
# the alerts API does not change a rule a monitor manages
req 409 PUT /api/v1/alertRules/loss '{"metric":"ChecksFailedPercent","operator":"GreaterThan","threshold":1}'
jqeq '[.error.code, .error.message]' \
    "[\"managed_by_monitor\",\"alert rule 'loss' is managed by monitor 'edge': change it in that monitor's alertRules (PUT /api/v1/connectionMonitors/edge)\"]"
req 409 DELETE /api/v1/alertRules/loss
req 409 POST /api/v1/alertRules/loss/disable
req 200 GET /api/v1/alertRules/loss
jqeq '[.enabled, .threshold]' '[true,40]'
pass "rule names taken elsewhere refused; the alerts API refuses managed rules (409 managed_by_monitor)"

# the managed rule fires on a failing round
req 200 GET '/api/v1/tests?monitor=edge'
ID=$(jq -r '.items[0].id' "$TMP/body")
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
req 200 POST /api/v1/agent/results "{\"batch\":1,\"results\":[{\"testId\":\"$ID\",\"startTime\":\"$NOW\",\"checksTotal\":10,\"checksFailed\":8,\"rtt\":{\"min\":1,\"avg\":2,\"max\":3,\"jitter\":0.5},\"diagnostic\":\"timeout\",\"detail\":\"\"}]}"
for _ in $(seq 240); do
    curl -fsS "$B/api/v1/alerts?state=firing&rule=loss" -o "$TMP/body" &&
        [ "$(jq '.items | length' "$TMP/body")" = 1 ] && break
    sleep 0.25
done
jqeq '.items[0] | [.key, .state, .monitors]' '["loss{monitor=\"edge\",destination=\"router\"}","firing",["edge"]]'
pass "a rule from the monitor file fires"

# re-applied without "failing": it goes; deleting the monitor takes "loss"
monitor 30 >"$TMP/edge2.json"
req 200 PUT /api/v1/connectionMonitors/edge "@$TMP/edge2.json"
req 200 GET /api/v1/alertRules
jqeq '[.items[] | [.name, .threshold]]' '[["api-rule",null],["loss",30]]'
req 204 DELETE /api/v1/connectionMonitors/edge
req 200 GET /api/v1/alertRules
jqeq '[.items[] | .name]' '["api-rule"]'
req 204 DELETE /api/v1/actionGroups/ops
pass "re-applying drops rules the file no longer holds; deleting the monitor deletes its rules"
echo "PASS: alert rules in monitor files (${RULES_STORE:-sqlite})"
