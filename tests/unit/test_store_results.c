/* test_store_results.c: the backend-neutral store suite, results: batches
 * ingested exactly once, the latest result per test, metric series, roll-up
 * and retention, tests' newest state change and round before a moment.
 * The fixture: store_suite.h. */
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

/* What tests_last gave for each test (up to 4). */
struct last_seen {
    int calls;
    size_t i[4];
    bool has_c[4], has_r[4];
    int64_t at_ns[4];
    enum cmon_state to[4];
    char reason[4][64];
    char round[4][64]; /* count_result's text of the round */
    double rtt[4];
    int stop_after; /* 0: never stop */
};

static int keep_last(void *arg, size_t i, const struct store_state_change *c,
                     const struct store_result *r)
{
    struct last_seen *l = arg;
    int k = l->calls++;
    assert_true(k < 4);
    l->i[k] = i;
    l->has_c[k] = c;
    l->has_r[k] = r;
    if (c) {
        l->at_ns[k] = c->at_ns;
        l->to[k] = c->to;
        snprintf(l->reason[k], sizeof l->reason[k], "%s", c->reason);
    }
    if (r) {
        struct collect one = {0};
        count_result(&one, r);
        snprintf(l->round[k], sizeof l->round[k], "%s", one.bodies[0]);
        l->rtt[k] = r->r.rtt_avg_ms;
    }
    return l->stop_after && l->calls == l->stop_after;
}

/* tests_last of one test: its change before to, its round in [from, to). */
static struct last_seen last_of(struct store *s, const char *id, int64_t from, int64_t to)
{
    struct last_seen l = {0};
    struct cmon_errbuf eb;
    struct store_last_query q = {id, from};
    assert_int_equal(s->ops->tests_last(s, &q, 1, to, keep_last, &l, &eb), CMON_OK);
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.i[0], 0);
    return l;
}

/* What state_changes over the same span leaves when each row replaces the
 * one before (the views at= before tests_last). */
static int scan_change(void *arg, const struct store_state_change *c)
{
    struct last_seen *l = arg;
    l->has_c[0] = true;
    l->at_ns[0] = c->at_ns;
    l->to[0] = c->to;
    snprintf(l->reason[0], sizeof l->reason[0], "%s", c->reason);
    return 0;
}

/* The newest state change before a moment: one exactly then counts only
 * when the moment is past it, none before gives NULL, and of several at the
 * same time the last stored wins, as a walk of state_changes keeping the
 * last gives. */
static void test_last_state_change(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    const char *id = "aaaaaaaaaaaaaaa1";
    assert_false(last_of(s, id, 0, INT64_MAX).has_c[0]);
    bool changed;
    const struct {
        enum cmon_state st;
        const char *reason;
        int64_t at;
    } writes[] = {
        {CMON_STATE_PASS, "", T0},
        {CMON_STATE_FAIL, "ChecksFailedPercent 40 > 5", T0 + 2 * SEC},
        {CMON_STATE_WARNING, "w", T0 + 5 * SEC}, /* two at the same time */
        {CMON_STATE_PASS, "p", T0 + 5 * SEC},
    };
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        assert_int_equal(s->ops->test_set_state(s, id, writes[i].st, writes[i].reason, writes[i].at,
                                                &changed, &eb),
                         CMON_OK);
        assert_true(changed);
    }
    assert_false(last_of(s, id, 0, T0).has_c[0]); /* none before */
    struct last_seen l = last_of(s, id, 0, T0 + 1); /* exactly at T0 */
    assert_true(l.has_c[0]);
    assert_int_equal(l.at_ns[0], T0);
    assert_int_equal(l.to[0], CMON_STATE_PASS);
    l = last_of(s, id, 0, T0 + 5 * SEC);
    assert_int_equal(l.to[0], CMON_STATE_FAIL);
    assert_string_equal(l.reason[0], "ChecksFailedPercent 40 > 5");
    l = last_of(s, id, 0, T0 + 5 * SEC + 1);
    assert_int_equal(l.at_ns[0], T0 + 5 * SEC);
    assert_int_equal(l.to[0], CMON_STATE_PASS);
    assert_string_equal(l.reason[0], "p");
    const int64_t tos[] = {T0, T0 + 1, T0 + 3 * SEC, T0 + 5 * SEC + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof tos / sizeof tos[0]; i++) {
        struct last_seen a = last_of(s, id, 0, tos[i]), b = {0};
        assert_int_equal(s->ops->state_changes(s, id, 0, tos[i], scan_change, &b, &eb), CMON_OK);
        assert_int_equal(a.has_c[0], b.has_c[0]);
        assert_int_equal(a.at_ns[0], b.at_ns[0]);
        assert_int_equal(a.to[0], b.to[0]);
        assert_string_equal(a.reason[0], b.reason[0]);
    }
    assert_false(last_of(s, "aaaaaaaaaaaaaaa2", 0, INT64_MAX).has_c[0]); /* another test's */
}

