/* test_store.c: the backend-neutral store suite.  Every test talks to the
 * store only through store_ops, so a second backend runs it unchanged: set
 * CMON_TEST_STORE_URL (e.g. postgres://...) to run it there (each test then
 * starts from an emptied database: the public schema is dropped and made
 * again); by default each test gets a fresh SQLite database in a temporary
 * directory.  The optional ops (alerts, remote agents) are here too: every
 * backend implements them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "store/store.h"
#include "test_support.h"

#define T0 1767323040000000000LL /* 2026-01-02T03:04:00Z, a minute boundary */
#define MIN (60 * CMON_NS_PER_SEC)
#define SEC CMON_NS_PER_SEC

struct fixture {
    char dir[64];
    char url[256];
    struct store *s;
};

/* An empty database for the next test (PostgreSQL only). */
static void reset_postgres(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect %s: %s", url, PQerrorMessage(c));
    PQsetNoticeProcessor(c, NULL, NULL);
    PGresult *r = PQexec(c, "SET client_min_messages = warning;"
                            "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("reset %s: %s", url, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *env = getenv("CMON_TEST_STORE_URL");
    if (env) {
        snprintf(f->url, sizeof f->url, "%s", env);
        if (strncmp(env, "postgres", 8) == 0)
            reset_postgres(env);
    } else {
        snprintf(f->dir, sizeof f->dir, "/tmp/cmon-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof f->url, "sqlite:%s/sub/cmon.db", f->dir);
    }
    struct cmon_errbuf eb;
    enum cmon_err err = store_open(f->url, STORE_READ_WRITE, &f->s, &eb);
    if (err)
        fail_msg("store_open %s: %s", f->url, eb.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static struct store_test make_test(const char *id, int number, const char *group, const char *dst,
                                   enum cmon_protocol proto, int port)
{
    struct store_test t = {
        .id = id,
        .number = number,
        .group = group,
        .source = "local",
        .source_address = "local",
        .source_type = "Agent",
        .destination = dst,
        .destination_address = "127.0.0.1",
        .destination_type = "ExternalAddress",
        .config = proto == CMON_PROTO_TCP ? "tcp" : "ping",
        .protocol = proto,
        .target = "127.0.0.1",
        .port = port,
        .frequency_sec = 30,
        .has_failed_pct_threshold = true,
        .failed_pct_threshold = 5,
    };
    return t;
}

static void put_two(struct store *s, const char *mon, bool *created)
{
    struct store_test t[2] = {
        make_test("aaaaaaaaaaaaaaa1", 1, "tg1", "web", CMON_PROTO_TCP, 80),
        make_test("aaaaaaaaaaaaaaa2", 2, "tg2", "db", CMON_PROTO_ICMP, 0),
    };
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->monitor_put(s, mon, "{\"x\":1}", t, 2, T0, created, &eb), CMON_OK);
}

struct collect {
    int n;
    char names[8][32];
    char bodies[8][64];
    bool running[8];
    struct store_test tests[8];
    char ids[8][17];
};

static int collect_monitor(void *arg, const struct store_monitor *m)
{
    struct collect *c = arg;
    snprintf(c->names[c->n], 32, "%s", m->name);
    snprintf(c->bodies[c->n], 64, "%s", m->body);
    c->running[c->n++] = m->running;
    return 0;
}

static int collect_test(void *arg, const struct store_test *t)
{
    struct collect *c = arg;
    if (c->n == 8)
        return 1;
    c->tests[c->n] = *t; /* strings are not kept: only scalar fields are checked */
    snprintf(c->ids[c->n], 17, "%s", t->id);
    snprintf(c->names[c->n], 32, "%s", t->group);
    snprintf(c->bodies[c->n++], 64, "%s", t->reason);
    return 0;
}

static void test_monitor_crud(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    bool created = false;
    put_two(s, "m1", &created);
    assert_true(created);
    put_two(s, "m1", &created);
    assert_false(created);
    put_two(s, "m0", &created);

    struct collect c = {0};
    assert_int_equal(s->ops->monitor_list(s, collect_monitor, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.names[0], "m0");
    assert_string_equal(c.names[1], "m1");
    assert_string_equal(c.bodies[1], "{\"x\":1}");
    assert_true(c.running[1]);

    assert_int_equal(s->ops->monitor_set_running(s, "m1", false, T0, &eb), CMON_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->monitor_get(s, "m1", collect_monitor, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_false(c.running[0]);

    size_t n = 0;
    assert_int_equal(s->ops->monitor_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 2);
    assert_int_equal(s->ops->monitor_delete(s, "m1", &eb), CMON_OK);
    assert_int_equal(s->ops->monitor_delete(s, "m1", &eb), CMON_ERR_NOTFOUND);
    assert_string_equal(eb.msg, "connection monitor 'm1' not found");
    assert_int_equal(s->ops->monitor_get(s, "m1", collect_monitor, &c, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->monitor_set_running(s, "nope", true, T0, &eb), CMON_ERR_NOTFOUND);
    /* the deleted monitor's tests are gone; the other's remain */
    memset(&c, 0, sizeof c);
    assert_int_equal(s->ops->test_query(s, NULL, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
}

static void test_tests_filters(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    struct collect c = {0};
    struct store_test_filter flt = {
        .monitor = "m1", .has_protocol = true, .protocol = CMON_PROTO_ICMP};
    assert_int_equal(s->ops->test_query(s, &flt, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.ids[0], "aaaaaaaaaaaaaaa2");
    assert_int_equal(c.tests[0].state, CMON_STATE_INDETERMINATE);
    assert_string_equal(c.bodies[0], "no result yet");
    assert_false(c.tests[0].has_result);
    assert_true(c.tests[0].monitor_running);

    memset(&c, 0, sizeof c);
    struct store_test_filter search = {.search = "TG1", .scope = STORE_SCOPE_TEST_GROUPS};
    assert_int_equal(s->ops->test_query(s, &search, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "tg1");

    memset(&c, 0, sizeof c);
    search.search = "tg1";
    search.scope = STORE_SCOPE_DESTINATIONS; /* no destination is called tg1 */
    assert_int_equal(s->ops->test_query(s, &search, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 0);

    bool changed = false;
    assert_int_equal(s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_FAIL,
                                            "ChecksFailedPercent 100 > 5", T0, &changed, &eb),
                     CMON_OK);
    assert_true(changed);
    memset(&c, 0, sizeof c);
    struct store_test_filter failing = {.has_state = true, .state = CMON_STATE_FAIL};
    assert_int_equal(s->ops->test_query(s, &failing, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.bodies[0], "ChecksFailedPercent 100 > 5");
    assert_int_equal(c.tests[0].state_since_ns, T0);
}

static struct store_result result(const char *test_id, int64_t start, uint32_t failed, double rtt)
{
    struct store_result r = {.agent = "local"};
    snprintf(r.r.test_id, sizeof r.r.test_id, "%s", test_id);
    r.r.start_ns = start;
    r.r.checks_total = 10;
    r.r.checks_failed = failed;
    r.r.has_rtt = failed < 10;
    r.r.rtt_min_ms = rtt - 1;
    r.r.rtt_avg_ms = rtt;
    r.r.rtt_max_ms = rtt + 1;
    r.r.diagnostic = failed ? CMON_DIAG_CONNECTION_REFUSED : CMON_DIAG_NONE;
    snprintf(r.r.detail, sizeof r.r.detail, "%s", failed ? "errno 111" : "");
    r.r.dns_ms = r.r.connect_ms = r.r.tls_ms = r.r.first_byte_ms = -1;
    return r;
}

static void ingest(struct store *s, const struct store_result *rs, size_t n, const char *agent,
                   int64_t seq, bool *dup)
{
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->ingest_begin(s, &eb), CMON_OK);
    if (seq >= 0) {
        assert_int_equal(s->ops->ingest_batch_mark(s, agent, seq, T0, dup, &eb), CMON_OK);
        if (*dup) {
            s->ops->ingest_rollback(s);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s->ops->ingest_result(s, &rs[i], &eb), CMON_OK);
    assert_int_equal(s->ops->ingest_commit(s, &eb), CMON_OK);
}

struct points {
    int n;
    int64_t t[8];
    double v[8];
    int64_t samples[8];
};

static int collect_point(void *arg, int64_t b, double v, int64_t samples)
{
    struct points *p = arg;
    if (p->n < 8) {
        p->t[p->n] = b;
        p->v[p->n] = v;
        p->samples[p->n++] = samples;
    }
    return 0;
}

static int count_result(void *arg, const struct store_result *r)
{
    struct collect *c = arg;
    if (c->n < 8) {
        snprintf(c->bodies[c->n], 64, "%s %u/%u %s", r->agent, r->r.checks_failed,
                 r->r.checks_total, cmon_diag_code(r->r.diagnostic));
        c->tests[c->n].rtt_ms = r->r.rtt_avg_ms;
        c->tests[c->n].has_rtt = r->r.has_rtt;
    }
    c->n++;
    return 0;
}

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
    q.filters[0].dim = STORE_DIM_PROTOCOL;
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
    q3.filters[0].dim = STORE_DIM_DEST_NAME;
    q3.filters[0].value = "db";
    memset(&p, 0, sizeof p);
    assert_int_equal(s->ops->metric_query(s, &q3, collect_point, &p, &eb), CMON_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.t[0], T0 + 10 * CMON_NS_PER_SEC);
    assert_float_equal(p.v[0], 20.0, 1e-9);

    /* folding into the roll-ups changes no answer, also for a late round */
    int64_t folded = 0;
    assert_int_equal(s->ops->rollup(s, &folded, &eb), CMON_OK);
    assert_int_equal(folded, 4);
    assert_int_equal(s->ops->rollup(s, &folded, &eb), CMON_OK);
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
        assert_int_equal(s->ops->rollup(s, &folded, &eb), CMON_OK);
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
        assert_int_equal(s->ops->rollup(s, &folded, &eb), CMON_OK);
        assert_int_equal(folded, pass == 0 ? 1 : 0);
    }
}

static void test_reapply_keeps_state(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    bool changed;
    assert_int_equal(
        s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_PASS, "", T0, &changed, &eb),
        CMON_OK);
    assert_true(changed);
    assert_int_equal(
        s->ops->test_set_state(s, "aaaaaaaaaaaaaaa1", CMON_STATE_PASS, "", T0 + MIN, &changed, &eb),
        CMON_OK);
    assert_false(changed);
    /* re-apply with test 2 gone and a new test 3 */
    struct store_test t[2] = {
        make_test("aaaaaaaaaaaaaaa1", 1, "tg1", "web", CMON_PROTO_TCP, 80),
        make_test("aaaaaaaaaaaaaaa3", 2, "tg1", "web", CMON_PROTO_ICMP, 0),
    };
    assert_int_equal(s->ops->monitor_put(s, "m1", "{}", t, 2, T0 + 2 * MIN, NULL, &eb), CMON_OK);
    struct collect c = {0};
    assert_int_equal(s->ops->test_query(s, NULL, collect_test, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.ids[0], "aaaaaaaaaaaaaaa1");
    assert_int_equal(c.tests[0].state, CMON_STATE_PASS);
    assert_int_equal(c.tests[0].state_since_ns, T0);
    assert_string_equal(c.ids[1], "aaaaaaaaaaaaaaa3");
    assert_int_equal(c.tests[1].state, CMON_STATE_INDETERMINATE);
    assert_int_equal(s->ops->test_set_state(s, "zzzz", CMON_STATE_PASS, "", T0, &changed, &eb),
                     CMON_ERR_NOTFOUND);
}

static int collect_change(void *arg, const struct store_state_change *ch)
{
    struct collect *c = arg;
    snprintf(c->bodies[c->n++], 64, "%d->%d %s", ch->from, ch->to, ch->reason);
    return 0;
}

static void test_state_history(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    put_two(s, "m1", NULL);
    bool changed;
    const char *id = "aaaaaaaaaaaaaaa1";
    s->ops->test_set_state(s, id, CMON_STATE_PASS, "", T0, &changed, &eb);
    s->ops->test_set_state(s, id, CMON_STATE_PASS, "", T0 + 1, &changed, &eb);
    s->ops->test_set_state(s, id, CMON_STATE_FAIL, "ChecksFailedPercent 40 > 5", T0 + 2, &changed,
                           &eb);
    struct collect c = {0};
    assert_int_equal(s->ops->state_changes(s, id, 0, INT64_MAX, collect_change, &c, &eb), CMON_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.bodies[0], "0->1 ");
    assert_string_equal(c.bodies[1], "1->3 ChecksFailedPercent 40 > 5");
}

static void test_tokens(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    char tok[64], hash[65];
    assert_int_equal(store_token_new(tok, &eb), CMON_OK);
    assert_int_equal(strlen(tok), 45);
    assert_memory_equal(tok, "cmon_", 5);
    store_token_hash("abc", hash);
    assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    size_t n = 9;
    assert_int_equal(s->ops->token_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 0);
    store_token_hash(tok, hash);
    assert_int_equal(s->ops->token_add(s, hash, STORE_ROLE_READER, "ci", T0, &eb), CMON_OK);
    enum store_role role = STORE_ROLE_ADMIN;
    char name[16];
    assert_int_equal(s->ops->token_lookup(s, hash, &role, name, sizeof name, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_READER);
    assert_string_equal(name, "ci");
    store_token_hash("cmon_wrong", hash);
    assert_int_equal(s->ops->token_lookup(s, hash, &role, NULL, 0, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->token_count(s, &n, &eb), CMON_OK);
    assert_int_equal(n, 1);
    assert_true(store_role_parse("agent", &role));
    assert_int_equal(role, STORE_ROLE_AGENT);
    assert_false(store_role_parse("root", &role));
}

static void test_agents_paths_alerts(void **state)
{
    struct fixture *f = *state;
    struct store *s = f->s;
    struct cmon_errbuf eb;
    int64_t ns = 0;
    assert_int_equal(s->ops->agent_last_seen(s, "a", &ns, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_seen(s, "a", T0 + 5, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "a", T0, &eb), CMON_OK); /* never goes back */
    assert_int_equal(s->ops->agent_last_seen(s, "a", &ns, &eb), CMON_OK);
    assert_int_equal(ns, T0 + 5);

    char *hops = NULL;
    assert_int_equal(s->ops->path_latest(s, "t", &hops, &ns, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->path_put(s, "t", T0, "[1]", &eb), CMON_OK);
    assert_int_equal(s->ops->path_put(s, "t", T0 + 1, "[1,2]", &eb), CMON_OK);
    assert_int_equal(s->ops->path_latest(s, "t", &hops, &ns, &eb), CMON_OK);
    assert_string_equal(hops, "[1,2]");
    assert_int_equal(ns, T0 + 1);
    free(hops);

    assert_int_equal(s->ops->alert_rule_put(s, "r1", "{\"a\":1}", &eb), CMON_OK);
    json_t *list = NULL;
    assert_int_equal(s->ops->alert_rule_list(s, &list, &eb), CMON_OK);
    char *text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "[{\"name\":\"r1\",\"rule\":{\"a\":1}}]");
    free(text);
    json_decref(list);
    assert_int_equal(s->ops->alert_rule_delete(s, "r1", &eb), CMON_OK);
    assert_int_equal(s->ops->alert_rule_delete(s, "r1", &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->alert_event_add(s, "r1", "t", T0, "fired", &eb), CMON_OK);
    assert_int_equal(s->ops->alert_event_list(s, 0, 10, &list, &eb), CMON_OK);
    text = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "[{\"message\":\"fired\",\"rule\":\"r1\",\"testId\":\"t\","
                              "\"time\":\"2026-01-02T03:04:00.000Z\"}]");
    free(text);
    json_decref(list);
}

static void test_read_only_and_sql(void **state)
{
    struct fixture *f = *state;
    struct cmon_errbuf eb;
    put_two(f->s, "m1", NULL);
    struct store_result r = result("aaaaaaaaaaaaaaa1", T0, 1, 3.0);
    ingest(f->s, &r, 1, NULL, -1, NULL);
    assert_int_equal(f->s->ops->token_add(f->s, "h", STORE_ROLE_ADMIN, "", T0, &eb), CMON_OK);

    json_t *out = NULL;
    assert_int_equal(f->s->ops->sql_query(f->s, "SELECT 1", 10, 1000, &out, &eb), CMON_ERR_PERM);

    struct store *ro = NULL;
    assert_int_equal(store_open(f->url, STORE_READ_ONLY, &ro, &eb), CMON_OK);
    assert_int_equal(ro->ops->monitor_put(ro, "m2", "{}", NULL, 0, T0, NULL, &eb), CMON_ERR_STORE);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT test_id, checks_failed, rtt_avg FROM results",
                                        10, 1000, &out, &eb),
                     CMON_OK);
    char *text = json_dumps(out, JSON_COMPACT);
    assert_string_equal(text, "{\"columns\":[\"test_id\",\"checks_failed\",\"rtt_avg\"],"
                              "\"rows\":[[\"aaaaaaaaaaaaaaa1\",1,3.0]],\"truncated\":false}");
    free(text);
    json_decref(out);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT hash FROM tokens", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_int_equal(ro->ops->sql_query(ro, "DELETE FROM results", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT 1; SELECT 2", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "only one read-only SELECT is allowed");
    assert_int_equal(ro->ops->sql_query(ro,
                                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1"
                                        " FROM c) SELECT count(*) FROM c",
                                        10, 100, &out, &eb),
                     CMON_ERR_TIMEOUT);
    assert_int_equal(ro->ops->sql_query(ro,
                                        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1"
                                        " FROM c WHERE x < 50) SELECT x FROM c",
                                        3, 1000, &out, &eb),
                     CMON_OK);
    assert_int_equal(json_array_size(json_object_get(out, "rows")), 3);
    assert_true(json_is_true(json_object_get(out, "truncated")));
    json_decref(out);
    /* token lookups still work on the same connection after the authorizer */
    enum store_role role;
    assert_int_equal(ro->ops->token_lookup(ro, "h", &role, NULL, 0, &eb), CMON_OK);
    store_close(ro);
}

/* ---- optional ops (alerts, remote agents): every backend implements them ---- */

static const char *str(const json_t *j, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(j, i), key));
}

static json_t *query(struct store *s, const char *state, const char *rule, const char *monitor)
{
    struct store_alert_filter f = {state, rule, monitor};
    json_t *out = NULL;
    bool more = false;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->alert_query(s, &f, 0, 100, &out, &more, &eb), CMON_OK);
    assert_false(more);
    return out;
}

static json_t *instance(const char *key, const char *rule, const char *state, int64_t pending,
                        const char *monitor)
{
    return json_pack("{s:s, s:s, s:s, s:{}, s:i, s:i, s:f, s:f, s:s, s:[], s:[s], "
                     "s:{s:I, s:I, s:I, s:I}}",
                     "key", key, "rule", rule, "state", state, "labels", "severity", 1, "breaches",
                     1, "value", 50.0, "firedValue", 50.0, "summary", "x", "actionGroups",
                     "monitors", monitor, "timesNs", "pending", (json_int_t)pending, "fired",
                     (json_int_t)0, "resolved", (json_int_t)0, "lastEval", (json_int_t)pending);
}

static void test_action_groups(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    bool created = false;
    assert_int_equal(s->ops->action_group_put(s, "ops", "{\"name\":\"ops\"}", &created, &eb),
                     CMON_OK);
    assert_true(created);
    assert_int_equal(
        s->ops->action_group_put(s, "ops", "{\"name\":\"ops\",\"v\":2}", &created, &eb), CMON_OK);
    assert_false(created);
    assert_int_equal(s->ops->action_group_put(s, "a", "{\"name\":\"a\"}", NULL, &eb), CMON_OK);
    json_t *list = NULL;
    assert_int_equal(s->ops->action_group_list(s, &list, &eb), CMON_OK);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(list, 0, "name"), "a");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(list, 1), "group"), "v")),
        2);
    json_decref(list);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_OK);
    assert_int_equal(s->ops->action_group_delete(s, "a", &eb), CMON_ERR_NOTFOUND);
    assert_string_equal(eb.msg, "action group 'a' not found");
}

static void test_alert_episodes(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    json_t *items = json_pack("[o, o, o]", instance("r{x=\"1\"}", "r", "firing", T0, "edge"),
                              instance("r{x=\"2\"}", "r", "pending", T0 + SEC, "core"),
                              instance("q", "q", "firing", T0 + 2 * SEC, "edge"));
    json_t *tr = json_pack("[{s:s, s:s, s:s, s:I, s:f}]", "key", "q", "rule", "q", "event",
                           "firing", "atNs", (json_int_t)(T0 + 2 * SEC), "value", 50.0);
    assert_int_equal(s->ops->alert_save(s, items, tr, T0 + 2 * SEC, &eb), CMON_OK);
    json_t *all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 3);
    assert_string_equal(str(all, 0, "key"), "q"); /* newest first */
    json_decref(all);
    json_t *q = query(s, "firing", "r", "edge");
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(str(q, 0, "key"), "r{x=\"1\"}");
    json_decref(q);
    q = query(s, NULL, NULL, "core");
    assert_int_equal(json_array_size(q), 1);
    json_decref(q);
    /* paging */
    struct store_alert_filter f = {0};
    bool more = false;
    assert_int_equal(s->ops->alert_query(s, &f, 1, 1, &q, &more, &eb), CMON_OK);
    assert_true(more);
    assert_string_equal(str(q, 0, "key"), "r{x=\"2\"}");
    json_decref(q);

    /* next evaluation: the pending one ended silently, q resolved */
    json_decref(items);
    json_decref(tr);
    items = json_pack("[o, o]", instance("r{x=\"1\"}", "r", "firing", T0, "edge"),
                      instance("q", "q", "resolved", T0 + 2 * SEC, "edge"));
    tr = json_pack("[{s:s, s:s, s:s, s:I, s:f}]", "key", "q", "rule", "q", "event", "resolved",
                   "atNs", (json_int_t)(T0 + 12 * SEC), "value", 0.0);
    assert_int_equal(s->ops->alert_save(s, items, tr, T0 + 12 * SEC, &eb), CMON_OK);
    all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    json_t *active = NULL;
    assert_int_equal(s->ops->alert_active(s, &active, &eb), CMON_OK);
    assert_int_equal(json_array_size(active), 1);
    assert_string_equal(str(active, 0, "key"), "r{x=\"1\"}");
    json_decref(active);
    json_t *hist = NULL;
    assert_int_equal(s->ops->alert_transitions(s, "q", &hist, &eb), CMON_OK);
    assert_int_equal(json_array_size(hist), 2);
    assert_string_equal(str(hist, 0, "event"), "firing");
    assert_string_equal(str(hist, 1, "event"), "resolved");
    assert_string_equal(str(hist, 1, "at"), "2026-01-02T03:04:12.000Z");
    json_decref(hist);
    /* retention: the resolved episode and transitions before the cut go */
    int64_t deleted = 0;
    assert_int_equal(s->ops->alert_prune(s, T0 + 13 * SEC, &deleted, &eb), CMON_OK);
    assert_int_equal(deleted, 3); /* q's episode and its two transitions */
    all = query(s, NULL, NULL, NULL);
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(str(all, 0, "state"), "firing");
    json_decref(all);
    json_decref(items);
    json_decref(tr);
}

