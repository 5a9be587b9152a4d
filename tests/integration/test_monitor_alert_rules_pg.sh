#!/usr/bin/env bash
# test_monitor_alert_rules_pg.sh: test_monitor_alert_rules.sh over a real
# PostgreSQL 15 cluster started in a temp dir (skips, 77, when it cannot start).
RULES_STORE=pg exec bash "$CMON_SOURCE_DIR/tests/integration/test_monitor_alert_rules.sh"
