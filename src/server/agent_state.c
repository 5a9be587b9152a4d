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

static int collect(void *arg, const struct store_agent *a)
{
    struct stopped_agents *sa = arg;
    if (!agent_is_stopped(a, sa->now_ns))
        return 0;
    if (!cmon_grow(&sa->names, &sa->cap, sa->n + 1, sizeof *sa->names))
        return 1;
    snprintf(sa->names[sa->n++], sizeof sa->names[0], "%s", a->name);
    return 0;
}

enum cmon_err agent_stopped_load(struct store *s, int64_t now_ns, struct stopped_agents *out,
                                 struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    out->now_ns = now_ns;
    return s->ops->agent_list(s, collect, out, eb);
}

bool agent_stopped_has(const struct stopped_agents *sa, const char *name)
{
    for (size_t i = 0; sa && i < sa->n; i++) {
        if (strcmp(sa->names[i], name) == 0)
            return true;
    }
    return false;
}

void agent_stopped_free(struct stopped_agents *sa)
{
    free(sa->names);
    sa->names = NULL;
    sa->n = sa->cap = 0;
}
