/* agent.h: the remote agent of `cmon agent` (DESIGN 1 and 7) -- registers
 * with a workspace key, keeps its per-agent token in the state directory,
 * pulls its assignments (ETag), runs them on the probe engine and scheduler,
 * and pushes round results in batches that go through the on-disk spool
 * (src/agent/spool.h) first, so nothing is lost across outages or kill -9.
 * Threads: agent_start/agent_stop from the main thread.  Inside, the probe
 * loops of the agent runtime (runtime.h: one per core by default, tests
 * sharded by id) run the probes, schedulers and tracers; one push thread
 * does the blocking HTTP (libcurl easy), the spool's appends/fsyncs and the
 * acks, so neither disk nor network ever blocks a probe loop, and the spool
 * has one owner whatever the number of loops (exactly-once unchanged).
 * Ownership: the agent copies everything in opts; agent_stop frees it. */
#ifndef CMON_AGENT_AGENT_H
#define CMON_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"

#define AGENT_MAX_SERVERS 8

struct agent_opts {
    const char *servers[AGENT_MAX_SERVERS]; /* base URLs, tried in order (failover) */
    size_t n_servers;
    const char *key;          /* workspace key; NULL when a saved token exists */
    const char *name;         /* agent name */
    const char *address;      /* --address: the primary address it reports; NULL: the host's */
    const char *region;       /* --region: reported as the Region dimension; NULL: none */
    const char *state_dir;    /* token file + spool/ */
    const char *ca_file;      /* trust anchor for https servers; NULL: system store */
    int heartbeat_sec;        /* 0: 10 */
    int poll_sec;             /* assignments re-poll; 0: 10 */
    int batch_ms;             /* rounds wait at most this long for a batch; 0: 1000 */
    uint64_t spool_max_bytes; /* 0: 256 MiB */
    unsigned loops;           /* probe loops (runtime.h); 0: one per core */
    const struct cmon_log *log;
};

struct agent;

enum cmon_err agent_start(const struct agent_opts *opts, struct agent **out,
                          struct cmon_errbuf *eb);
/* Stop probing, spool what is pending, stop the threads, free. */
void agent_stop(struct agent *a);

/* The addresses an agent reports (register, heartbeat): primary first (NULL:
 * the host's first), then this host's other non-loopback addresses, no
 * duplicates.  A new JSON array reference. */
struct json_t;
struct json_t *agent_addresses(const char *primary);

#endif
