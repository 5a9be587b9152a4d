/* eval.c: the pure alert evaluator.  Each due rule groups the series it
 * matches by its split dimensions, aggregates each group (metric rules: the
 * window's samples; state rules: the roll-up of states), and moves each
 * group's instance through pending -> firing -> resolved.  Series of a
 * suppressed agent are left out and one AgentUnavailable alert names it. */
#include "alert/eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval_internal.h"
#include "core/grow.h"
#include "core/text.h"

/* Diagnostics that mean the agent itself cannot probe (DESIGN 5). */
static const char *const local_diags[] = {"permission_denied", "socket_error", "net_unreachable",
                                          NULL};

const char *cmon_alert_state_name(enum cmon_alert_state s)
{
    static const char *const names[] = {"pending", "firing", "resolved"};
    return names[s];
}

static bool is_local_diag(const char *d)
{
    for (size_t i = 0; d && local_diags[i]; i++) {
        if (strcmp(d, local_diags[i]) == 0)
            return true;
    }
    return false;
}

/* An agent is suppressed when it is stopped, or when every one of its running
 * series fails with a local diagnostic.  reason: "agent_stopped" or the
 * (first) diagnostic. */
static bool agent_suppressed(const struct cmon_alert_eval_in *in, const char *agent,
                             const char **reason)
{
    bool all_local = true;
    *reason = NULL;
    for (size_t i = 0; i < in->n_series; i++) {
        const struct cmon_alert_series *s = &in->series[i];
        if (!s->agent || strcmp(s->agent, agent) != 0)
            continue;
        if (s->agent_stopped) {
            *reason = "agent_stopped";
            return true;
        }
        if (s->state == CMON_STATE_NOT_RUNNING)
            continue; /* a disabled group says nothing about the agent */
        if (s->state != CMON_STATE_FAIL || !is_local_diag(s->diagnostic))
            all_local = false;
        else if (!*reason)
            *reason = s->diagnostic;
    }
    return all_local && *reason;
}

/* Fill susp[i] for each series: its agent is suppressed. */
static void mark_suppressed(const struct cmon_alert_eval_in *in, bool *susp)
{
    for (size_t i = 0; i < in->n_series; i++) {
        const char *agent = in->series[i].agent, *reason;
        size_t k = 0;
        while (k < i && !(agent && in->series[k].agent && strcmp(in->series[k].agent, agent) == 0))
            k++;
        susp[i] = k < i ? susp[k] : (agent && agent_suppressed(in, agent, &reason));
    }
}

bool alert_rule_matches(const struct cmon_alert_rule *r, const struct cmon_alert_series *s)
{
    for (int d = 0; d < CMON_DIM__COUNT; d++) {
        const char *want = r->dims[d], *have = s->dims[d];
        if (!want)
            continue;
        if (!have || !have[0])
            return false;
        if (strcmp(want, CMON_DIM_EACH) != 0 && strcmp(want, have) != 0)
            return false;
    }
    return true;
}

/* The dimensions that split a rule's series into separate alerts: the ones
 * the rule names, plus, for state rules, those of its scope. */
unsigned alert_rule_split_dims(const struct cmon_alert_rule *r)
{
    unsigned mask = 0;
    for (int d = 0; d < CMON_DIM__COUNT; d++) {
        if (r->dims[d])
            mask |= 1u << d;
    }
    if (r->kind == CMON_ALERT_KIND_STATE) {
        static const unsigned scope_dims[] = {
            [CMON_SCOPE_TEST] = CMON_DIM_TEST_IDENTITY_MASK,
            [CMON_SCOPE_TEST_GROUP] = 1u << CMON_DIM_MONITOR | 1u << CMON_DIM_TEST_GROUP,
            [CMON_SCOPE_MONITOR] = 1u << CMON_DIM_MONITOR,
        };
        mask |= scope_dims[r->scope];
    }
    return mask;
}

static void key_append(struct cmon_buf *b, const char *name, const char *value, bool first)
{
    cmon_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            cmon_buf_append(b, "\\", 1);
        cmon_buf_append(b, c, 1);
    }
    cmon_buf_append(b, "\"", 1);
}

char *alert_series_key(const char *rule, unsigned mask, const char *const *dims)
{
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_printf(&b, "%s{", rule);
    bool first = true;
    for (int d = 0; d < CMON_DIM__COUNT; d++) {
        if (mask & (1u << d)) {
            key_append(&b, cmon_alert_dim_name((enum cmon_alert_dim)d), dims[d] ? dims[d] : "",
                       first);
            first = false;
        }
    }
    cmon_buf_puts(&b, "}");
    if (b.oom) {
        cmon_buf_free(&b);
        return NULL;
    }
    return cmon_buf_take(&b);
}

