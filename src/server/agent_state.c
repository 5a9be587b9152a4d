/* agent_state.c: the one "is this agent stopped" rule (agent_state.h) and
 * the list of stopped agents the evaluators consult. */
#include "server/agent_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"

bool agent_is_stopped(const struct store_agent *a, int64_t now_ns)
{
    int hb = a->heartbeat_sec > 0 ? a->heartbeat_sec : AGENT_HEARTBEAT_DEFAULT_SEC;
    return a->registered &&
           now_ns - a->last_seen_ns > (int64_t)AGENT_STOPPED_HEARTBEATS * hb * CMON_NS_PER_SEC;
}

const char *agent_state_name(const struct store_agent *a, int64_t now_ns)
{
    if (!a->registered)
        return "unregistered";
    return agent_is_stopped(a, now_ns) ? "stopped" : "running";
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct stopped_agent *)a)->name, ((const struct stopped_agent *)b)->name);
}

static int cmp_key(const void *name, const void *a)
{
    return strcmp(name, ((const struct stopped_agent *)a)->name);
}

/* Where name is (*found) or would go in sa's sorted names. */
static size_t find(const struct stopped_agents *sa, const char *name, bool *found)
{
    return cmon_sorted_find(sa->names, sa->n, sizeof *sa->names, name, cmp_key, found);
}

static bool insert(struct stopped_agents *sa, size_t at, const char *name, bool stopped)
{
    if (!cmon_sorted_insert(&sa->names, &sa->n, &sa->cap, at, sizeof *sa->names))
        return false;
    snprintf(sa->names[at].name, sizeof sa->names[at].name, "%s", name);
    sa->names[at].stopped = stopped;
    return true;
}

static int collect(void *arg, const struct store_agent *a)
{
    struct stopped_agents *sa = arg;
    if (!agent_is_stopped(a, sa->now_ns))
        return 0;
    if (!cmon_grow(&sa->names, &sa->cap, sa->n + 1, sizeof *sa->names))
        return 1;
    snprintf(sa->names[sa->n].name, sizeof sa->names[0].name, "%s", a->name);
    sa->names[sa->n++].stopped = true;
    return 0;
}

enum cmon_err agent_stopped_load(struct store *s, int64_t now_ns, struct stopped_agents *out,
                                 struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    out->now_ns = now_ns;
    if (!s->ops->agent_list)
        return CMON_OK;
    enum cmon_err err = s->ops->agent_list(s, collect, out, eb);
    if (out->n)
        qsort(out->names, out->n, sizeof *out->names, cmp_name);
    return err;
}

void agent_stopped_lazy(struct store *s, int64_t now_ns, struct stopped_agents *out)
{
    memset(out, 0, sizeof *out);
    out->now_ns = now_ns;
    out->lazy = s;
}

struct one_agent {
    int64_t now_ns;
    bool stopped;
};

static int one_agent(void *arg, const struct store_agent *a)
{
    struct one_agent *o = arg;
    o->stopped = agent_is_stopped(a, o->now_ns);
    return 1;
}

enum cmon_err agent_stopped_check(struct stopped_agents *sa, const char *name, bool *stopped,
                                  struct cmon_errbuf *eb)
{
    bool found;
    size_t at = find(sa, name, &found);
    if (found || !sa->lazy || !sa->lazy->ops->agent_get) {
        *stopped = found && sa->names[at].stopped;
        return CMON_OK;
    }
    struct one_agent o = {.now_ns = sa->now_ns};
    enum cmon_err err = sa->lazy->ops->agent_get(sa->lazy, name, one_agent, &o, eb);
    if (err)
        return err;
    if (!insert(sa, at, name, o.stopped))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    *stopped = o.stopped;
    return CMON_OK;
}

bool agent_stopped_has(const struct stopped_agents *sa, const char *name)
{
    bool found;
    size_t at = sa ? find(sa, name, &found) : 0;
    return sa && found && sa->names[at].stopped;
}

void agent_stopped_free(struct stopped_agents *sa)
{
    free(sa->names);
    sa->names = NULL;
    sa->n = sa->cap = 0;
}
