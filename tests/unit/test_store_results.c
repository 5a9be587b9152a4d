/* test_store_results.c: the backend-neutral store suite, results: batches
 * ingested exactly once, the latest result per test, metric series, roll-up
 * and retention.  The fixture: store_suite.h. */
#include "store_suite.h"

static void test_ingest_exactly_once_and_latest(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    struct store_result rs[3] = {
        result("aaaaaaaaaaaaaaa1", T0 + 10 * CMON_NS_PER_SEC, 0, 2.0),
        result("aaaaaaaaaaaaaaa1", T0 + 40 * CMON_NS_PER_SEC, 4, 4.0),
        result("aaaaaaaaaaaaaaa1", T0 + MIN + 10 * CMON_NS_PER_SEC, 10, 0),
    };
    bool dup = true;
    ingest(s, rs, 3, "agent-a", 1, &dup);
    assert_false(dup);
    ingest(s, rs, 3, "agent-a", 1, &dup);
    assert_true(dup);
    ingest(s, rs, 3, "agent-b", 1, &dup); /* seq numbers are per agent */
    assert_false(dup);

    struct collect c = {0};
    assert_int_equal(
        s->ops->result_query(s, "aaaaaaaaaaaaaaa1", T0, T0 + 2 * MIN, 100, count_result, &c, &eb),
        CMON_OK);
    assert_int_equal(c.n, 6);
    assert_string_equal(c.bodies[0], "local 0/10 ");
    assert_string_equal(c.bodies[4], "local 10/10 connection_refused");
    assert_false(c.tests[4].has_rtt);
    memset(&c, 0, sizeof c);
    assert_int_equal(
        s->ops->result_query(s, "aaaaaaaaaaaaaaa1", T0, T0 + MIN, 3, count_result, &c, &eb),
        CMON_OK);
    assert_int_equal(c.n, 3);

    /* the latest round (by start time) is the test's live figure */
    memset(&c, 0, sizeof c);
    struct store_test_filter one = {.test_id = "aaaaaaaaaaaaaaa1"};
    assert_int_equal(s->ops->test_query(s, &one, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_true(c.tests[0].has_result);
    assert_int_equal(c.tests[0].last_result_ns, T0 + MIN + 10 * CMON_NS_PER_SEC);
    assert_float_equal(c.tests[0].checks_failed_pct, 100.0, 1e-9);
    assert_false(c.tests[0].has_rtt);
    /* an older round arriving late does not replace it */
    struct store_result late = result("aaaaaaaaaaaaaaa1", T0, 0, 1.0);
    ingest(s, &late, 1, NULL, -1, NULL);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, &one, collect_test, &c, &eb), CMON_OK);
    assert_float_equal(c.tests[0].checks_failed_pct, 100.0, 1e-9);

    /* a compound source's combined round: the live figures, inside an ingest
     * transaction too, unless older than the stored ones */
    assert_non_null(s->ops->test_set_live);
    struct store_result comb = result("aaaaaaaaaaaaaaa1", T0 + MIN + 10 * CMON_NS_PER_SEC, 0, 3.5);
    comb.r.checks_total = 30;
    comb.r.checks_failed = 10;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    assert_int_equal(s->ops->test_set_live(s, &comb.r, &eb), CMON_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, &one, collect_test, &c, &eb), CMON_OK);
    assert_float_equal(c.tests[0].checks_failed_pct, 100.0 / 3, 1e-9);
    assert_float_equal(c.tests[0].rtt_ms, 3.5, 1e-9);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
    comb.r.start_ns = T0;
    comb.r.checks_failed = 0;
    assert_int_equal(s->ops->test_set_live(s, &comb.r, &eb), CMON_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, &one, collect_test, &c, &eb), CMON_OK);
    assert_float_equal(c.tests[0].checks_failed_pct, 100.0 / 3, 1e-9);
}

