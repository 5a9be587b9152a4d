/* server_internal.h: what the server's files share -- the server struct, the
 * per-request context, the route table entry and the reply helpers.
 * Ownership: struct cmon_server owns its daemon, threads and store
 * connections; a struct req lives from a request's first callback to its
 * completion and owns its body buffer, its hold (what a submitted write
 * borrows) and, once the writer has answered, its ticket.
 * Writes without a waiting thread (req_write_wait): the handler submits
 * the command and its connection is suspended; the writer's done()
 * (writer or deadline thread) resumes it and MHD calls the handler again,
 * which runs the request's `then` on a pool thread.  While suspended, MHD
 * neither times the connection out nor notices a client that went away
 * (libmicrohttpd's MHD_suspend_connection), so the struct req cannot be
 * completed and freed before the writer has answered: done() always finds
 * it.  A client gone meanwhile is found when the answer is sent; the
 * command itself ran (or was refused) as for anyone, and the agent's retry
 * of the same batch is acked as a duplicate.  Stopping: writer_close
 * (every done() returned, so no connection is left suspended) before
 * MHD_stop_daemon.  Threads: handlers run on MHD's pool. */
#ifndef CMON_SERVER_SERVER_INTERNAL_H
#define CMON_SERVER_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server/edge_reaper.h"
#include "server/evaluator.h"
#include "server/server.h"
#include "server/writer.h"
#include "store/store.h"

struct cmon_server {
    struct cmon_server_opts opts;
    char store_url[1024];
    char url[160];
    char *tls_cert_pem, *tls_key_pem; /* file contents, for MHD */
    struct MHD_Daemon *mhd;
    atomic_bool auth_required;
    atomic_bool ready;
    atomic_ullong requests;
    atomic_llong embedded_seen_ns;   /* cmon run: the embedded agent's loop last ran */
    atomic_ullong assignment_parses; /* monitors parsed to answer assignment polls */
    struct assign_cache *assign;     /* parsed monitors for those polls (assign_cache.h) */
    pthread_mutex_t pool_mu;         /* read-only connections, one per busy request */
    struct store **ro_pool;
    size_t ro_n, ro_cap;
    struct writer *writer;        /* every write goes through it (writer.h) */
    struct server_alerts *alerts; /* notifier + alert state, ticked by bg */
    atomic_uint sql_running;      /* POST /query executions now (bounded: SQL_MAX_RUNNING) */
    struct edge_reaper *reaper;   /* the header deadline (edge_reaper.h) */
    size_t conn_limit;            /* MHD_OPTION_CONNECTION_LIMIT, from RLIMIT_NOFILE */
    pthread_mutex_t log_mu;       /* MHD's messages: at most one line per 10 s ... */
    int64_t log_last_ns;
    unsigned long log_suppressed; /* ... with a count of those held back */
};

enum req_need { NEED_NONE, NEED_READER, NEED_AGENT, NEED_ADMIN };

struct route;
struct req;

/* What a request does once the writer answered its write (a pool thread):
 * err and msg as the waiting forms return them, duplicate for batches. */
typedef enum MHD_Result (*req_then_fn)(struct req *r, enum cmon_err err, bool duplicate,
                                       const char *msg);

struct req {
    struct cmon_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    bool started;              /* the first access call (checks, auth) is done */
    bool uri_has_nul;          /* the raw URI had %00 (set before MHD unescapes) */
    const struct route *route; /* the API route, found on the first call */
    char path[512];
    const char *seg[8]; /* path segments after the prefix, NUL-split copy */
    size_t n_seg;
    char segbuf[512];
    char *body;
    size_t len, cap;
    bool too_large;
    bool replied;
    enum store_role role;
    char principal[64]; /* token name; the agent's name for agent tokens */
    struct store *ro;   /* read-only connection, taken on first use */
    /* a write submitted without waiting (req_write_wait) */
    struct writer_ticket *ticket; /* the writer's until done(), then ours */
    req_then_fn then;             /* set while the write is pending */
    atomic_int wstate;            /* who resumes: the handler or done() */
    void *hold;                   /* what the command borrows: freed at completion */
    void (*hold_free)(void *);
};

/* libmicrohttpd's callbacks (http.c): per-request dispatch and cleanup. */
enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls);
/* MHD_OPTION_URI_LOG_CALLBACK: makes the struct req (the raw URI is only
 * seen here, before MHD unescapes it). */
void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe);

/* Route handlers; return what MHD_queue_response returned. */
typedef enum MHD_Result (*route_fn)(struct req *r);

