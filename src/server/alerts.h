/* alerts.h: alert evaluation inside the server (docs/alerts.md) -- each tick of
 * the writer thread builds the series snapshot from the store, calls the
 * pure evaluator, stores instances and transitions, and hands transitions to
 * the notifier thread, which this module starts and stops.
 * Ownership: struct server_alerts owns the notifier and the previous
 * evaluation's instances; the store passed to tick is borrowed.
 * Threads: start/stop from the server's thread; tick only from the
 * writer thread (one caller at a time). */
#ifndef CMON_SERVER_ALERTS_H
#define CMON_SERVER_ALERTS_H

#include <stdint.h>

#include "alert/eval.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

struct server_alerts;
struct cmon_server_opts;

/* generator_url: the dashboard URL Alertmanager links to (copied);
 * retention_ns: resolved alerts and transitions older than this are pruned
 * (hourly; 0 keeps them); allow_exec: --allow-exec-actions. */
enum cmon_err server_alerts_start(const char *generator_url, int64_t retention_ns, bool allow_exec,
                                  const struct cmon_log *log, const struct cmon_server_opts *srv,
                                  struct server_alerts **out, struct cmon_errbuf *eb);
/* One evaluation period: evaluates when a rule is due (or an alert's rule
 * went away), re-sends firing alerts to Alertmanagers at least every minute. */
void server_alerts_tick(struct server_alerts *a, struct store *s, int64_t now_ns);
/* Drop the in-memory alerts so the next tick restores them from the store:
 * call when this replica (re)gains the background leadership (PostgreSQL),
 * since another leader may have moved them on meanwhile. */
void server_alerts_forget(struct server_alerts *a);
/* Stops the notifier (unsent jobs are dropped) and frees a. */
void server_alerts_stop(struct server_alerts *a);

/* ---- the series snapshot (alerts_snapshot.c) ---- */

/* Series for the evaluator: one per (test, agent) with the samples of the
 * last window_ns; tests without results in the window are one series under
 * their source's address.  agent_stale_ns > 0 marks an agent stopped when
 * its last contact is older than that (the Indeterminate rule of DESIGN 4
 * scaled to the agent's slowest test).  Owns everything it points to. */
struct alert_snapshot {
    struct cmon_alert_series *series;
    size_t n;
    void *own; /* backing storage */
};
/* srv (may be NULL): the embedded agent's address and region. */
enum cmon_err alert_snapshot_build(struct store *s, const struct cmon_server_opts *srv,
                                   int64_t now_ns, int64_t window_ns, struct alert_snapshot *out,
                                   struct cmon_errbuf *eb);
void alert_snapshot_free(struct alert_snapshot *snap);

#endif
