#!/usr/bin/env bash
# test_results_views_pg.sh: test_results_views.sh over a real PostgreSQL 15
# cluster started in a temp dir (skips, 77, when it cannot start).
RESULTS_STORE=pg exec bash "$CMON_SOURCE_DIR/tests/integration/test_results_views.sh"
