/* evaluator.c: test states from stored figures (the writer calls it for the
 * tests a transaction touched, after monitor changes, and on its timer, so
 * silent tests go Indeterminate after 2 x frequency + 30 s). */
#include "server/evaluator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "server/agent_state.h"
#include "server/members.h"

void eval_input_from_test(const struct store_test *t, int64_t now_ns, struct cmon_state_input *in)
{
    memset(in, 0, sizeof *in);
    in->protocol = t->protocol;
    in->frequency_sec = t->frequency_sec;
    in->has_failed_pct_threshold = t->has_failed_pct_threshold;
    in->failed_pct_threshold = t->failed_pct_threshold;
    in->has_rtt_threshold = t->has_rtt_threshold;
    in->rtt_threshold_ms = t->rtt_threshold_ms;
    in->not_running = !t->monitor_running || t->group_disabled;
    in->not_running_reason = !t->monitor_running ? "monitor stopped" : "test group disabled";
    in->has_result = t->has_result;
    in->last_result_ns = t->last_result_ns;
    in->now_ns = now_ns;
    in->checks_failed_pct = t->checks_failed_pct;
    in->has_rtt = t->has_rtt;
    in->rtt_ms = t->rtt_ms;
    in->diagnostic = t->diagnostic;
    in->diag_detail = t->detail;
}

struct verdict {
    char id[CMON_TEST_ID_LEN + 1];
    enum cmon_state state;
    char reason[320];
};

/* A test of a compound source, evaluated after the walk (its members'
 * rounds need a query of their own). */
struct compound {
    char id[CMON_TEST_ID_LEN + 1];
    struct cmon_state_input in;
    enum cmon_state state;
    char reason[320];
};

struct verdicts {
    struct verdict *v;
    size_t n, cap;
    struct compound *c;
    size_t n_c, cap_c;
    int64_t now_ns;
    bool nomem;
    struct stopped_agents *stopped;
    enum cmon_err err; /* a failed agent lookup, in eb */
    struct cmon_errbuf *eb;
};

static bool defer_compound(struct verdicts *vs, const struct store_test *t,
                           const struct cmon_state_input *in)
{
    if (!cmon_grow(&vs->c, &vs->cap_c, vs->n_c + 1, sizeof *vs->c))
        return false;
    struct compound *c = &vs->c[vs->n_c++];
    snprintf(c->id, sizeof c->id, "%s", t->id);
    c->in = *in;
    c->in.diagnostic = c->in.diag_detail = NULL; /* they point into the row */
    c->state = t->state;
    snprintf(c->reason, sizeof c->reason, "%s", t->reason);
    return true;
}

static bool add_verdict(struct verdicts *vs, const char *id, const struct cmon_state_eval *out)
{
    if (!cmon_grow(&vs->v, &vs->cap, vs->n + 1, sizeof *vs->v))
        return false;
    struct verdict *v = &vs->v[vs->n++];
    snprintf(v->id, sizeof v->id, "%s", id);
    v->state = out->state;
    snprintf(v->reason, sizeof v->reason, "%s", out->reason);
    return true;
}

/* A test's source agent is stopped: a registered agent named by its source. */
static enum cmon_err source_stopped(struct verdicts *vs, const struct store_test *t,
                                    bool *stopped)
{
    *stopped = false;
    if (!vs->stopped || strcmp(t->source_type, "Agent") != 0)
        return CMON_OK;
    return agent_stopped_check(vs->stopped, t->source_address, stopped, vs->eb);
}

static int collect_verdict(void *arg, const struct store_test *t)
{
    struct verdicts *vs = arg;
    struct cmon_state_input in;
    struct cmon_state_eval out;
    eval_input_from_test(t, vs->now_ns, &in);
    vs->err = source_stopped(vs, t, &in.agent_stopped);
    if (vs->err)
        return 1;
    if (members_compound(t) && !in.not_running) {
        vs->nomem = !defer_compound(vs, t, &in);
        return vs->nomem;
    }
    cmon_test_state_eval(&in, &out);
    /* unchanged verdicts need no write */
    if (out.state == t->state && strcmp(out.reason, t->reason) == 0)
        return 0;
    vs->nomem = !add_verdict(vs, t->id, &out);
    return vs->nomem;
}

/* A compound source's test: its figures and state over its members. */
static enum cmon_err eval_compound(struct store *s, struct verdicts *vs, struct compound *c,
                                   struct cmon_errbuf *eb)
{
    struct members m;
    enum cmon_err err = members_load(s, c->id, c->in.frequency_sec, vs->now_ns, &m, eb);
    if (err)
        return err;
    struct cmon_round_result combined;
    struct cmon_state_eval out;
    members_eval(&m, &c->in, &combined, &out);
    if (m.n) {
        snprintf(combined.test_id, sizeof combined.test_id, "%s", c->id);
        err = s->ops->test_set_live(s, &combined, eb);
    }
    members_free(&m);
    if (!err && (out.state != c->state || strcmp(out.reason, c->reason) != 0) &&
        !add_verdict(vs, c->id, &out))
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    return err;
}

/* Verdicts of the tests matching f, or of the tests with the given ids
 * (sorted), then the writes of those that differ from what is stored. */
static enum cmon_err eval_some(struct store *s, const struct store_test_filter *f,
                               const char *const *ids, size_t n_ids, int64_t now_ns,
                               size_t *changed, struct cmon_errbuf *eb)
{
    struct stopped_agents sa;
    struct verdicts vs = {.now_ns = now_ns, .stopped = &sa, .eb = eb};
    /* a few tests' agents are looked up one by one; a sweep loads them all */
    enum cmon_err err = CMON_OK;
    if (ids)
        agent_stopped_lazy(s, now_ns, &sa);
    else
        err = agent_stopped_load(s, now_ns, &sa, eb);
    if (!err)
        err = ids ? store_test_query_ids(s, ids, n_ids, collect_verdict, &vs, eb)
                  : s->ops->test_query(s, f, collect_verdict, &vs, eb);
    if (!err)
        err = vs.err;
    agent_stopped_free(&sa);
    if (!err && vs.nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < vs.n_c; i++)
        err = eval_compound(s, &vs, &vs.c[i], eb);
    free(vs.c);
    size_t n_changed = 0;
    for (size_t i = 0; !err && i < vs.n; i++) {
        bool ch = false;
        err = s->ops->test_set_state(s, vs.v[i].id, vs.v[i].state, vs.v[i].reason, now_ns, &ch, eb);
        n_changed += ch;
    }
    free(vs.v);
    if (changed)
        *changed = n_changed;
    return err;
}

enum cmon_err eval_tests(struct store *s, const struct store_test_filter *f, int64_t now_ns,
                         size_t *changed, struct cmon_errbuf *eb)
{
    return eval_some(s, f, NULL, 0, now_ns, changed, eb);
}

enum cmon_err eval_test_ids(struct store *s, const char *const *ids, size_t n, int64_t now_ns,
                            size_t *changed, struct cmon_errbuf *eb)
{
    if (!n) {
        if (changed)
            *changed = 0;
        return CMON_OK;
    }
    return eval_some(s, NULL, ids, n, now_ns, changed, eb);
}
