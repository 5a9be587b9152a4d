/* assign.h: the set of tests one agent runs, kept on its scheduler and
 * tracer.  The remote agent (assignments from the server) and the embedded
 * agent of `cmon run` (monitors read from the store) both build the new set
 * monitor by monitor and then commit it: tests no longer wanted leave the
 * scheduler and tracer; the others are put (an unchanged test keeps its
 * schedule).  A test runs here when its group is enabled and its source
 * endpoint names this agent (by name or alias, or every agent).
 * The agent runtime parses and selects once, on the thread that assigns
 * (agent_assign_parse, agent_assign_wants on an agent_assign without a
 * scheduler), and each loop puts its shard (agent_assign_put) and commits.
 * Ownership: struct agent_assign owns its id lists and borrows sched, tracer
 * and log.  Loop thread only (the one that owns sched and tracer); parse and
 * wants only read the identity, so any thread may call them once the
 * addresses are set. */
#ifndef CMON_AGENT_ASSIGN_H
#define CMON_AGENT_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/tracer.h"
#include "core/log.h"
#include "model/monitor.h"
#include "probe/scheduler.h"

typedef char agent_test_id[CMON_TEST_ID_LEN + 1];

struct agent_assign {
    struct probe_sched *sched;
    struct agent_tracer *tracer; /* NULL: no traceroute */
    const struct cmon_log *log;
    const char *name, *alias; /* alias may be NULL */
    /* its reported addresses (compound sources select agents by address);
     * addresses[] point into addresses_json, owned */
    struct json_t *addresses_json;
    const char **addresses;
    size_t n_addresses;
    agent_test_id *ids;       /* on the scheduler now, sorted */
    size_t n;
    agent_test_id *next; /* the set being built */
    size_t n_next, cap_next;
};

void agent_assign_init(struct agent_assign *as, struct probe_sched *sched,
                       struct agent_tracer *tracer, const struct cmon_log *log, const char *name,
                       const char *alias);
bool agent_assign_runs_here(const struct agent_assign *as, const struct cmon_endpoint *ep);
/* The agent's addresses (agent_addresses()): takes the reference. */
void agent_assign_set_addresses(struct agent_assign *as, struct json_t *addresses);

/* Parse a monitor as stored under name (so test ids are the server's) and
 * expand it: *m and *tests (cmon_monitor_free, cmon_tests_free) are the
 * caller's.  CMON_ERR_INVALID when the body does not validate here
 * (*problems says how many). */
enum cmon_err agent_assign_parse(const char *name, const char *body, struct cmon_monitor **m,
                                 struct cmon_test **tests, size_t *n, size_t *problems);
/* Test t of m runs on this agent: its group is enabled and its source names
 * this agent.  Which probe loop runs it is the runtime's choice
 * (agent_shard_of): each loop's set gets only its own tests. */
bool agent_assign_wants(const struct agent_assign *as, const struct cmon_monitor *m,
                        const struct cmon_test *t);
/* Put one test on the scheduler and tracer, in the set being built. */
void agent_assign_put(struct agent_assign *as, const struct cmon_test *t,
                      const struct cmon_test_config *cfg);
/* Make the set built since the last commit current: remove the tests not in
 * it.  Returns the number of tests now assigned. */
size_t agent_assign_commit(struct agent_assign *as);
/* Forget the set being built (the current one stays). */
void agent_assign_abort(struct agent_assign *as);
void agent_assign_free(struct agent_assign *as);

#endif
