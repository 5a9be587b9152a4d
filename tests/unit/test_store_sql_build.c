/* test_store_sql_build.c: the metric query's SQL as each backend gets it
 * (store/sql_build.h) -- placeholders per dialect, raw results for
 * sub-minute buckets, a roll-up plus the rows not folded yet otherwise, each
 * dimension filter as one case-insensitive comparison -- and the queries it
 * refuses; the tests view's filters, numbered in the order they appear; and
 * a test field's distinct values in byte order on both.  The SQL runs
 * against real databases in test_store (both backends). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "store/sql_build.h"

#define SEC 1000000000LL

static void test_sqlite_raw(void **state)
{
    (void)state;
    struct store_metric_query q = {.metric = STORE_METRIC_FAILED_PCT,
                                   .agg = STORE_AGG_AVG,
                                   .interval_ns = 10 * SEC,
                                   .n_filters = 1};
    q.filters[0].dim = CMON_DIM_DEST_PORT;
    q.filters[0].value = "80";
    char sql[4096];
    assert_int_equal(sql_build_metric(SQL_SQLITE, &q, sql, sizeof sql), 0);
    assert_string_equal(sql, "SELECT (r.start_ns / ?1) * ?1 AS b, avg(100.0 * r.checks_failed /"
                             " r.checks_total), count(*) FROM results r JOIN tests t ON t.id ="
                             " r.test_id WHERE r.start_ns >= ?2 AND r.start_ns < ?3 AND"
                             " lower(CAST(t.port AS TEXT)) = lower(?4) GROUP BY b ORDER BY b");
    assert_int_equal(sql_build_metric(SQL_POSTGRES, &q, sql, sizeof sql), 0);
    assert_non_null(strstr(sql, "avg((100.0::float8 * r.checks_failed / nullif(r.checks_total,"
                                " 0))), count(*) FROM results r"));
    assert_non_null(strstr(sql, "WHERE r.start_ns >= $2::bigint AND r.start_ns < $3::bigint AND"
                                " lower(CAST(t.port AS TEXT)) = lower($4::text) GROUP BY b"));
}

static void test_postgres_rollup(void **state)
{
    (void)state;
    struct store_metric_query q = {
        .metric = STORE_METRIC_RTT, .agg = STORE_AGG_MAX, .interval_ns = 60 * SEC, .n_filters = 2};
    q.filters[0].dim = CMON_DIM_PROTOCOL;
    q.filters[0].value = "tcp";
    q.filters[1].dim = CMON_DIM_MONITOR;
    q.filters[1].value = "m";
    char sql[4096];
    assert_int_equal(sql_build_metric(SQL_POSTGRES, &q, sql, sizeof sql), 0);
    assert_string_equal(
        sql, "SELECT (r.bucket_ns / $1::bigint) * $1::bigint AS b, max(r.rtt_max), sum(r.rtt_n)"
             " FROM (SELECT test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min,"
             " failed_pct_max, rtt_n, rtt_sum, rtt_min, rtt_max FROM rollup_1m UNION ALL"
             " SELECT test_id, start_ns / 60000000000 * 60000000000, 1, failed_pct, failed_pct,"
             " failed_pct, CASE WHEN rtt_avg IS NULL THEN 0 ELSE 1 END, coalesce(rtt_avg, 0),"
             " rtt_avg, rtt_avg FROM rollup_pending) r JOIN tests t ON t.id = r.test_id WHERE"
             " r.bucket_ns >= $2::bigint AND r.bucket_ns < $3::bigint AND r.rtt_n > 0 AND"
             " lower((CASE t.protocol WHEN 0 THEN 'icmp' WHEN 1 THEN 'tcp' ELSE 'http' END)) ="
             " lower($4::text) AND lower(t.monitor) = lower($5::text) GROUP BY b ORDER BY b");
    /* SQLite: hourly roll-up, unfolded rows are the raw ones past the watermark */
    q.interval_ns = 7200 * SEC;
    assert_int_equal(sql_build_metric(SQL_SQLITE, &q, sql, sizeof sql), 0);
    assert_non_null(strstr(sql, "FROM rollup_1h UNION ALL SELECT test_id, start_ns /"
                                " 3600000000000 * 3600000000000, 1, 100.0 * checks_failed /"
                                " checks_total,"));
    assert_non_null(strstr(sql, "FROM results WHERE id > (SELECT last_id FROM rollup_state)) r"));
    assert_non_null(strstr(sql, "lower(t.monitor) = lower(?5) GROUP BY b ORDER BY b"));
}

static void test_refused(void **state)
{
    (void)state;
    char sql[4096];
    struct store_metric_query ok = {.interval_ns = 60 * SEC}, q;
    assert_int_equal(sql_build_metric(SQL_SQLITE, &ok, sql, sizeof sql), 0);
    q = ok;
    q.interval_ns = 0;
    assert_int_equal(sql_build_metric(SQL_SQLITE, &q, sql, sizeof sql), -1);
    q = ok;
    q.agg = (enum store_agg)3;
    assert_int_equal(sql_build_metric(SQL_POSTGRES, &q, sql, sizeof sql), -1);
    q = ok;
    q.metric = (enum store_metric)2;
    assert_int_equal(sql_build_metric(SQL_POSTGRES, &q, sql, sizeof sql), -1);
    q = ok;
    q.n_filters = 1;
    q.filters[0].dim = CMON_DIM__COUNT;
    assert_int_equal(sql_build_metric(SQL_SQLITE, &q, sql, sizeof sql), -1);
    q.n_filters = STORE_MAX_DIM_FILTERS + 1;
    assert_int_equal(sql_build_metric(SQL_SQLITE, &q, sql, sizeof sql), -1);
    assert_int_equal(sql_build_metric(SQL_SQLITE, &ok, sql, 40), -1); /* does not fit */
    assert_int_equal(sql_build_metric((enum sql_dialect)2, &ok, sql, sizeof sql), -1);
}

