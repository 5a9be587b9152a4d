/* evaluator.c: test states from stored figures (the writer calls it for the
 * tests a transaction touched, after monitor changes, and on its timer, so
 * silent tests go Indeterminate after 2 x frequency + 30 s). */
#include "server/evaluator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/agent_state.h"

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

struct verdicts {
    struct verdict *v;
    size_t n, cap;
    int64_t now_ns;
    bool nomem;
    const struct stopped_agents *stopped;
};

/* A test's source agent is stopped: a registered agent named by its source. */
static bool source_stopped(const struct stopped_agents *sa, const struct store_test *t)
{
    if (!sa || strcmp(t->source_type, "Agent") != 0)
        return false;
    return agent_stopped_has(sa, t->source_address);
}

static int collect_verdict(void *arg, const struct store_test *t)
{
    struct verdicts *vs = arg;
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 64;
        struct verdict *v = realloc(vs->v, cap * sizeof *v);
        if (!v) {
            vs->nomem = true;
            return 1;
        }
        vs->v = v;
        vs->cap = cap;
    }
    struct cmon_state_input in;
    struct cmon_state_eval out;
    eval_input_from_test(t, vs->now_ns, &in);
    in.agent_stopped = source_stopped(vs->stopped, t);
    cmon_test_state_eval(&in, &out);
    struct verdict *v = &vs->v[vs->n];
    /* unchanged verdicts need no write */
    if (out.state == t->state && strcmp(out.reason, t->reason) == 0)
        return 0;
    snprintf(v->id, sizeof v->id, "%s", t->id);
    v->state = out.state;
    snprintf(v->reason, sizeof v->reason, "%s", out.reason);
    vs->n++;
    return 0;
}

/* Verdicts of the tests matching f, or of the tests with the given ids
 * (sorted), then the writes of those that differ from what is stored. */
static enum cmon_err eval_some(struct store *s, const struct store_test_filter *f,
                               const char *const *ids, size_t n_ids, int64_t now_ns,
                               size_t *changed, struct cmon_errbuf *eb)
{
    struct stopped_agents sa;
    struct verdicts vs = {.now_ns = now_ns, .stopped = &sa};
    enum cmon_err err = agent_stopped_load(s, now_ns, &sa, eb);
    if (!err)
        err = ids ? store_test_query_ids(s, ids, n_ids, collect_verdict, &vs, eb)
                  : s->ops->test_query(s, f, collect_verdict, &vs, eb);
    agent_stopped_free(&sa);
    if (!err && vs.nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
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
