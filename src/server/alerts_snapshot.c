/* alerts_snapshot.c: the evaluator's input built from the store -- every test
 * with its dimensions and current state, split per agent that ran it in the
 * window, with the ChecksFailedPercent and RoundTripTimeMs samples of that
 * window, and whether the agent is stopped (agent_state.h: the rule the
 * test states and the agents API use).  The embedded agent and agents of a
 * store without agent ops are never stopped. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "core/text.h"
#include "server/agent_state.h"
#include "server/alerts.h"
#include "server/sources.h"

struct snap_test {
    char *dims[CMON_DIM__COUNT];
    char *id, *source_address, *diagnostic;
    enum cmon_state state;
};

struct sample_vec {
    struct cmon_alert_sample *v;
    size_t n, cap;
};

struct snap_series {
    size_t test;
    char *agent;
    struct sample_vec failed, rtt;
};

struct snap_own {
    const struct source_book *book;
    struct snap_test *tests;
    size_t n_tests, cap_tests;
    struct snap_series *series;
    size_t n_series, cap_series;
    bool nomem;
};

static int add_test(void *arg, const struct store_test *t)
{
    struct snap_own *o = arg;
    struct test_dims td;
    test_dims_of(o->book, t, &td);
    if (!cmon_grow(&o->tests, &o->cap_tests, o->n_tests + 1, sizeof *o->tests)) {
        o->nomem = true;
        return 1;
    }
    struct snap_test *st = &o->tests[o->n_tests++];
    memset(st, 0, sizeof *st);
    bool ok = true;
    for (int d = 0; d < CMON_DIM__COUNT; d++)
        ok &= (st->dims[d] = cmon_strdup(td.v[d])) != NULL;
    st->id = cmon_strdup(t->id);
    st->source_address = cmon_strdup(t->source_address ? t->source_address : t->source);
    st->diagnostic = cmon_strdup(t->diagnostic ? t->diagnostic : "");
    st->state = t->state;
    if (!ok || !st->id || !st->source_address || !st->diagnostic) {
        o->nomem = true;
        return 1;
    }
    return 0;
}

/* The series of (test, agent), created on first use; NULL on NOMEM. */
static struct snap_series *series_for(struct snap_own *o, size_t test, const char *agent)
{
    for (size_t i = o->n_series; i-- > 0;) {
        if (o->series[i].test != test)
            break; /* series of one test are contiguous */
        if (strcmp(o->series[i].agent, agent) == 0)
            return &o->series[i];
    }
    if (!cmon_grow(&o->series, &o->cap_series, o->n_series + 1, sizeof *o->series))
        return NULL;
    struct snap_series *s = &o->series[o->n_series];
    memset(s, 0, sizeof *s);
    s->test = test;
    if (!(s->agent = strdup(agent)))
        return NULL;
    o->n_series++;
    return s;
}

static bool push(struct sample_vec *v, int64_t t, double value)
{
    if (!cmon_grow(&v->v, &v->cap, v->n + 1, sizeof *v->v))
        return false;
    v->v[v->n++] = (struct cmon_alert_sample){t, value};
    return true;
}

struct result_ctx {
    struct snap_own *o;
    size_t test;
};

static int add_result(void *arg, const struct store_result *r)
{
    struct result_ctx *c = arg;
    const struct cmon_round_result *rr = &r->r;
    struct snap_series *s = series_for(c->o, c->test, r->agent ? r->agent : "");
    bool ok = s != NULL;
    if (ok && rr->checks_total > 0)
        ok = push(&s->failed, rr->start_ns, 100.0 * rr->checks_failed / rr->checks_total);
    if (ok && rr->has_rtt)
        ok = push(&s->rtt, rr->start_ns, rr->rtt_avg_ms);
    if (!ok)
        c->o->nomem = true;
    return ok ? 0 : 1;
}

static enum cmon_err snapshot_series(struct snap_own *o, const struct stopped_agents *stopped,
                                     struct alert_snapshot *out)
{
    out->series = calloc(o->n_series + 1, sizeof *out->series);
    if (!out->series)
        return CMON_ERR_NOMEM;
    for (size_t i = 0; i < o->n_series; i++) {
        const struct snap_series *ss = &o->series[i];
        const struct snap_test *t = &o->tests[ss->test];
        struct cmon_alert_series *a = &out->series[i];
        for (int d = 0; d < CMON_DIM__COUNT; d++)
            a->dims[d] = t->dims[d];
        a->agent = ss->agent;
        a->state = t->state;
        a->diagnostic = t->diagnostic;
        a->failed_pct = ss->failed.v;
        a->n_failed_pct = ss->failed.n;
        a->rtt_ms = ss->rtt.v;
        a->n_rtt_ms = ss->rtt.n;
        a->agent_stopped = agent_stopped_has(stopped, ss->agent);
    }
    out->n = o->n_series;
    return CMON_OK;
}

enum cmon_err alert_snapshot_build(struct store *s, const struct cmon_server_opts *srv,
                                   int64_t now_ns, int64_t window_ns, struct alert_snapshot *out,
                                   struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    struct snap_own *o = calloc(1, sizeof *o);
    if (!o)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    out->own = o;
    struct source_book book;
    enum cmon_err err = source_book_load(srv, s, &book, eb);
    if (err) {
        free(o);
        out->own = NULL;
        return err;
    }
    o->book = &book;
    err = s->ops->test_query(s, NULL, add_test, o, eb);
    source_book_free(&book);
    o->book = NULL;
    for (size_t i = 0; !err && !o->nomem && i < o->n_tests; i++) {
        struct result_ctx c = {o, i};
        size_t before = o->n_series;
        err = s->ops->result_query(s, o->tests[i].id, now_ns - window_ns, now_ns + 1, 1000000,
                                   add_result, &c, eb);
        if (!err && o->n_series == before && !series_for(o, i, o->tests[i].source_address))
            o->nomem = true;
    }
    if (!err && o->nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    struct stopped_agents stopped = {0};
    if (!err)
        err = agent_stopped_load(s, now_ns, &stopped, eb);
    if (!err && snapshot_series(o, &stopped, out) != CMON_OK)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    agent_stopped_free(&stopped);
    if (err)
        alert_snapshot_free(out);
    return err;
}

void alert_snapshot_free(struct alert_snapshot *snap)
{
    struct snap_own *o = snap->own;
    if (o) {
        for (size_t i = 0; i < o->n_tests; i++) {
            for (int d = 0; d < CMON_DIM__COUNT; d++)
                free(o->tests[i].dims[d]);
            free(o->tests[i].id);
            free(o->tests[i].source_address);
            free(o->tests[i].diagnostic);
        }
        for (size_t i = 0; i < o->n_series; i++) {
            free(o->series[i].agent);
            free(o->series[i].failed.v);
            free(o->series[i].rtt.v);
        }
        free(o->tests);
        free(o->series);
        free(o);
    }
    free(snap->series);
    memset(snap, 0, sizeof *snap);
}