/* The newest round in a window: one starting exactly at its end is out,
 * at its start in; an empty window gives NULL; of two rounds with the same
 * start the one stored last wins, as result_query keeping its last. */
static void test_last_result(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    const char *id = "aaaaaaaaaaaaaaa1";
    assert_false(last_of(s, id, 0, INT64_MAX).has_r[0]);
    struct store_result rs[] = {
        result(id, T0, 0, 2.0),
        result(id, T0 + 30 * SEC, 4, 4.0),
        result(id, T0 + MIN, 1, 1.0), /* the same start twice */
        result(id, T0 + MIN, 2, 7.0),
    };
    ingest(s, rs, 4, NULL, -1, NULL);
    struct store_result later = result(id, T0 + MIN, 3, 9.0); /* and a third, later */
    struct last_seen l = last_of(s, id, T0 - 5 * MIN, T0 + MIN);
    assert_true(l.has_r[0]);
    assert_string_equal(l.round[0], "local 4/10 connection_refused");
    l = last_of(s, id, T0 - 5 * MIN, T0 + 30 * SEC); /* one starting at `to` is out */
    assert_string_equal(l.round[0], "local 0/10 ");
    l = last_of(s, id, T0 + 30 * SEC, T0 + 31 * SEC); /* at `from` in */
    assert_string_equal(l.round[0], "local 4/10 connection_refused");
    for (int pass = 0; pass < 2; pass++) {
        l = last_of(s, id, T0, T0 + MIN + 1);
        assert_string_equal(l.round[0], pass ? "local 3/10 connection_refused"
                                             : "local 2/10 connection_refused");
        assert_float_equal(l.rtt[0], pass ? 9.0 : 7.0, 0);
        struct collect all = {0};
        assert_int_equal(
            s->ops->result_query(s, id, T0, T0 + MIN + 1, 100, count_result, &all, &eb), CMON_OK);
        assert_string_equal(all.bodies[all.n - 1], l.round[0]);
        ingest(s, &later, 1, NULL, -1, NULL);
    }
    assert_false(last_of(s, id, T0 + MIN + 1, T0 + 2 * MIN).has_r[0]); /* none in the window */
    assert_false(last_of(s, id, T0 - 5 * MIN, T0).has_r[0]);
    assert_false(last_of(s, "aaaaaaaaaaaaaaa2", 0, INT64_MAX).has_r[0]);
}

/* Several tests at once: one call per test in the order given, each with
 * its own window; unknown ids and tests without history get NULLs; a
 * callback's non-zero stops; no tests, no call. */
static void test_tests_last_many(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    const char *a = "aaaaaaaaaaaaaaa1", *b = "aaaaaaaaaaaaaaa2";
    bool changed;
    assert_int_equal(s->ops->test_set_state(s, b, CMON_STATE_FAIL, "down", T0, &changed, &eb),
                     CMON_OK);
    struct store_result rs[] = {result(a, T0, 0, 2.0), result(b, T0 + SEC, 10, 0)};
    ingest(s, rs, 2, NULL, -1, NULL);
    const struct store_last_query q[] = {{b, T0}, {"nosuchtest", 0}, {a, T0 + 1}, {a, T0}};
    struct last_seen l = {0};
    assert_int_equal(s->ops->tests_last(s, q, 4, T0 + MIN, keep_last, &l, &eb), CMON_OK);
    assert_int_equal(l.calls, 4);
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(l.i[k], k);
    assert_true(l.has_c[0] && l.has_r[0]);
    assert_string_equal(l.reason[0], "down");
    assert_string_equal(l.round[0], "local 10/10 connection_refused");
    assert_false(l.has_c[1] || l.has_r[1]);
    assert_false(l.has_c[2] || l.has_r[2]); /* its round is before the window */
    assert_true(!l.has_c[3] && l.has_r[3]);
    assert_string_equal(l.round[3], "local 0/10 ");
    l = (struct last_seen){.stop_after = 2};
    assert_int_equal(s->ops->tests_last(s, q, 4, T0 + MIN, keep_last, &l, &eb), CMON_OK);
    assert_int_equal(l.calls, 2);
    l = (struct last_seen){0};
    assert_int_equal(s->ops->tests_last(s, q, 0, T0 + MIN, keep_last, &l, &eb), CMON_OK);
    assert_int_equal(l.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_exactly_once_and_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_state_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tests_last_many, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
