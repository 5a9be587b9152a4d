/* assign.c: the tests an agent runs (assign.h) -- expand each monitor,
 * keep this agent's enabled tests, put them on the scheduler and tracer,
 * and on commit remove what is no longer wanted (sorted ids, so a reload of
 * 100k tests costs n log n, not n^2). */
#include "agent/assign.h"

#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void agent_assign_init(struct agent_assign *as, struct probe_sched *sched,
                       struct agent_tracer *tracer, const struct cmon_log *log, const char *name,
                       const char *alias)
{
    memset(as, 0, sizeof *as);
    as->sched = sched;
    as->tracer = tracer;
    as->log = log;
    as->name = name;
    as->alias = alias && *alias ? alias : NULL;
}

bool agent_assign_runs_here(const struct agent_assign *as, const struct cmon_endpoint *ep)
{
    return cmon_endpoint_has_agent(ep, as->name, as->addresses, as->n_addresses) ||
           (as->alias && cmon_endpoint_has_agent(ep, as->alias, as->addresses, as->n_addresses));
}

void agent_assign_set_addresses(struct agent_assign *as, json_t *addresses)
{
    json_decref(as->addresses_json);
    free(as->addresses);
    as->addresses_json = addresses;
    as->n_addresses = 0;
    as->addresses = calloc(json_array_size(addresses) + 1, sizeof *as->addresses);
    for (size_t i = 0; as->addresses && i < json_array_size(addresses); i++) {
        const char *s = json_string_value(json_array_get(addresses, i));
        if (s)
            as->addresses[as->n_addresses++] = s;
    }
}

static bool want(struct agent_assign *as, const char *id)
{
    if (!cmon_grow(&as->next, &as->cap_next, as->n_next + 1, sizeof *as->next))
        return false;
    memcpy(as->next[as->n_next++], id, sizeof *as->next);
    return true;
}

void agent_assign_put(struct agent_assign *as, const struct cmon_test *t,
                      const struct cmon_test_config *cfg)
{
    struct cmon_errbuf eb;
    if (probe_sched_put(as->sched, t, cfg, &eb) != CMON_OK) {
        cmon_warn(as->log, "test not scheduled", "test=%s err=%s", t->id, eb.msg);
        return;
    }
    if (as->tracer && agent_tracer_put(as->tracer, t, cfg, &eb) != CMON_OK)
        cmon_warn(as->log, "test not traced", "test=%s err=%s", t->id, eb.msg);
    if (!want(as, t->id)) /* not tracked: removed at the next commit, put again after */
        cmon_error(as->log, "out of memory tracking a test", "test=%s", t->id);
}

enum cmon_err agent_assign_parse(const char *name, const char *body, struct cmon_monitor **m,
                                 struct cmon_test **tests, size_t *n, size_t *problems)
{
    struct cmon_problems probs = {0};
    *m = NULL;
    *tests = NULL;
    *n = *problems = 0;
    if (cmon_monitor_parse(body, strlen(body), name, m, &probs) != CMON_OK) {
        *problems = probs.n;
        cmon_problems_free(&probs);
        return CMON_ERR_INVALID;
    }
    char *stored = strdup(name);
    if (stored) {
        free((*m)->name);
        (*m)->name = stored;
    }
    if (cmon_monitor_expand(*m, tests, n) != CMON_OK) { /* out of memory: no tests */
        *tests = NULL;
        *n = 0;
    }
    return CMON_OK;
}

bool agent_assign_wants(const struct agent_assign *as, const struct cmon_monitor *m,
                        const struct cmon_test *t)
{
    return !m->groups[t->group].disabled && agent_assign_runs_here(as, &m->endpoints[t->source]);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

size_t agent_assign_commit(struct agent_assign *as)
{
    if (as->n_next)
        qsort(as->next, as->n_next, sizeof *as->next, cmp_id);
    for (size_t i = 0; i < as->n; i++) {
        if (!as->n_next || !bsearch(as->ids[i], as->next, as->n_next, sizeof *as->next, cmp_id)) {
            probe_sched_remove(as->sched, as->ids[i]);
            if (as->tracer)
                agent_tracer_remove(as->tracer, as->ids[i]);
        }
    }
    free(as->ids);
    as->ids = as->next;
    as->n = as->n_next;
    as->next = NULL;
    as->n_next = as->cap_next = 0;
    return as->n;
}

void agent_assign_abort(struct agent_assign *as)
{
    free(as->next);
    as->next = NULL;
    as->n_next = as->cap_next = 0;
}

void agent_assign_free(struct agent_assign *as)
{
    agent_assign_set_addresses(as, NULL);
    free(as->addresses);
    as->addresses = NULL;
    agent_assign_abort(as);
    free(as->ids);
    as->ids = NULL;
    as->n = 0;
}
