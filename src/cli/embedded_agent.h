/* embedded_agent.h: the agent inside `cmon run` (DESIGN 1) -- the agent
 * runtime of src/agent (runtime.h, the same probe loops `cmon agent` runs)
 * with the server as its sink and source: rounds and paths go to the
 * server's write queue (cmon_server_submit_rounds/_paths, the path remote
 * batches take) and the monitors are re-read from the store when the server
 * says one changed (cmon_server_opts.on_monitors_changed), never polled.
 * cli/ wires the two so that the server includes neither probe/ nor agent/.
 * Ownership: embedded_agent_new returns an agent the caller stops with
 * embedded_agent_stop before stopping the server (its rounds go there) and
 * frees with embedded_agent_free after (the server may still call
 * embedded_agent_changed until it has stopped).
 * Threads: new/start/stop from the main thread; embedded_agent_changed from
 * any thread; one thread of its own reads the store. */
#ifndef CMON_CLI_EMBEDDED_AGENT_H
#define CMON_CLI_EMBEDDED_AGENT_H

#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "server/server.h"

struct embedded_agent;

struct embedded_agent_opts {
    const char *store_url;
    const char *name;  /* the agent's name (the host name) */
    const char *alias; /* another name endpoints may use for it ("local") */
    const char *address; /* its primary address (--address; NULL: the host's first) */
    /* how often each test's path is traced (0: 10 min); a test is also
     * traced on its first round and when its state changes */
    int64_t trace_interval_ns;
    unsigned loops; /* probe loops; 0: one per core */
    const struct cmon_log *log;
};

/* Made before the server starts, so that its on_monitors_changed can point
 * at embedded_agent_changed; NULL when out of memory. */
struct embedded_agent *embedded_agent_new(void);
/* The server's on_monitors_changed: wakes the reader (never blocks). */
void embedded_agent_changed(void *arg);
/* Start the loops and the reader (which loads the monitors at once).  On
 * failure the agent stays stopped; embedded_agent_stop and _free still
 * release what was made. */
enum cmon_err embedded_agent_start(struct embedded_agent *a, struct cmon_server *srv,
                                   const struct embedded_agent_opts *opts, struct cmon_errbuf *eb);
/* Stop probing and reading (NULL: nothing); embedded_agent_changed stays
 * safe to call until embedded_agent_free. */
void embedded_agent_stop(struct embedded_agent *a);
void embedded_agent_free(struct embedded_agent *a);

#endif
