/* agent_state.h: when a remote agent counts as stopped -- one rule for the
 * evaluator (tests get Indeterminate "agent_stopped"), the agents API's
 * "state" field and the alert evaluator's AgentUnavailable suppression.
 * A registered agent is stopped when it has sent neither heartbeat nor
 * results for AGENT_STOPPED_HEARTBEATS of its announced heartbeat periods.
 * Ownership: struct stopped_agents owns its names (agent_stopped_free).
 * Any thread; no shared state. */
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

struct stopped_agents {
    char (*names)[64];
    size_t n, cap;
    int64_t now_ns;
};

/* The names of the stopped agents; a backend without agent ops (NULL
 * agent_list) knows none.  Free with agent_stopped_free even on error. */
enum cmon_err agent_stopped_load(struct store *s, int64_t now_ns, struct stopped_agents *out,
                                 struct cmon_errbuf *eb);
bool agent_stopped_has(const struct stopped_agents *sa, const char *name);
void agent_stopped_free(struct stopped_agents *sa);

#endif
