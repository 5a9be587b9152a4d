/* runtime.h: the one agent runtime -- N probe loops, each a thread with its
 * own libuv loop, probe engine (sockets, DNS cache), scheduler and tracer.
 * `cmon agent` and the embedded agent of `cmon run` both run on it; they
 * differ only in the sink their results go to (HTTP push + spool, or the
 * server's write queue) and in where assignments come from (an HTTP poll, or
 * a notification from the server when a monitor changes).  Tests are sharded
 * by test id (agent_shard_of): a test's rounds always come from one loop,
 * across every reload.  Monitors are parsed and expanded once per
 * assignment, on the assigning thread; each loop gets its shard of tests.
 * A loop given more than it can do skips rounds (scheduler.h, Overload):
 * counted here (agent_runtime_stats) and logged, never launched late.
 * Ownership: the runtime copies its opts (sink callbacks are borrowed); an
 * assignment set handed to agent_runtime_assign belongs to the runtime.
 * Threads: start/stop from one thread; agent_runtime_assign and the queries
 * from any thread; sink callbacks run on the loop threads, several at once. */
#ifndef CMON_AGENT_RUNTIME_H
#define CMON_AGENT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "model/path.h"
#include "model/result.h"

/* Probe loops at most (a default of one per core stops here). */
#define AGENT_MAX_LOOPS 16

/* Where a runtime's output goes.  Every callback may be called from several
 * loop threads at once: it must be thread-safe. */
struct agent_sink {
    void (*round)(void *arg, const struct cmon_round_result *r);
    void (*path)(void *arg, const char *test_id, int64_t time_ns, const struct cmon_path *p);
    /* every few seconds from the first loop: the loops are alive (optional) */
    void (*alive)(void *arg, int64_t wall_ns);
    /* once an assignment set is on every loop: monitors in it, tests here */
    void (*applied)(void *arg, size_t monitors, size_t tests);
    void *arg;
};

struct agent_runtime_opts {
    unsigned loops;            /* 0: agent_runtime_default_loops() */
    const char *name;          /* the agent's name */
    const char *alias;         /* another name endpoints may use (NULL: none) */
    const char *address;       /* the primary address (--address; NULL: the host's first) */
    int64_t trace_interval_ns; /* 0: the tracer's default */
    const char *probe_ca_file; /* HTTPS tests' trust anchors (borrowed); NULL: system store */
    /* descriptors every loop's checks may hold together (0: the hard
     * RLIMIT_NOFILE, to which the soft one is raised at start); less a
     * headroom of 512 for the rest of the process, shared among the loops */
    uint32_t max_fds;
    struct agent_sink sink;
    const struct cmon_log *log;
};

struct agent_runtime;

/* The monitors an agent runs, as the server stores them (name + JSON text):
 * built by one thread, then handed to agent_runtime_assign. */
struct agent_assignment;
struct agent_assignment *agent_assignment_new(void);
/* Copies name and body.  CMON_ERR_NOMEM leaves the set as it was. */
enum cmon_err agent_assignment_add(struct agent_assignment *set, const char *name,
                                   const char *body);
size_t agent_assignment_count(const struct agent_assignment *set);
void agent_assignment_free(struct agent_assignment *set);

/* The number of cores, at most AGENT_MAX_LOOPS. */
unsigned agent_runtime_default_loops(void);
/* The loop (0..loops-1) a test runs on: FNV-1a of its id, so stable. */
unsigned agent_shard_of(const char *test_id, unsigned loops);

/* Start the loops (no tests yet).  A failed start frees everything. */
enum cmon_err agent_runtime_start(const struct agent_runtime_opts *opts, struct agent_runtime **out,
                                  struct cmon_errbuf *eb);
/* Replace the assigned monitors with set (taken; NULL is an empty set).
 * Parses and expands set here, on the caller's thread (the loops go on
 * probing meanwhile); then each loop puts its shard of the tests; unchanged
 * tests keep their schedule.  A set not yet applied when a newer one comes
 * is skipped. */
void agent_runtime_assign(struct agent_runtime *rt, struct agent_assignment *set);

/* Rounds the loops did not make since start, by reason (scheduler.h). */
struct agent_runtime_stats {
    uint64_t skipped_late, skipped_busy;
};
void agent_runtime_stats(struct agent_runtime *rt, struct agent_runtime_stats *out);
unsigned agent_runtime_loops(const struct agent_runtime *rt);
/* The sets applied by every loop so far (each agent_runtime_assign counts one). */
uint64_t agent_runtime_applied(struct agent_runtime *rt);
/* The loop test_id is assigned to, -1 when on none (for tests). */
int agent_runtime_loop_of(struct agent_runtime *rt, const char *test_id);
/* Stop probing (rounds in flight are dropped), join the loops, free. */
void agent_runtime_stop(struct agent_runtime *rt);

#endif
