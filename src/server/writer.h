/* writer.h: the one writer -- the only thread that writes to the store.  It
 * owns the store's one write connection, its transactions and (PostgreSQL)
 * the background leadership.  Every write is a typed command on one bounded
 * queue: result batches (remote agents' and the embedded agent's rounds),
 * heartbeats, and calls (agent register/delete, monitor, rule, group and token
 * writes).  Results and heartbeats queued together share one transaction (one
 * fsync for many); the writer's own timer runs the evaluation ticks, alert
 * ticks, roll-ups and retention between commands.
 * Deadlines: a submitter waits until its command is done, but only until its
 * deadline (CLOCK_MONOTONIC) for the command to start; a full queue or a
 * command not started by then is CMON_ERR_BUSY and is not executed (the API
 * answers 503 overloaded with Retry-After).  A started command is waited for:
 * it is bounded by one transaction.
 * Submitting without waiting (writer_*_submit, the HTTP handlers: their
 * connection is suspended meanwhile, http.c): the same deadline, kept by the
 * writer's deadline thread, and done(arg) called exactly once when the
 * command is done or refused -- on the writer or the deadline thread,
 * w->mu not held.
 * Ownership: commands that are waited for borrow the submitter's memory
 * until return; writer_results_async copies.  A submitted command (its
 * ticket) belongs to the writer, and borrows what it points to, from a
 * successful submit until done() is called; from then on the ticket is the
 * submitter's (read it with writer_ticket_result, free it with
 * writer_ticket_free) and the writer never touches it again.  A refused
 * submit (error return) queued nothing and never calls done().
 * Threads: submit from any thread; the writer and deadline threads are
 * internal. */
#ifndef CMON_SERVER_WRITER_H
#define CMON_SERVER_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "model/result.h"
#include "store/store.h"

struct writer;
struct server_alerts;
struct cmon_path_report;

struct writer_opts {
    const char *store_url;
    size_t max_queued_results; /* 0: 100000 */
    size_t max_queued_cmds;    /* 0: 10000 */
    int eval_interval_ms;      /* evaluation / alert tick / roll-up period; 0: only on writer_tick */
    int64_t retention_ns;      /* raw results kept this long (hourly, and at start) */
    struct server_alerts *alerts; /* ticked after each evaluation; may be NULL; borrowed */
    /* The server's wall clock (Unix ns); NULL: cmon_wall_ns.  Tests inject it. */
    int64_t (*now_ns)(void *ctx);
    void *clock_ctx;
    const struct cmon_log *log;
};

enum cmon_err writer_start(const struct writer_opts *o, struct writer **out,
                           struct cmon_errbuf *eb);
/* Refuses new commands (CMON_ERR_BUSY) and returns once every submitted
 * command's done() has returned (they run, or are refused at their
 * deadline): after it no done() comes any more.  The HTTP daemon stops
 * after this (a suspended connection must be resumed before). */
void writer_close(struct writer *w);
/* Executes what is queued, then stops the threads and frees. */
void writer_stop(struct writer *w);
/* The server's wall clock (the injected one in tests). */
int64_t writer_now(const struct writer *w);

/* An absolute CLOCK_MONOTONIC deadline ms from now. */
int64_t writer_deadline(int ms);

/* One agent batch.  seq < 0: no exactly-once bookkeeping (embedded agent);
 * otherwise stored once per (agent, spool_id, seq) (spool_id NULL or "": per
 * (agent, seq)). */
struct writer_batch {
    const char *agent, *spool_id;
    int64_t seq;
    const struct cmon_round_result *results;
    size_t n;
    const struct cmon_path_report *paths;
    size_t n_paths;
};
/* Store the batch and wait for its commit; *duplicate when it had been
 * stored before.  The arrays are borrowed until return. */
enum cmon_err writer_results(struct writer *w, const struct writer_batch *b, int64_t deadline_ns,
                             bool *duplicate, struct cmon_errbuf *eb);
/* The same without waiting (the embedded agent): the arrays are copied.
 * Consecutive batches without exactly-once bookkeeping (seq < 0) of one
 * agent join the queue's tail command while it has not started (up to
 * 10,000 rounds and 1,000 paths), so a busy agent's rounds take one place
 * in the command bound, not one each; each round is still stored once. */
enum cmon_err writer_results_async(struct writer *w, const struct writer_batch *b,
                                   struct cmon_errbuf *eb);

/* A heartbeat (store op agent_heartbeat); CMON_ERR_NOTFOUND when the agent
 * is not registered.  Heartbeats share the results' transactions. */
struct writer_heartbeat {
    const char *name, *version, *addresses_json, *region, *spool_json;
    int heartbeat_sec;
};
enum cmon_err writer_heartbeat(struct writer *w, const struct writer_heartbeat *hb,
                               int64_t deadline_ns, struct cmon_errbuf *eb);

/* A write run alone (its own transaction, as the store op makes it) on the
 * writer thread with the write connection and the server's now. */
typedef enum cmon_err (*writer_fn)(struct store *s, void *arg, int64_t now_ns,
                                   struct cmon_errbuf *eb);
enum cmon_err writer_call(struct writer *w, writer_fn fn, void *arg, int64_t deadline_ns,
                          struct cmon_errbuf *eb);
/* Run the timer's jobs now (evaluation, alerts, roll-up) and wait: tests on
 * an injected clock call it after moving the clock. */
enum cmon_err writer_tick(struct writer *w, int64_t deadline_ns, struct cmon_errbuf *eb);

/* ---- submitting without waiting ---- */

struct writer_ticket; /* a submitted command */
typedef void (*writer_done_fn)(void *arg);
struct writer_async {
    int64_t deadline_ns; /* CLOCK_MONOTONIC: not started by then, refused */
    writer_done_fn done;
    void *arg;
};
/* writer_results, writer_heartbeat and writer_call without waiting: on
 * CMON_OK *out is the ticket (set before the command can be done) and
 * a->done(a->arg) follows; b, hb and arg are borrowed until then. */
enum cmon_err writer_results_submit(struct writer *w, const struct writer_batch *b,
                                    const struct writer_async *a, struct writer_ticket **out,
                                    struct cmon_errbuf *eb);
enum cmon_err writer_heartbeat_submit(struct writer *w, const struct writer_heartbeat *hb,
                                      const struct writer_async *a, struct writer_ticket **out,
                                      struct cmon_errbuf *eb);
enum cmon_err writer_call_submit(struct writer *w, writer_fn fn, void *arg,
                                 const struct writer_async *a, struct writer_ticket **out,
                                 struct cmon_errbuf *eb);
/* After done(): the command's outcome, as the waiting forms return it
 * (CMON_ERR_BUSY when refused at its deadline); duplicate may be NULL. */
enum cmon_err writer_ticket_result(const struct writer_ticket *t, bool *duplicate,
                                   struct cmon_errbuf *eb);
void writer_ticket_free(struct writer_ticket *t);

struct writer_stats {
    uint64_t results_stored, batches_committed, batches_duplicate, results_dropped;
    uint64_t queued_results, queued_cmds, refused_busy, heartbeats;
    uint64_t submitted; /* submitted commands not answered yet (queued or running) */
};
void writer_get_stats(struct writer *w, struct writer_stats *st);

#endif
