/* server.h: the cmon server (DESIGN 1) -- an HTTP API on libmicrohttpd's
 * thread pool (read-only store connections) and one writer thread that owns
 * the write connection: every write (result batches, heartbeats, API writes,
 * evaluation ticks, roll-ups, retention) is a command on its bounded queue.
 * Ownership: cmon_server_start() returns a server the caller stops and frees
 * with cmon_server_stop().  Threads: every function here is thread-safe. */
#ifndef CMON_SERVER_SERVER_H
#define CMON_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "model/monitor.h"
#include "model/result.h"

#define CMON_MAX_ALLOWED_HOSTS 16

struct cmon_server_opts {
    const char *listen;    /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080" */
    const char *store_url; /* "sqlite:PATH" */
    int64_t retention_ns;  /* raw results kept this long; 0: 30 days */
    unsigned threads;      /* HTTP thread pool; 0: 4 */
    size_t max_body;       /* request body limit; 0: 1 MiB */
    size_t max_monitors;   /* 0: 100 */
    size_t queue_results;  /* write queue bound in results; 0: 100000 */
    int eval_interval_ms;  /* background evaluation period; 0: 5000 */
    const char *tls_cert;  /* PEM files; both set: serve HTTPS only */
    const char *tls_key;
    int64_t trace_interval_ns;  /* cmon run's embedded agent: path tracing period; 0: 10 min */
    const char *embedded_agent; /* cmon run: the embedded agent's name (NULL: none) */
    const char *embedded_alias; /* and the alias monitors may call it by ("local") */
    const char *embedded_address; /* its primary address (NULL: the host's first) */
    /* its addresses as a JSON array text, primary first (cli/ reads them from
     * the host: the server does not look at interfaces itself; NULL: "[]") */
    const char *embedded_addresses;
    const char *embedded_region;  /* its region (NULL: none) */
    /* cmon run: called after a monitor is put, deleted, started or stopped
     * (on the API thread that wrote it; it must not block), so the embedded
     * agent re-reads the monitors instead of polling the store */
    void (*on_monitors_changed)(void *arg);
    void *monitors_changed_arg;
    /* --allowed-host: Host names accepted besides loopback ones */
    const char *allowed_hosts[CMON_MAX_ALLOWED_HOSTS];
    size_t n_allowed_hosts;
    bool allow_exec;           /* --allow-exec-actions: exec alert actions may be stored and run */
    unsigned max_conns_per_ip; /* 0: 256 */
    int agent_batch_ms;        /* batchIntervalMs told to agents; 0: CMON_AGENT_BATCH_MS */
    /* The server's wall clock (Unix ns) for ingest, evaluation, alerts and
     * the agents' time window; NULL: cmon_wall_ns.  Tests inject it. */
    int64_t (*now_ns)(void *ctx);
    void *clock_ctx;
    const struct cmon_log *log;
};

struct cmon_server;

enum cmon_err cmon_server_start(const struct cmon_server_opts *opts, struct cmon_server **out,
                                struct cmon_errbuf *eb);
/* Stops accepting requests, drains the write queue, joins threads, frees. */
void cmon_server_stop(struct cmon_server *srv);

/* "http://127.0.0.1:8080" */
const char *cmon_server_url(const struct cmon_server *srv);
/* True when requests need a bearer token (tokens exist or were required). */
bool cmon_server_auth_required(const struct cmon_server *srv);

/* Apply a monitor (JSON text of DESIGN 3) as PUT /api/v1/connectionMonitors
 * would; name NULL takes the JSON's name or default_name.  Problems are
 * filled on CMON_ERR_INVALID/CMON_ERR_PARSE (caller frees them). */
enum cmon_err cmon_server_apply_monitor(struct cmon_server *srv, const char *name,
                                        const char *default_name, const char *text, size_t len,
                                        bool *created, struct cmon_problems *probs,
                                        struct cmon_errbuf *eb);

/* What the store holds of monitor name: *exists, and when it was last
 * changed (by any apply, the API or the dashboard) and whether its stored
 * text is text.  For `cmon run FILE`: a file does not overwrite newer edits. */
enum cmon_err cmon_server_monitor_stat(struct cmon_server *srv, const char *name, const char *text,
                                       bool *exists, int64_t *updated_ns, bool *same_text,
                                       struct cmon_errbuf *eb);

/* The embedded agent says its loop is alive (every few seconds): its
 * last-seen on the agents list, and its state there. */
void cmon_server_embedded_seen(struct cmon_server *srv, int64_t wall_ns);

/* The embedded agent's entry into the write queue: the same path remote
 * batches take, without a batch sequence.  Results are copied; returns
 * CMON_ERR_BUSY when the write queue is full (the caller may retry later). */
enum cmon_err cmon_server_submit_rounds(struct cmon_server *srv, const char *agent,
                                        const struct cmon_round_result *results, size_t n,
                                        struct cmon_errbuf *eb);

/* The embedded agent's traced paths (model/path.h) into the same queue. */
struct cmon_path_report;
enum cmon_err cmon_server_submit_paths(struct cmon_server *srv, const char *agent,
                                       const struct cmon_path_report *paths, size_t n,
                                       struct cmon_errbuf *eb);

/* Run the writer's timer jobs now (evaluation, alert tick, roll-up) and
 * wait for them: for tests that move an injected clock. */
enum cmon_err cmon_server_tick(struct cmon_server *srv, struct cmon_errbuf *eb);

#endif
