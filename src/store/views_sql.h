/* views_sql.h: the readable views of the SQL endpoint (docs/api.md,
 * "Read-only SQL"), one text for both backends: v_tests, v_results and
 * v_state_changes carry state and protocol as text and the monitor, test
 * group, source, destination and test configuration beside each row, with
 * times as RFC 3339 text next to the Unix ns.  TIME(col) is the dialect's
 * ns -> text expression.  The state and protocol names are the API's
 * (cmon_state_key, "NotRunning"; cmon_protocol_name); stored codes never
 * change.  Used by the migrations that create the views (and re-create them
 * when the text changes); pure text. */
#define VIEWS_DROP "DROP VIEW v_tests; DROP VIEW v_results; DROP VIEW v_state_changes;"
#ifndef CMON_STORE_VIEWS_SQL_H
#define CMON_STORE_VIEWS_SQL_H

/* clang-format off */
#define VIEWS_STATE(c)                                                                             \
    " CASE " c " WHEN 0 THEN 'Indeterminate' WHEN 1 THEN 'Pass' WHEN 2 THEN 'Warning'"             \
    " WHEN 3 THEN 'Fail' WHEN 4 THEN 'NotRunning' END"
#define VIEWS_PROTOCOL(c) " CASE " c " WHEN 0 THEN 'Icmp' WHEN 1 THEN 'Tcp' WHEN 2 THEN 'Http' END"
#define VIEWS_NAMES " t.monitor, t.test_group, t.source, t.destination, t.test_config,"

#define VIEWS_SQL(TIME)                                                                            \
    "CREATE VIEW v_tests AS SELECT t.id AS test_id," VIEWS_NAMES                                  \
    VIEWS_PROTOCOL("t.protocol") " AS protocol, t.source_address, t.destination_address,"          \
    " t.destination_type, t.target, t.port," VIEWS_STATE("t.state") " AS state, t.reason,"         \
    TIME("t.state_since_ns") " AS state_since, t.state_since_ns,"                                  \
    TIME("t.last_result_ns") " AS last_result, t.last_result_ns, t.checks_failed_pct,"             \
    " t.rtt_ms, t.diagnostic, t.detail FROM tests t;"                                              \
    "CREATE VIEW v_results AS SELECT r.test_id," TIME("r.start_ns") " AS start_time,"              \
    " r.start_ns," VIEWS_NAMES VIEWS_PROTOCOL("t.protocol") " AS protocol, r.agent,"               \
    " r.checks_total, r.checks_failed,"                                                            \
    " 100.0 * r.checks_failed / NULLIF(r.checks_total, 0) AS checks_failed_pct,"                   \
    " r.rtt_min, r.rtt_avg, r.rtt_max, r.rtt_jitter, r.diagnostic, r.detail, r.http_status"        \
    " FROM results r LEFT JOIN tests t ON t.id = r.test_id;"                                       \
    "CREATE VIEW v_state_changes AS SELECT c.test_id," TIME("c.at_ns") " AS at_time, c.at_ns,"     \
    VIEWS_NAMES VIEWS_STATE("c.from_state") " AS from_state," VIEWS_STATE("c.to_state")            \
    " AS to_state, c.reason FROM state_changes c LEFT JOIN tests t ON t.id = c.test_id;"
/* clang-format on */

#endif
