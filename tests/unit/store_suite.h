/* store_suite.h: the fixture and builders shared by the backend-neutral
 * store suite (test_store.c: monitors, tests and states; test_store_results.c:
 * ingest, metrics and retention; test_store_access.c: tokens, agents, paths
 * and the read-only/SQL roles; test_store_alerts.c: action groups and alert
 * episodes).  Every test talks to the store only through store_ops, so a
 * second backend runs the suite unchanged: set CMON_TEST_STORE_URL (e.g.
 * postgres://...) to run it there (each test then starts from an emptied
 * database: the public schema is dropped and made again); by default each
 * test gets a fresh SQLite database in a temporary directory
 * (tests/integration/test_pg_store.sh runs every one over PostgreSQL). */
#ifndef CMON_TEST_STORE_SUITE_H
#define CMON_TEST_STORE_SUITE_H

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
static inline void reset_postgres(const char *url)
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

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

static inline struct store_test make_test(const char *id, int number, const char *group, const char *dst,
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

static inline void put_two(struct store *s, const char *mon, bool *created)
{
    struct store_test t[2] = {
        make_test("aaaaaaaaaaaaaaa1", 1, "tg1", "web", CMON_PROTO_TCP, 80),
        make_test("aaaaaaaaaaaaaaa2", 2, "tg2", "db", CMON_PROTO_ICMP, 0),
    };
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->monitor_put(s, mon, "{\"x\":1}", t, 2, NULL, 0, T0, created, &eb), CMON_OK);
}

struct collect {
    int n;
    char names[8][32];
    char bodies[8][64];
    bool running[8];
    int64_t updated[8];
    struct store_test tests[8];
    char ids[8][17];
};

static inline int collect_monitor(void *arg, const struct store_monitor *m)
{
    struct collect *c = arg;
    snprintf(c->names[c->n], 32, "%s", m->name);
    snprintf(c->bodies[c->n], 64, "%s", m->body);
    c->updated[c->n] = m->updated_ns;
    c->running[c->n++] = m->running;
    return 0;
}

static inline int collect_test(void *arg, const struct store_test *t)
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

static inline struct store_result result(const char *test_id, int64_t start, uint32_t failed, double rtt)
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

static inline void ingest(struct store *s, const struct store_result *rs, size_t n, const char *agent,
                   int64_t seq, bool *dup)
{
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    if (seq >= 0) {
        assert_int_equal(s->ops->ingest_batch_mark(s, agent, seq, T0, dup, &eb), CMON_OK);
        if (*dup) {
            s->ops->tx_rollback(s);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(s->ops->ingest_result(s, &rs[i], &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
}

struct points {
    int n;
    int64_t t[8];
    double v[8];
    int64_t samples[8];
};

static inline int collect_point(void *arg, int64_t b, double v, int64_t samples)
{
    struct points *p = arg;
    if (p->n < 8) {
        p->t[p->n] = b;
        p->v[p->n] = v;
        p->samples[p->n++] = samples;
    }
    return 0;
}

static inline int count_result(void *arg, const struct store_result *r)
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

#endif
