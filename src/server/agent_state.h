/* agent_state.h: when a remote agent counts as stopped -- one rule for the
 * evaluator (tests get Indeterminate "agent_stopped"), the agents API's
 * "state" field and the alert evaluator's AgentUnavailable suppression.
 * A registered agent is stopped when it has sent neither heartbeat nor
 * results for AGENT_STOPPED_HEARTBEATS of its announced heartbeat periods.
 * Ownership: struct stopped_agents owns its names (agent_stopped_free).
 * Any thread; no shared state (a lazy set uses its store: the caller's
 * thread and connection). */
#ifndef CMON_SERVER_AGENT_STATE_H
#define CMON_SERVER_AGENT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define AGENT_HEARTBEAT_DEFAULT_SEC 10
#define AGENT_STOPPED_HEARTBEATS 3

/* "unregistered", "stopped" or "running". */
const char *agent_state_name(const struct store_agent *a, int64_t now_ns);
bool agent_is_stopped(const struct store_agent *a, int64_t now_ns);

/* Agent names with their verdict, sorted by strcmp.  Loaded whole
 * (agent_stopped_load: only the stopped ones are kept) or filled on demand
 * (agent_stopped_lazy: each name looked up once, in the caller's
 * transaction -- what the writer does per transaction, where loading every
 * agent cost a quarter of the server's CPU at 500 agents). */
struct stopped_agent {
    char name[64];
    bool stopped;
};
struct stopped_agents {
    struct stopped_agent *names;
    size_t n, cap;
    int64_t now_ns;
    struct store *lazy; /* non-NULL: look names up on first use */
};

/* The names of the stopped agents; a backend without agent ops (NULL
 * agent_list) knows none.  Free with agent_stopped_free even on error. */
enum cmon_err agent_stopped_load(struct store *s, int64_t now_ns, struct stopped_agents *out,
                                 struct cmon_errbuf *eb);
/* An empty set that looks each name up in s (agent_get) when first asked. */
void agent_stopped_lazy(struct store *s, int64_t now_ns, struct stopped_agents *out);
/* Whether name is a stopped agent (a name no agent has: not stopped). */
enum cmon_err agent_stopped_check(struct stopped_agents *sa, const char *name, bool *stopped,
                                  struct cmon_errbuf *eb);
/* The same for a loaded set (agent_stopped_load). */
bool agent_stopped_has(const struct stopped_agents *sa, const char *name);
void agent_stopped_free(struct stopped_agents *sa);

#endif
