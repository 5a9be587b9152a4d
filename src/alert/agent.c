/* agent.c: suppression.  When an agent is stopped, or every test it runs
 * fails with a local diagnostic (it cannot probe at all), its series are left
 * out of every rule and one AgentUnavailable alert names the agent, sent to
 * the action groups of the rules that watch its tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval_internal.h"
#include "core/text.h"

/* The rules watching any series of agent: lowest severity number, union of
 * their action groups (groups: caller-sized array of borrowed names). */
static size_t watching_rules(const struct cmon_alert_eval_in *in, const char *agent,
                             int *severity, char **groups, size_t *n_groups, size_t *n_tests)
{
    size_t n_rules = 0;
    *severity = 4;
    *n_groups = 0;
    *n_tests = 0;
    for (size_t i = 0; i < in->n_series; i++)
        *n_tests += in->series[i].agent && strcmp(in->series[i].agent, agent) == 0;
    for (size_t r = 0; r < in->n_rules; r++) {
        const struct cmon_alert_rule *rule = in->rules[r];
        bool watches = false;
        for (size_t i = 0; rule->enabled && i < in->n_series && !watches; i++) {
            const struct cmon_alert_series *s = &in->series[i];
            watches = s->agent && strcmp(s->agent, agent) == 0 && alert_rule_matches(rule, s);
        }
        if (!watches)
            continue;
        n_rules++;
        if (rule->severity < *severity)
            *severity = rule->severity;
        for (size_t g = 0; g < rule->n_action_groups; g++) {
            size_t k = 0;
            while (k < *n_groups && strcmp(groups[k], rule->action_groups[g]) != 0)
                k++;
            if (k == *n_groups)
                groups[(*n_groups)++] = rule->action_groups[g];
        }
    }
    return n_rules;
}

static char *agent_key(const char *agent)
{
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_puts(&b, CMON_ALERT_AGENT_RULE "{agent=\"");
    for (const char *c = agent; *c; c++) {
        if (*c == '"' || *c == '\\')
            cmon_buf_append(&b, "\\", 1);
        cmon_buf_append(&b, c, 1);
    }
    cmon_buf_puts(&b, "\"}");
    if (b.oom) {
        cmon_buf_free(&b);
        return NULL;
    }
    return cmon_buf_take(&b);
}

static enum cmon_err eval_agent(struct alert_run *run, const char *agent, char **groups)
{
    const struct cmon_alert_eval_in *in = run->in;
    const char *reason;
    if (!alert_agent_suppressed(in, agent, &reason))
        return CMON_OK;
    struct alert_step st = {.rule_name = CMON_ALERT_AGENT_RULE, .agent = agent, .breach = true,
                            .for_evaluations = 1, .action_groups = groups};
    size_t n_tests;
    if (!watching_rules(in, agent, &st.severity, groups, &st.n_action_groups, &n_tests))
        return CMON_OK; /* no rule watches its tests: nobody asked */
    st.value = (double)n_tests;
    struct alert_strset monitors = {0};
    for (size_t i = 0; i < in->n_series; i++) {
        const struct cmon_alert_series *s = &in->series[i];
        if (s->agent && strcmp(s->agent, agent) == 0 && s->dims[CMON_DIM_MONITOR] &&
            !alert_strset_add(&monitors, s->dims[CMON_DIM_MONITOR])) {
            free(monitors.items);
            return CMON_ERR_NOMEM;
        }
    }
    st.monitors = &monitors;
    if (strcmp(reason, "agent_stopped") == 0)
        snprintf(st.summary, sizeof st.summary,
                 "agent %s stopped; alerts for its %zu tests are suppressed", agent, n_tests);
    else
        snprintf(st.summary, sizeof st.summary,
                 "agent %s cannot probe: every test fails with %s; alerts for its %zu tests "
                 "are suppressed",
                 agent, reason, n_tests);
    char *key = agent_key(agent);
    enum cmon_err rc = CMON_ERR_NOMEM;
    if (key) {
        st.key = key;
        st.prev = alert_prev_find(run, key);
        rc = alert_step(run, &st);
    }
    free(key);
    free(monitors.items);
    return rc;
}

enum cmon_err alert_eval_agents(struct alert_run *run)
{
    const struct cmon_alert_eval_in *in = run->in;
    size_t max_groups = 0;
    for (size_t r = 0; r < in->n_rules; r++)
        max_groups += in->rules[r]->n_action_groups;
    char **groups = calloc(max_groups + 1, sizeof *groups);
    if (!groups)
        return CMON_ERR_NOMEM;
    enum cmon_err rc = CMON_OK;
    for (size_t i = 0; i < in->n_series && rc == CMON_OK; i++) {
        const char *agent = in->series[i].agent;
        size_t k = 0;
        while (k < i && !(agent && in->series[k].agent && strcmp(in->series[k].agent, agent) == 0))
            k++;
        if (agent && k == i && run->susp[i])
            rc = eval_agent(run, agent, groups);
    }
    free(groups);
    return rc;
}