static void test_tests_view(void **state)
{
    (void)state;
    struct sql_tests q;
    sql_build_tests(SQL_POSTGRES, NULL, &q);
    assert_int_equal(q.n, 0);
    const char *tail = strstr(q.sql, " FROM tests t");
    assert_non_null(tail);
    assert_string_equal(tail, " FROM tests t LEFT JOIN monitors m ON m.name = t.monitor WHERE"
                              " true ORDER BY t.monitor COLLATE \"C\", t.number");
    struct store_test_filter f = {
        .monitor = "m", .has_state = true, .search = "x", .scope = STORE_SCOPE_SOURCES};
    sql_build_tests(SQL_POSTGRES, &f, &q);
    assert_int_equal(q.n, 3);
    assert_int_equal(q.params[0], SQL_TP_MONITOR);
    assert_int_equal(q.params[1], SQL_TP_STATE);
    assert_int_equal(q.params[2], SQL_TP_SEARCH);
    assert_string_equal(strstr(q.sql, " WHERE"),
                        " WHERE true AND t.monitor = $1::text AND t.state = $2::bigint AND"
                        " (strpos(lower(t.source), lower($3::text)) > 0 OR"
                        " strpos(lower(t.source_address), lower($3::text)) > 0)"
                        " ORDER BY t.monitor COLLATE \"C\", t.number");
    f = (struct store_test_filter){.test_id = "abc", .has_protocol = true};
    sql_build_tests(SQL_SQLITE, &f, &q);
    assert_int_equal(q.n, 2);
    assert_int_equal(q.params[0], SQL_TP_TEST_ID);
    assert_int_equal(q.params[1], SQL_TP_PROTOCOL);
    assert_string_equal(strstr(q.sql, " WHERE"), " WHERE true AND t.id = ?1 AND t.protocol = ?2"
                                                 " ORDER BY t.monitor, t.number");
    f = (struct store_test_filter){.search = "", .scope = STORE_SCOPE_ALL};
    sql_build_tests(SQL_SQLITE, &f, &q); /* an empty search does not filter */
    assert_int_equal(q.n, 0);
}

/* The exact scope filters: whole names, each its own parameter, and every
 * filter at once still fits the parameter list. */
static void test_tests_view_exact(void **state)
{
    (void)state;
    struct sql_tests q;
    struct store_test_filter f = {.group = "g", .destination_type = "Agent"};
    sql_build_tests(SQL_POSTGRES, &f, &q);
    assert_int_equal(q.n, 2);
    assert_int_equal(q.params[0], SQL_TP_GROUP);
    assert_int_equal(q.params[1], SQL_TP_DEST_TYPE);
    assert_string_equal(sql_test_param_text(&f, SQL_TP_DEST_TYPE), "Agent");
    assert_string_equal(strstr(q.sql, " WHERE"),
                        " WHERE true AND t.test_group = $1::text AND t.destination_type = $2::text"
                        " ORDER BY t.monitor COLLATE \"C\", t.number");
    f = (struct store_test_filter){.monitor = "m", .test_id = "i", .ids_json = "[]",
                                   .group = "g", .source = "s", .destination = "d",
                                   .config = "c", .destination_type = "t", .has_state = true,
                                   .has_protocol = true, .search = "x",
                                   .scope = STORE_SCOPE_SOURCES, .source_agents = "[]"};
    sql_build_tests(SQL_SQLITE, &f, &q);
    assert_int_equal(q.n, SQL_TESTS_MAX_PARAMS);
    const enum sql_test_param want[] = {SQL_TP_MONITOR, SQL_TP_TEST_ID,  SQL_TP_IDS,
                                        SQL_TP_GROUP,   SQL_TP_SOURCE,   SQL_TP_DESTINATION,
                                        SQL_TP_CONFIG,  SQL_TP_DEST_TYPE, SQL_TP_STATE,
                                        SQL_TP_PROTOCOL, SQL_TP_SEARCH,  SQL_TP_SOURCE_AGENTS};
    for (int i = 0; i < q.n; i++)
        assert_int_equal(q.params[i], want[i]);
    assert_non_null(strstr(q.sql, " AND t.source = ?5 AND t.destination = ?6 AND t.test_config = ?7"));
}

/* A field's distinct values: non-empty, grouped, byte order (PostgreSQL's
 * "C" collation), the limit the one parameter; an unknown field refused. */
static void test_distinct(void **state)
{
    (void)state;
    char sql[256];
    assert_int_equal(sql_build_distinct(SQL_SQLITE, STORE_TF_DEST_TYPE, sql, sizeof sql), 0);
    assert_string_equal(sql, "SELECT destination_type FROM tests WHERE destination_type <> ''"
                             " GROUP BY destination_type ORDER BY destination_type LIMIT ?1");
    assert_int_equal(sql_build_distinct(SQL_POSTGRES, STORE_TF_GROUP, sql, sizeof sql), 0);
    assert_string_equal(sql, "SELECT test_group FROM tests WHERE test_group <> '' GROUP BY"
                             " test_group ORDER BY test_group COLLATE \"C\" LIMIT $1::bigint");
    assert_int_equal(sql_build_distinct(SQL_SQLITE, (enum store_test_field)5, sql, sizeof sql), -1);
    assert_int_equal(sql_build_distinct(SQL_SQLITE, STORE_TF_CONFIG, sql, 20), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_raw),
        cmocka_unit_test(test_postgres_rollup),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_tests_view),
        cmocka_unit_test(test_tests_view_exact),
        cmocka_unit_test(test_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