struct seen {
    char names[8][64];
    bool registered[8];
    int64_t last_seen[8];
    char spool[8][128];
    size_t n;
};

static int collect_agent(void *arg, const struct store_agent *a)
{
    struct seen *s = arg;
    snprintf(s->names[s->n], 64, "%s", a->name);
    s->registered[s->n] = a->registered;
    s->last_seen[s->n] = a->last_seen_ns;
    snprintf(s->spool[s->n], 128, "%s", a->spool ? a->spool : "");
    s->n++;
    return 0;
}

static void test_register_rotates_token(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    int64_t next = -1;
    enum store_role role;
    char name[64];
    assert_int_equal(
        s->ops->agent_register(s, "a1", "h1", "0.1", "[\"198.18.1.1\"]", 10, T0, &next, &eb),
        CMON_OK);
    assert_int_equal(next, 0);
    assert_int_equal(s->ops->token_lookup(s, "h1", &role, name, sizeof name, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_AGENT);
    assert_string_equal(name, "a1");
    /* batches 0..4 stored: registering again continues at 5, old token revoked */
    bool dup;
    assert_int_equal(s->ops->ingest_begin(s, &eb), CMON_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s->ops->ingest_batch_mark(s, "a1", i, T0, &dup, &eb), CMON_OK);
    assert_int_equal(s->ops->ingest_commit(s, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_register(s, "a1", "h2", "0.2", "[]", 10, T0 + SEC, &next, &eb),
                     CMON_OK);
    assert_int_equal(next, 5);
    assert_int_equal(s->ops->token_lookup(s, "h1", &role, name, sizeof name, &eb),
                     CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->token_lookup(s, "h2", &role, name, sizeof name, &eb), CMON_OK);
}

static void test_heartbeat_list_delete(void **state)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    int64_t next;
    assert_int_equal(s->ops->agent_heartbeat(s, "nobody", "0.1", "[]", "{}", 10, T0, &eb),
                     CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_register(s, "b", "hb", "0.1", "[]", 10, T0, &next, &eb),
                     CMON_OK);
    assert_int_equal(s->ops->agent_heartbeat(s, "b", "0.1", "[]", "{\"droppedBatches\":2}", 10,
                                             T0 + 10 * SEC, &eb),
                     CMON_OK);
    /* results from an agent that never registered (the embedded one) */
    assert_int_equal(s->ops->agent_seen(s, "local", T0 + 3 * SEC, &eb), CMON_OK);
    struct seen seen = {0};
    assert_int_equal(s->ops->agent_list(s, collect_agent, &seen, &eb), CMON_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.names[0], "b");
    assert_true(seen.registered[0]);
    assert_int_equal(seen.last_seen[0], T0 + 10 * SEC);
    assert_string_equal(seen.spool[0], "{\"droppedBatches\":2}");
    assert_string_equal(seen.names[1], "local");
    assert_false(seen.registered[1]);
    assert_int_equal(s->ops->agent_delete(s, "b", &eb), CMON_OK);
    enum store_role role;
    assert_int_equal(s->ops->token_lookup(s, "hb", &role, NULL, 0, &eb), CMON_ERR_NOTFOUND);
    assert_int_equal(s->ops->agent_delete(s, "b", &eb), CMON_ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_monitor_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tests_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_exactly_once_and_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_and_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reapply_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents_paths_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_and_sql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_episodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_rotates_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_list_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
