#!/usr/bin/env bash
# test_prometheus_rules.sh: docs/deploy/prometheus-rules.yml is valid
# (promtool check rules) and fires exactly where cmon's default rules would
# (promtool test rules over tests/data/prometheus/rules_test.yml).  No network.
set -u
: "${CMON_SOURCE_DIR:?}"
command -v promtool >/dev/null || { echo "SKIPPED: promtool is not installed (apt-get install prometheus)"; exit 77; }
rules="$CMON_SOURCE_DIR/docs/deploy/prometheus-rules.yml"
out=$(promtool check rules "$rules" 2>&1) || { echo "FAIL: promtool check rules: $out" >&2; exit 1; }
grep -q 'SUCCESS: 5 rules found' <<<"$out" || { echo "FAIL: expected 5 rules: $out" >&2; exit 1; }
out=$(promtool test rules "$CMON_SOURCE_DIR/tests/data/prometheus/rules_test.yml" 2>&1) ||
    { echo "FAIL: promtool test rules: $out" >&2; exit 1; }
echo "PASS: prometheus-rules.yml checks and its unit tests pass"
