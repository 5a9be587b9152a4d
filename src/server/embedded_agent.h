/* embedded_agent.h: the agent inside `cmon run` (DESIGN 1) -- one thread with
 * a libuv loop running the probe engine and scheduler (src/probe) on the
 * tests whose source is this agent, handing each round to the server's
 * write queue through cmon_server_submit_rounds, the path remote batches take.
 * It follows monitor changes by re-reading the store every few seconds.
 * Ownership: embedded_agent_start returns an agent the caller stops and frees
 * with embedded_agent_stop (before stopping the server).
 * Threads: start/stop from the main thread; everything else on the agent's loop. */
#ifndef CMON_SERVER_EMBEDDED_AGENT_H
#define CMON_SERVER_EMBEDDED_AGENT_H

#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "server/server.h"

struct embedded_agent;

/* name: the agent's name (the host name); alias: another name endpoints may
 * use for it ("local").  Tests whose source endpoint names either run here.
 * trace_interval_ns: how often each test's path is traced (0: 10 min); a
 * test is also traced on its first round and when its state changes. */
enum cmon_err embedded_agent_start(struct cmon_server *srv, const char *store_url, const char *name,
                                   const char *alias, const char *address,
                                   int64_t trace_interval_ns, const struct cmon_log *log,
                                   struct embedded_agent **out, struct cmon_errbuf *eb);
void embedded_agent_stop(struct embedded_agent *a);

#endif