/* Reply helpers: each queues exactly one response. */
enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body); /* steals body */
enum MHD_Result reply_error(struct req *r, unsigned status, const char *code, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
enum MHD_Result reply_store_error(struct req *r, enum cmon_err err, const char *msg);
/* Takes ownership of text (malloc'd). */
enum MHD_Result reply_text(struct req *r, unsigned status, const char *content_type, char *text,
                           size_t len);

const char *req_arg(struct req *r, const char *key);
/* The read-only store for this request; NULL after replying 503. */
struct store *req_store(struct req *r);
/* Parse the body as a JSON object; NULL after replying 400. */
json_t *req_json_body(struct req *r);
/* limit (default 100, max 1000) and the offset cursor; false after replying 400. */
bool req_page(struct req *r, size_t *limit, size_t *offset);
/* Every query parameter is one of known[]; false after replying 400 with the
 * first unknown one (and a did-you-mean). */
bool req_known_args(struct req *r, const char *const *known, size_t n_known);
/* Parse an RFC 3339 time arg; def when absent; false after replying 400. */
bool req_time_arg(struct req *r, const char *key, int64_t def, int64_t *out);

/* A write without holding this pool thread.  req_write_async(r, ms) gives
 * the submit's deadline and done(); then submit (writer_*_submit with
 * &r->ticket) and return req_write_wait(r, err, eb.msg, then): on a refused
 * submit it runs then() at once, else it suspends the connection until the
 * writer answered and then() runs.  What the command borrows must live in
 * r (req_hold), not on the handler's stack. */
struct writer_async req_write_async(struct req *r, int deadline_ms);
enum MHD_Result req_write_wait(struct req *r, enum cmon_err err, const char *msg,
                               req_then_fn then);
/* The usual API write: fn(arg) as a writer call with WRITE_DEADLINE_MS,
 * then(r, ...) once the writer answered (arg borrowed until then: r's hold,
 * or what r itself holds, e.g. a URL segment). */
enum MHD_Result req_write_call(struct req *r, writer_fn fn, void *arg, req_then_fn then);
/* r owns p from now: free_fn(p) at the request's completion (one hold per
 * request: a handler sets it once). */
void req_hold(struct req *r, void *p, void (*free_fn)(void *));
/* A zeroed hold of size bytes (req_hold); NULL after replying 500. */
void *req_hold_new(struct req *r, size_t size, void (*free_fn)(void *));
/* The same for a hold whose first member is a json_t *: set to the parsed
 * JSON body (req_json_body), which free_fn must release.  NULL after
 * replying. */
void *req_hold_json(struct req *r, size_t size, void (*free_fn)(void *));

/* Routes (api_*.c). */
enum MHD_Result api_monitor_list(struct req *r);
enum MHD_Result api_monitor_get(struct req *r);
enum MHD_Result api_monitor_put(struct req *r);
enum MHD_Result api_monitor_delete(struct req *r);
enum MHD_Result api_monitor_start(struct req *r);
enum MHD_Result api_monitor_stop(struct req *r);
enum MHD_Result api_view_tests(struct req *r);
/* api_scopes.c: the distinct values the scope selectors offer. */
enum MHD_Result api_view_scopes(struct req *r);
enum MHD_Result api_view_groups(struct req *r);
enum MHD_Result api_view_sources(struct req *r);
enum MHD_Result api_view_destinations(struct req *r);
enum MHD_Result api_view_configs(struct req *r);
enum MHD_Result api_test_history(struct req *r);
/* api_members.c: a test's source agents with their own figures and state. */
enum MHD_Result api_test_members(struct req *r);
enum MHD_Result api_metrics_query(struct req *r);
enum MHD_Result api_prometheus(struct req *r);
enum MHD_Result api_results(struct req *r);
enum MHD_Result api_sql(struct req *r);
enum MHD_Result api_agent_results(struct req *r);
enum MHD_Result api_token_create(struct req *r);
enum MHD_Result api_alert_rule_list(struct req *r);
enum MHD_Result api_alert_dimensions(struct req *r);
enum MHD_Result api_alert_signals(struct req *r);
enum MHD_Result api_alert_rule_get(struct req *r);
enum MHD_Result api_alert_rule_put(struct req *r);
enum MHD_Result api_alert_rule_delete(struct req *r);
enum MHD_Result api_alert_rule_enable(struct req *r);
enum MHD_Result api_alert_rule_disable(struct req *r);
enum MHD_Result api_action_group_list(struct req *r);
enum MHD_Result api_action_group_get(struct req *r);
enum MHD_Result api_action_group_put(struct req *r);
enum MHD_Result api_action_group_delete(struct req *r);
enum MHD_Result api_alert_list(struct req *r);
enum MHD_Result api_agent_register(struct req *r);
enum MHD_Result api_agent_heartbeat(struct req *r);
enum MHD_Result api_agent_assignments(struct req *r);
enum MHD_Result api_agents_list(struct req *r);
enum MHD_Result api_agent_delete(struct req *r);
/* paths.c: traceroute paths (topology, history, monitor graph). */
enum MHD_Result api_test_topology(struct req *r);
enum MHD_Result api_test_paths(struct req *r);
enum MHD_Result api_monitor_topology(struct req *r);
struct cmon_path_report;
/* Store a reported path with its route-change mark (writer thread). */
enum cmon_err paths_store(struct store *s, const char *agent, const struct cmon_path_report *rep,
                          struct cmon_errbuf *eb);

/* Shared by the views and results: fill the filter from ?monitor=&state=
 * &protocol=&q=&scope= and the exact names (testGroup, source, destination,
 * testConfiguration, destinationType); own: the endpoint's other parameters
 * (any parameter neither knows is a 400 naming it); false after replying. */
bool views_filter(struct req *r, const char *const *own, size_t n_own, struct store_test_filter *f);
/* at= (views_at.c): a past moment, 0 for now or later; false after replying 400. */
bool views_at(struct req *r, int64_t *at_ns);
/* test_query as the tests stood at at_ns (0: live): states and reasons from
 * the stored state changes, figures from the rounds then; f's state filter
 * applies to those states. */
enum cmon_err views_test_query(struct store *s, const struct store_test_filter *f, int64_t at_ns,
                               store_test_cb cb, void *arg, struct cmon_errbuf *eb);
/* The roll-up of tests (DESIGN 4) every aggregate the API shows uses (the
 * roll-up views, monitors): tests per state, the worst state with its
 * reason (model: cmon_state_worse), the worst figures, whether any test's
 * group is enabled, and (when distinct) the distinct test groups, sources,
 * destinations and source regions (sets: JSON objects as sets, made on
 * first use).
 * Ownership: view_rollup_free frees the sets.  Threads: the caller's. */
enum rollup_set { ROLLUP_GROUPS, ROLLUP_SOURCES, ROLLUP_DESTINATIONS, ROLLUP_REGIONS, ROLLUP_N_SETS };
struct view_rollup {
    size_t counts[5], tests;
    enum cmon_state state;
    char reason[320];
    bool has_failed, has_rtt, enabled, distinct;
    double failed, rtt;
    json_t *sets[ROLLUP_N_SETS];
};
void view_rollup_init(struct view_rollup *u, bool distinct);
void view_rollup_free(struct view_rollup *u);
/* Fold one test in (region: its source's, "" or NULL when none); false
 * when out of memory. */
bool view_rollup_add(struct view_rollup *u, const struct store_test *t, const char *region);
size_t view_rollup_distinct(const struct view_rollup *u, enum rollup_set which);
/* Adds state, reason, counts, testCount, checksFailedPercent and
 * roundTripTimeMs to o and returns it (NULL when o is NULL). */
json_t *view_rollup_json(json_t *o, const struct view_rollup *u);
/* {"Indeterminate": n, "Pass": n, "Warning": n, "Fail": n, "NotRunning": n} */
json_t *counts_json(const size_t n[5]);
/* The test row of DESIGN 10 (SourceAddress and Region from b, sources.h). */
struct source_book;
json_t *view_test_row(const struct store_test *t, const struct source_book *b);

/* Leave open mode (a token now exists), saying so once in the log. */
void server_require_tokens(struct cmon_server *srv, const char *why);

/* How long a request waits for the writer to take its write (then 503):
 * result batches and API writes, and heartbeats (which come again anyway). */
#define WRITE_DEADLINE_MS 10000
#define HEARTBEAT_DEADLINE_MS 5000

/* The server's wall clock (cmon_server_opts.now_ns, else cmon_wall_ns). */
int64_t server_now(const struct cmon_server *srv);
/* Run fn on the writer thread with the write connection, waiting at most
 * WRITE_DEADLINE_MS for it to start (CMON_ERR_BUSY then).  It holds the
 * calling thread, so no handler uses it (they use req_write_call /
 * req_write_wait); `cmon run FILE` applies its monitors with it at start. */
enum cmon_err server_write(struct cmon_server *srv, writer_fn fn, void *arg,
                           struct cmon_errbuf *eb);
/* A read-only connection from the pool, outside a request (give it back). */
struct store *server_ro_take(struct cmon_server *srv, struct cmon_errbuf *eb);
void server_ro_give(struct cmon_server *srv, struct store *s);
/* Re-evaluate a monitor's tests (writer thread, after monitor changes). */
enum cmon_err server_eval_monitor(struct store *s, const char *name, int64_t now_ns,
                                  struct cmon_errbuf *eb);
/* A monitor was put, deleted, started or stopped: tell opts.on_monitors_changed. */
void server_monitors_changed(struct cmon_server *srv);

#endif
