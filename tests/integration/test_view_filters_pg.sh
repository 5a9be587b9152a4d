#!/usr/bin/env bash
# test_view_filters_pg.sh: test_view_filters.sh over a real PostgreSQL 15
# cluster started in a temp dir (skips, 77, when it cannot start).
VIEWS_STORE=pg exec bash "$CMON_SOURCE_DIR/tests/integration/test_view_filters.sh"