static void test_metrics_and_retention(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    struct store_result rs[4] = {
        result("aaaaaaaaaaaaaaa1", T0 + 10 * CMON_NS_PER_SEC, 0, 2.0),
        result("aaaaaaaaaaaaaaa1", T0 + 40 * CMON_NS_PER_SEC, 4, 4.0),
        result("aaaaaaaaaaaaaaa1", T0 + MIN + 10 * CMON_NS_PER_SEC, 10, 0),
        result("aaaaaaaaaaaaaaa2", T0 + 10 * CMON_NS_PER_SEC, 2, 8.0),
    };
    ingest(s, rs, 4, NULL, -1, NULL);

    struct store_metric_query q = {.metric = STORE_METRIC_FAILED_PCT,
                                   .agg = STORE_AGG_AVG,
                                   .interval_ns = MIN,
                                   .from_ns = T0,
                                   .to_ns = T0 + 10 * MIN};
    q.filters[0].dim = CMON_DIM_PROTOCOL;
    q.filters[0].value = "Tcp";
    q.n_filters = 1;
    struct points p = {0};
    assert_int_equal(s->ops->metric_query(s, &q, collect_point, &p, &eb), CMON_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.t[0], T0);
    assert_float_equal(p.v[0], 20.0, 1e-9); /* (0 + 40) / 2 */
    assert_int_equal(p.samples[0], 2);
    assert_float_equal(p.v[1], 100.0, 1e-9);

    /* RTT max over the whole hour, all tests (hourly roll-up) */
    struct store_metric_query q2 = {.metric = STORE_METRIC_RTT,
                                    .agg = STORE_AGG_MAX,
                                    .interval_ns = 60 * MIN,
                                    .from_ns = T0 - 4 * MIN,
                                    .to_ns = T0 + 60 * MIN};
    memset(&p, 0, sizeof p);
    assert_int_equal(s->ops->metric_query(s, &q2, collect_point, &p, &eb), CMON_OK);
    assert_int_equal(p.n, 1);
    assert_float_equal(p.v[0], 8.0, 1e-9); /* max of the rounds' averages */
    assert_int_equal(p.samples[0], 3);     /* the all-failed round has no RTT */

    /* raw (10 s buckets) agrees with the roll-ups */
    struct store_metric_query q3 = q;
    q3.interval_ns = 10 * CMON_NS_PER_SEC;
    q3.agg = STORE_AGG_MIN;
    q3.filters[0].dim = CMON_DIM_DESTINATION;
    q3.filters[0].value = "db";
    memset(&p, 0, sizeof p);
    assert_int_equal(s->ops->metric_query(s, &q3, collect_point, &p, &eb), CMON_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.t[0], T0 + 10 * CMON_NS_PER_SEC);
    assert_float_equal(p.v[0], 20.0, 1e-9);

    /* folding into the roll-ups changes no answer, also for a late round */
    int64_t folded = 0;
    assert_int_equal(s->ops->rollup(s, cmon_wall_ns(), &folded, &eb), CMON_OK);
    assert_int_equal(folded, 4);
    assert_int_equal(s->ops->rollup(s, cmon_wall_ns(), &folded, &eb), CMON_OK);
    assert_int_equal(folded, 0);
    struct store_result late = result("aaaaaaaaaaaaaaa1", T0 + 50 * CMON_NS_PER_SEC, 8, 6.0);
    ingest(s, &late, 1, NULL, -1, NULL);
    for (int pass = 0; pass < 2; pass++) {
        memset(&p, 0, sizeof p);
        assert_int_equal(s->ops->metric_query(s, &q, collect_point, &p, &eb), CMON_OK);
        assert_int_equal(p.n, 2);
        assert_float_equal(p.v[0], 40.0, 1e-9); /* (0 + 40 + 80) / 3 */
        assert_int_equal(p.samples[0], 3);
        memset(&p, 0, sizeof p);
        assert_int_equal(s->ops->metric_query(s, &q2, collect_point, &p, &eb), CMON_OK);
        assert_float_equal(p.v[0], 8.0, 1e-9);
        assert_int_equal(p.samples[0], 4);
        assert_int_equal(s->ops->rollup(s, cmon_wall_ns(), &folded, &eb), CMON_OK);
        assert_int_equal(folded, pass == 0 ? 1 : 0);
    }

    /* retention drops raw rows only; minute roll-ups stay */
    int64_t deleted = 0;
    assert_int_equal(s->ops->retention(s, T0 + MIN, &deleted, &eb), CMON_OK);
    assert_int_equal(deleted, 4);
    struct collect c = {0};
    assert_int_equal(
        s->ops->result_query(s, "aaaaaaaaaaaaaaa1", 0, INT64_MAX, 100, count_result, &c, &eb),
        CMON_OK);
    assert_int_equal(c.n, 1);
    memset(&p, 0, sizeof p);
    assert_int_equal(s->ops->metric_query(s, &q, collect_point, &p, &eb), CMON_OK);
    assert_int_equal(p.n, 2);

    /* emptying the raw table keeps the roll-ups and the watermark right */
    assert_int_equal(s->ops->retention(s, INT64_MAX, &deleted, &eb), CMON_OK);
    assert_int_equal(deleted, 1);
    struct store_result again = result("aaaaaaaaaaaaaaa1", T0 + 2 * MIN, 2, 1.0);
    ingest(s, &again, 1, NULL, -1, NULL);
    for (int pass = 0; pass < 2; pass++) {
        memset(&p, 0, sizeof p);
        assert_int_equal(s->ops->metric_query(s, &q, collect_point, &p, &eb), CMON_OK);
        assert_int_equal(p.n, 3);
        assert_float_equal(p.v[2], 20.0, 1e-9);
        assert_int_equal(s->ops->rollup(s, cmon_wall_ns(), &folded, &eb), CMON_OK);
        assert_int_equal(folded, pass == 0 ? 1 : 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_exactly_once_and_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_retention, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