static bool in_window(const struct cmon_alert_eval_in *in, const struct cmon_alert_rule *r,
                      int64_t t)
{
    /* (now - window, now]: a sample exactly one window old is out */
    return t <= in->now_ns && t > in->now_ns - (int64_t)r->window_sec * 1000000000LL;
}

bool alert_strset_add(struct alert_strset *set, const char *s)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(set->items[mid], s);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!cmon_grow(&set->items, &set->cap, set->n + 1, sizeof *set->items))
        return false;
    memmove(set->items + lo + 1, set->items + lo, (set->n - lo) * sizeof *set->items);
    set->items[lo] = s;
    set->n++;
    return true;
}

static bool group_add(const struct cmon_alert_eval_in *in, const struct cmon_alert_rule *r,
                      struct alert_group *g, const struct cmon_alert_series *s, bool suppressed)
{
    if (suppressed) {
        g->n_suppressed++;
        return true;
    }
    g->n_active++;
    if (s->dims[CMON_DIM_MONITOR] && !alert_strset_add(&g->monitors, s->dims[CMON_DIM_MONITOR]))
        return false;
    g->state = cmon_state_worse(g->state, s->state);
    const struct cmon_alert_sample *v = r->metric == CMON_METRIC_RTT_MS ? s->rtt_ms : s->failed_pct;
    size_t n = r->metric == CMON_METRIC_RTT_MS ? s->n_rtt_ms : s->n_failed_pct;
    for (size_t i = 0; i < n; i++) {
        if (!in_window(in, r, v[i].t_ns))
            continue;
        if (!g->n_samples || v[i].value < g->min)
            g->min = v[i].value;
        if (!g->n_samples || v[i].value > g->max)
            g->max = v[i].value;
        g->sum += v[i].value;
        g->n_samples++;
    }
    return true;
}

struct keyed {
    char *key;
    size_t series;
};

static int keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->series > y->series) - (x->series < y->series);
}

/* Group the series of one rule (sorted by key, so n log n for any number of
 * series); *groups is a new array (free with alert_groups_free). */
static enum cmon_err build_groups(const struct cmon_alert_eval_in *in,
                                  const struct cmon_alert_rule *r, const bool *susp,
                                  struct alert_group **groups, size_t *n_groups)
{
    unsigned mask = alert_rule_split_dims(r);
    struct keyed *ks = calloc(in->n_series + 1, sizeof *ks);
    struct alert_group *gs = calloc(in->n_series + 1, sizeof *gs);
    size_t nk = 0, n = 0;
    enum cmon_err rc = ks && gs ? CMON_OK : CMON_ERR_NOMEM;
    for (size_t i = 0; rc == CMON_OK && i < in->n_series; i++) {
        if (!alert_rule_matches(r, &in->series[i]))
            continue;
        ks[nk] = (struct keyed){alert_series_key(r->name, mask, in->series[i].dims), i};
        rc = ks[nk++].key ? CMON_OK : CMON_ERR_NOMEM;
    }
    if (rc == CMON_OK)
        qsort(ks, nk, sizeof *ks, keyed_cmp);
    for (size_t i = 0; rc == CMON_OK && i < nk; i++) {
        const struct cmon_alert_series *s = &in->series[ks[i].series];
        if (!n || strcmp(gs[n - 1].key, ks[i].key) != 0) {
            gs[n++] = (struct alert_group){.key = ks[i].key, .series = s,
                                           .state = CMON_STATE_NOT_RUNNING};
            ks[i].key = NULL; /* now the group's */
        }
        if (!group_add(in, r, &gs[n - 1], s, susp[ks[i].series]))
            rc = CMON_ERR_NOMEM;
    }
    for (size_t i = 0; ks && i < nk; i++)
        free(ks[i].key);
    free(ks);
    if (rc != CMON_OK) {
        alert_groups_free(gs, n);
        return rc;
    }
    *groups = gs;
    *n_groups = n;
    return CMON_OK;
}

void alert_groups_free(struct alert_group *gs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(gs[i].key);
        free(gs[i].monitors.items);
    }
    free(gs);
}

static bool compare(enum cmon_alert_op op, double v, double t)
{
    switch (op) {
    case CMON_OP_GT: return v > t;
    case CMON_OP_GE: return v >= t;
    case CMON_OP_LT: return v < t;
    case CMON_OP_LE: return v <= t;
    }
    return false;
}

