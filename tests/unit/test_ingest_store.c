/* test_ingest_store.c: the writer thread (src/server/writer.c) over a real
 * store -- a temp SQLite file, or the PostgreSQL database named by
 * CMON_TEST_STORE_URL (tests/integration/test_ingest_pg.sh) -- with the
 * exact outcome the batched write paths must keep: every result stored once
 * in arrival order, each test's live figures from its newest round (the last
 * arrival among equal starts, never an older late round), states and one
 * state-change record per change with its reason, duplicates ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/writer.h"
#include "store/store.h"
#include "test_support.h"

#define N_TESTS 3

struct fixture {
    char dir[64], url[512];
    char ids[N_TESTS][17]; /* new ones per case: a PostgreSQL database is shared */
    struct store *s;
    struct writer *ing;
    int64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *env = getenv("CMON_TEST_STORE_URL");
    if (env) {
        snprintf(f->url, sizeof f->url, "%s", env);
    } else {
        snprintf(f->dir, sizeof f->dir, "/tmp/cmon-ingst-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "sqlite:%s/cmon.db", f->dir);
    }
    struct cmon_errbuf eb;
    if (store_open(f->url, STORE_READ_WRITE, &f->s, &eb))
        fail_msg("open: %s", eb.msg);
    static int cases;
    cases++;
    struct store_test t[N_TESTS];
    for (int i = 0; i < N_TESTS; i++) {
        snprintf(f->ids[i], sizeof f->ids[i], "%08x%04x%04x", (unsigned)getpid(), (unsigned)cases,
                 (unsigned)i);
        t[i] = (struct store_test){.id = f->ids[i],
                                   .number = i + 1,
                                   .group = "g",
                                   .source = "agent",
                                   .destination = "dst",
                                   .config = "tcp",
                                   .protocol = CMON_PROTO_TCP,
                                   .target = "127.0.0.1",
                                   .port = 80,
                                   .frequency_sec = 600};
    }
    f->now = cmon_wall_ns();
    char name[40];
    snprintf(name, sizeof name, "ingest%d", (int)getpid());
    if (f->s->ops->monitor_put(f->s, name, "{}", t, N_TESTS, NULL, 0, f->now, NULL, &eb))
        fail_msg("monitor_put: %s", eb.msg);
    struct writer_opts wo = {.store_url = f->url}; /* no timer: only what a test submits */
    if (writer_start(&wo, &f->ing, &eb))
        fail_msg("writer_start: %s", eb.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    writer_stop(f->ing);
    char name[40];
    snprintf(name, sizeof name, "ingest%d", (int)getpid());
    struct cmon_errbuf eb;
    f->s->ops->monitor_delete(f->s, name, &eb);
    store_close(f->s);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static struct cmon_round_result round_of(const struct fixture *f, int test, int64_t start,
                                         int failed, const char *detail)
{
    struct cmon_round_result r = {.start_ns = start, .checks_total = 10};
    snprintf(r.test_id, sizeof r.test_id, "%s", f->ids[test]);
    r.checks_failed = (uint32_t)failed;
    r.has_rtt = failed < 10;
    r.rtt_min_ms = r.rtt_avg_ms = r.rtt_max_ms = 1.5;
    r.dns_ms = r.connect_ms = r.tls_ms = r.first_byte_ms = -1;
    snprintf(r.detail, sizeof r.detail, "%s", detail);
    return r;
}

/* Submit one batch (seq < 0: no exactly-once mark) and wait for its commit. */
static void submit_all(struct fixture *f, const struct cmon_round_result *rs, size_t n, int64_t seq,
                       bool *dup)
{
    struct cmon_errbuf eb;
    bool d = false;
    struct writer_batch b = {.agent = "agent-x", .seq = seq, .results = rs, .n = n};
    assert_int_equal(writer_results(f->ing, &b, writer_deadline(60000), &d, &eb), CMON_OK);
    if (dup)
        *dup = d;
}

struct test_row {
    enum cmon_state state;
    char reason[200], detail[160];
    int64_t last_ns;
    double pct;
};

static int get_test(void *arg, const struct store_test *t)
{
    struct test_row *r = arg;
    r->state = t->state;
    snprintf(r->reason, sizeof r->reason, "%s", t->reason);
    snprintf(r->detail, sizeof r->detail, "%s", t->detail);
    r->last_ns = t->last_result_ns;
    r->pct = t->checks_failed_pct;
    return 0;
}

static struct test_row read_test(struct fixture *f, int i)
{
    struct test_row r = {0};
    struct store_test_filter flt = {.test_id = f->ids[i]};
    struct cmon_errbuf eb;
    assert_int_equal(f->s->ops->test_query(f->s, &flt, get_test, &r, &eb), CMON_OK);
    return r;
}

struct changes {
    int n;
    enum cmon_state to[8];
    char reason[8][200];
};

static int get_change(void *arg, const struct store_state_change *c)
{
    struct changes *cs = arg;
    if (cs->n < 8) {
        cs->to[cs->n] = c->to;
        snprintf(cs->reason[cs->n++], sizeof cs->reason[0], "%s", c->reason);
    }
    return 0;
}

static struct changes read_changes(struct fixture *f, int i)
{
    struct changes c = {0};
    struct cmon_errbuf eb;
    assert_int_equal(f->s->ops->state_changes(f->s, f->ids[i], 0, INT64_MAX, get_change, &c, &eb),
                     CMON_OK);
    return c;
}

struct stored {
    int n;
    char detail[16][160];
};

static int get_result(void *arg, const struct store_result *r)
{
    struct stored *s = arg;
    if (s->n < 16)
        snprintf(s->detail[s->n++], sizeof s->detail[0], "%s", r->r.detail);
    return 0;
}

static struct stored read_results(struct fixture *f, int i)
{
    struct stored s = {0};
    struct cmon_errbuf eb;
    assert_int_equal(
        f->s->ops->result_query(f->s, f->ids[i], 0, INT64_MAX, 100, get_result, &s, &eb), CMON_OK);
    return s;
}

static void test_batched_ingest_outcome(void **state)
{
    struct fixture *f = *state;
    int64_t s = CMON_NS_PER_SEC, t0 = f->now - 120 * s;
    /* test 0 passes; test 1 fails; test 2: two rounds with the same start
     * (the later arrival wins) and a late older round that must not win */
    struct cmon_round_result a[] = {
        round_of(f, 0, t0, 0, "a0"),          round_of(f, 1, t0, 10, "b0"),
        round_of(f, 2, t0 + 30 * s, 0, "c1"), round_of(f, 0, t0 + 30 * s, 0, "a1"),
        round_of(f, 2, t0 + 30 * s, 0, "c2"), round_of(f, 2, t0, 0, "c0-late"),
    };
    bool dup = true;
    submit_all(f, a, sizeof a / sizeof a[0], 1, &dup);
    assert_false(dup);
    struct test_row r0 = read_test(f, 0), r1 = read_test(f, 1), r2 = read_test(f, 2);
    assert_int_equal(r0.state, CMON_STATE_PASS);
    assert_int_equal(r0.last_ns, t0 + 30 * s);
    assert_string_equal(r0.detail, "a1");
    assert_int_equal(r1.state, CMON_STATE_FAIL);
    assert_true(r1.pct > 99.9);
    assert_int_equal(r2.last_ns, t0 + 30 * s);
    assert_string_equal(r2.detail, "c2");
    assert_int_equal(r2.state, CMON_STATE_PASS);

    /* arrival order of raw rows is kept; each result stored once */
    struct stored st = read_results(f, 2);
    assert_int_equal(st.n, 3);
    assert_string_equal(st.detail[0], "c0-late");
    assert_string_equal(st.detail[1], "c1");
    assert_string_equal(st.detail[2], "c2");

    /* the same batch again is a duplicate: nothing more stored */
    submit_all(f, a, sizeof a / sizeof a[0], 1, &dup);
    assert_true(dup);
    assert_int_equal(read_results(f, 2).n, 3);

    /* test 0 starts failing, test 1 stays failing, test 2 stays passing */
    struct cmon_round_result b[] = {
        round_of(f, 0, t0 + 60 * s, 10, "a2"),
        round_of(f, 1, t0 + 60 * s, 10, "b1"),
        round_of(f, 2, t0 + 60 * s, 0, "c3"),
    };
    submit_all(f, b, 3, 2, &dup);
    assert_false(dup);
    r0 = read_test(f, 0);
    assert_int_equal(r0.state, CMON_STATE_FAIL);
    assert_string_equal(r0.detail, "a2");

    struct changes c0 = read_changes(f, 0), c1 = read_changes(f, 1), c2 = read_changes(f, 2);
    assert_int_equal(c0.n, 2);
    assert_int_equal(c0.to[0], CMON_STATE_PASS);
    assert_int_equal(c0.to[1], CMON_STATE_FAIL);
    assert_string_equal(c0.reason[1], r0.reason);
    assert_int_equal(c1.n, 1);
    assert_int_equal(c1.to[0], CMON_STATE_FAIL);
    assert_string_equal(c1.reason[0], read_test(f, 1).reason);
    assert_int_equal(c2.n, 1);
    assert_int_equal(c2.to[0], CMON_STATE_PASS);

    struct writer_stats stats;
    writer_get_stats(f->ing, &stats);
    assert_int_equal(stats.results_stored, 9);
    assert_int_equal(stats.batches_duplicate, 1);
    assert_int_equal(stats.results_dropped, 0);
}

struct points {
    int64_t samples;
    double sum;
    int buckets;
};

static int add_point(void *arg, int64_t bucket_ns, double value, int64_t samples)
{
    struct points *p = arg;
    (void)bucket_ns;
    p->samples += samples;
    p->sum += value;
    p->buckets++;
    return 0;
}

/* Many tests in one transaction: the multi-row insert's full chunks and
 * its remainder, and one live-figure write per test. */
static void test_many_results_one_transaction(void **state)
{
    struct fixture *f = *state;
    int64_t s = CMON_NS_PER_SEC, t0 = f->now - 300 * s;
    enum { PER_TEST = 70 };
    struct cmon_round_result rs[N_TESTS * PER_TEST];
    size_t n = 0;
    for (int k = 0; k < PER_TEST; k++) {
        for (int i = 0; i < N_TESTS; i++) {
            char d[16];
            snprintf(d, sizeof d, "r%d", k);
            rs[n++] = round_of(f, i, t0 + k * s, i == 1 ? 10 : 0, d);
        }
    }
    submit_all(f, rs, n, -1, NULL);
    for (int i = 0; i < N_TESTS; i++) {
        struct test_row r = read_test(f, i);
        assert_int_equal(r.last_ns, t0 + (PER_TEST - 1) * s);
        assert_string_equal(r.detail, "r69");
        assert_int_equal(r.state, i == 1 ? CMON_STATE_FAIL : CMON_STATE_PASS);
        assert_int_equal(read_changes(f, i).n, 1);
    }
    /* every raw row once: the hourly series of test 1 counts them all */
    struct points p = {0};
    struct cmon_errbuf eb;
    struct store_metric_query q = {.metric = STORE_METRIC_FAILED_PCT,
                                   .agg = STORE_AGG_AVG,
                                   .interval_ns = 3600 * s,
                                   .from_ns = 0,
                                   .to_ns = f->now + 3600 * s,
                                   .n_filters = 1};
    q.filters[0].dim = CMON_DIM_TEST_ID;
    q.filters[0].value = f->ids[1];
    assert_int_equal(f->s->ops->metric_query(f->s, &q, add_point, &p, &eb), CMON_OK);
    assert_int_equal(p.samples, PER_TEST);
    assert_true(p.sum > 99.9 * (double)p.buckets && p.sum < 100.1 * (double)p.buckets);
}

/* A batch touching more tests than the evaluator looks up one by one (it
 * then scans every test once, on SQLite): exactly the touched tests get
 * their verdict; the others, in the same and another monitor, keep theirs. */
static void test_many_tests_one_batch(void **state)
{
    struct fixture *f = *state;
    enum { N = 400, TOUCHED = 300 };
    int64_t s = CMON_NS_PER_SEC, t0 = f->now - 60 * s;
    static char ids[N][17];
    struct store_test *t = calloc(N, sizeof *t);
    struct cmon_round_result *rs = calloc(TOUCHED, sizeof *rs);
    assert_non_null(t);
    assert_non_null(rs);
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%08xff%06x", (unsigned)getpid(), (unsigned)i);
        t[i] = (struct store_test){.id = ids[i], .number = i + 1, .group = "g", .source = "agent",
                                   .destination = "dst", .config = "tcp",
                                   .protocol = CMON_PROTO_TCP, .target = "127.0.0.1",
                                   .port = 80, .frequency_sec = 600};
    }
    char name[40];
    snprintf(name, sizeof name, "ingestscan%d", (int)getpid());
    struct cmon_errbuf eb;
    if (f->s->ops->monitor_put(f->s, name, "{}", t, N, NULL, 0, f->now, NULL, &eb))
        fail_msg("monitor_put: %s", eb.msg);
    /* an untouched test with a stored state its data would not give: a
     * re-evaluation (a scan that forgot the list) would reset it */
    bool ch = false;
    assert_int_equal(f->s->ops->tx_begin(f->s, &eb), CMON_OK);
    assert_int_equal(f->s->ops->test_set_state(f->s, ids[0], CMON_STATE_FAIL, "set by hand",
                                               f->now, &ch, &eb),
                     CMON_OK);
    assert_int_equal(f->s->ops->tx_commit(f->s, &eb), CMON_OK);
    assert_true(ch);
    for (int i = 0; i < TOUCHED; i++) { /* every 3rd touched test fails */
        rs[i] = round_of(f, 0, t0, i % 3 == 0 ? 10 : 0, "x");
        snprintf(rs[i].test_id, sizeof rs[i].test_id, "%s", ids[N - 1 - i]);
    }
    submit_all(f, rs, TOUCHED, -1, NULL);
    for (int i = 0; i < N; i++) {
        struct test_row r = {0};
        struct store_test_filter flt = {.test_id = ids[N - 1 - i]};
        assert_int_equal(f->s->ops->test_query(f->s, &flt, get_test, &r, &eb), CMON_OK);
        enum cmon_state want = i == N - 1     ? CMON_STATE_FAIL /* ids[0], set by hand */
                               : i >= TOUCHED ? CMON_STATE_INDETERMINATE
                               : i % 3 == 0 ? CMON_STATE_FAIL
                                            : CMON_STATE_PASS;
        if (r.state != want)
            fail_msg("test %d: state %d, want %d (%s)", i, (int)r.state, (int)want, r.reason);
    }
    for (int i = 0; i < N_TESTS; i++) /* the fixture's monitor was not touched */
        assert_int_equal(read_changes(f, i).n, 0);
    f->s->ops->monitor_delete(f->s, name, &eb);
    free(rs);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batched_ingest_outcome, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_results_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_tests_one_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