/* Whether the group breaches the rule now, its value and a summary. */
static bool group_breaches(const struct cmon_alert_rule *r, const struct alert_group *g,
                           double *value, char *summary, size_t len)
{
    if (r->kind == CMON_ALERT_KIND_STATE) {
        *value = g->state;
        bool hit = g->n_active && (r->states & (1u << g->state));
        snprintf(summary, len, "%s state %s", cmon_alert_scope_name(r->scope),
                 cmon_state_name(g->state));
        return hit;
    }
    if (!g->n_samples) {
        *value = 0;
        snprintf(summary, len, "%s: no data in the last %ds", cmon_alert_metric_name(r->metric),
                 r->window_sec);
        return false; /* no data is not a breach */
    }
    *value = r->aggregation == CMON_AGG_MIN   ? g->min
             : r->aggregation == CMON_AGG_MAX ? g->max
                                              : g->sum / (double)g->n_samples;
    snprintf(summary, len, "%s %s %g %s %g (window %ds)", cmon_alert_metric_name(r->metric),
             cmon_alert_agg_name(r->aggregation), *value, cmon_alert_op_symbol(r->op),
             r->threshold, r->window_sec);
    return compare(r->op, *value, r->threshold);
}

static bool rule_due(const struct cmon_alert_rule *r, int64_t prev_ns, int64_t now_ns)
{
    int64_t f = (int64_t)r->evaluation_frequency_sec * 1000000000LL;
    return prev_ns <= 0 || now_ns / f != prev_ns / f;
}

/* Evaluate one due rule: one instance per group. */
static enum cmon_err eval_rule(struct alert_run *run, const struct cmon_alert_rule *r)
{
    struct alert_group *gs;
    size_t n;
    if (build_groups(run->in, r, run->susp, &gs, &n) != CMON_OK)
        return CMON_ERR_NOMEM;
    enum cmon_err rc = CMON_OK;
    for (size_t i = 0; i < n && rc == CMON_OK; i++) {
        long p = alert_prev_find(run, gs[i].key);
        if (!gs[i].n_active) { /* every series suppressed: frozen as it was */
            if (p >= 0)
                rc = alert_carry(run, (size_t)p);
            continue;
        }
        struct alert_step st = {.key = gs[i].key, .rule_name = r->name,
                                .mask = alert_rule_split_dims(r), .dims = gs[i].series->dims,
                                .action_groups = r->action_groups,
                                .n_action_groups = r->n_action_groups,
                                .monitors = &gs[i].monitors, .prev = p,
                                .severity = r->severity, .for_evaluations = r->for_evaluations};
        st.breach = group_breaches(r, &gs[i], &st.value, st.summary, sizeof st.summary);
        rc = alert_step(run, &st);
    }
    alert_groups_free(gs, n);
    return rc;
}

static enum cmon_err eval_rules(struct alert_run *run)
{
    const struct cmon_alert_eval_in *in = run->in;
    for (size_t i = 0; i < in->n_rules; i++) {
        const struct cmon_alert_rule *r = in->rules[i];
        if (!r->enabled)
            continue; /* its instances are resolved with the vanished ones */
        enum cmon_err rc;
        if (rule_due(r, in->prev_eval_ns, in->now_ns)) {
            rc = eval_rule(run, r);
        } else {
            rc = CMON_OK;
            for (size_t k = 0; k < in->n_prev && rc == CMON_OK; k++) {
                if (!run->prev_used[k] && in->prev[k].state != CMON_ALERT_RESOLVED &&
                    strcmp(in->prev[k].rule, r->name) == 0)
                    rc = alert_carry(run, k);
            }
        }
        if (rc != CMON_OK)
            return rc;
    }
    return CMON_OK;
}

enum cmon_err cmon_alert_evaluate(const struct cmon_alert_eval_in *in,
                                  struct cmon_alert_eval_out *out)
{
    memset(out, 0, sizeof *out);
    struct alert_run run = {.in = in, .out = out};
    run.susp = calloc(in->n_series + 1, sizeof *run.susp);
    run.prev_used = calloc(in->n_prev + 1, sizeof *run.prev_used);
    enum cmon_err rc = CMON_ERR_NOMEM;
    if (run.susp && run.prev_used && alert_prev_index(&run) == CMON_OK) {
        mark_suppressed(in, run.susp);
        rc = eval_rules(&run);
        if (rc == CMON_OK)
            rc = alert_eval_agents(&run);
        if (rc == CMON_OK)
            rc = alert_resolve_vanished(&run);
    }
    free(run.susp);
    free(run.prev_used);
    free(run.prev_slots);
    if (rc != CMON_OK)
        cmon_alert_eval_free(out);
    return rc;
}

bool alert_agent_suppressed(const struct cmon_alert_eval_in *in, const char *agent,
                            const char **reason)
{
    return agent_suppressed(in, agent, reason);
}
