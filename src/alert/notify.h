/* notify.h: the alert action senders -- webhook (JSON body, HMAC-SHA256
 * signature), Prometheus Alertmanager v2 and exec -- behind a bounded queue
 * with retries and exponential backoff, so a slow or failing receiver never
 * blocks the evaluator.
 *
 * Threads: cmon_notifier_start() starts one sender thread that owns libcurl
 * handles and child processes; submit/flush/kick/stats/stop may be called
 * from any one other thread at a time (they take the notifier's lock).  The
 * caller must have called curl_global_init() before start (main() does).
 * Ownership: submit copies everything it needs; the notifier owns its jobs
 * and frees them when sent, given up, or at stop.  The payload builders below
 * are pure and return new strings / references the caller frees. */
#ifndef CMON_ALERT_NOTIFY_H
#define CMON_ALERT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/eval.h"
#include "model/alert_rule.h"
#include "core/err.h"
#include "core/log.h"

#define CMON_NOTIFY_SIGNATURE_HEADER "X-Cmon-Signature"

struct cmon_notify_opts {
    size_t queue_max;           /* jobs waiting or retrying; default 1000 */
    int max_tries;              /* per job, first send included; default 5 */
    int64_t backoff_ns;         /* delay before the 2nd try; doubles each time; default 1 s */
    long http_timeout_ms;       /* per request; default 10000 */
    const char *generator_url;  /* Alertmanager generatorURL (the dashboard), or NULL */
    const struct cmon_log *log; /* may be NULL; must outlive the notifier */
    /* exec actions run only when the server's command line allows them
     * (--allow-exec-actions, DESIGN 9); otherwise they are logged and dropped,
     * whatever the store holds. */
    bool allow_exec;
    /* Time source for due times (default: cmon_mono_ns).  Tests inject a
     * clock and call cmon_notifier_kick() after moving it. */
    int64_t (*now_ns)(void *ctx);
    void *clock_ctx;
};

struct cmon_notify_stats {
    uint64_t sent;    /* jobs delivered */
    uint64_t retried; /* failed tries that were retried */
    uint64_t failed;  /* jobs given up after max_tries */
    uint64_t dropped; /* jobs refused because the queue was full */
    size_t queued;    /* jobs waiting now (including the one being sent) */
};

struct cmon_notifier;

enum cmon_err cmon_notifier_start(const struct cmon_notify_opts *opts, struct cmon_notifier **out,
                                  struct cmon_errbuf *eb);
/* Queue one job per action of g for a firing or resolved alert (a pending one
 * is CMON_ERR_INVALID).  Returns at once; CMON_ERR_LIMIT when the queue had no
 * room for every action (those are dropped and logged). */
enum cmon_err cmon_notifier_submit(struct cmon_notifier *n, const struct cmon_action_group *g,
                                   const struct cmon_alert_instance *alert);
/* Re-send a firing alert to g's Alertmanagers only.  Alertmanager forgets a
 * firing alert (sent without endsAt) after its resolve_timeout, 5 min by
 * default, so the server calls this for every firing instance each
 * evaluation period, as Prometheus does.  Same returns as submit. */
enum cmon_err cmon_notifier_refresh(struct cmon_notifier *n, const struct cmon_action_group *g,
                                    const struct cmon_alert_instance *alert);
/* Wake the sender to re-check due times (after an injected clock moved). */
void cmon_notifier_kick(struct cmon_notifier *n);
/* Wait up to timeout_ns (real time) until no job is queued or being sent. */
bool cmon_notifier_flush(struct cmon_notifier *n, int64_t timeout_ns);
void cmon_notifier_stats(struct cmon_notifier *n, struct cmon_notify_stats *out);
/* Stop the thread (after the send in progress) and free unsent jobs. */
void cmon_notifier_stop(struct cmon_notifier *n);

/* --- pure parts, exposed for tests and for the server's API --- */

/* Delay before try number `tries + 1` after `tries` failures (1 -> base). */
int64_t cmon_notify_backoff_ns(int64_t base_ns, int tries);
/* "sha256=" + lowercase hex HMAC-SHA256(secret, body); out holds >= 72 bytes. */
void cmon_notify_signature(const char *secret, const char *body, size_t len, char *out,
                           size_t outlen);
/* The webhook body: {"event": "firing"|"resolved", "actionGroup": group,
 * "alert": cmon_alert_instance_to_json(alert)}.  A new string. */
char *cmon_notify_webhook_body(const struct cmon_alert_instance *alert, const char *group);
/* The Alertmanager v2 body: [{labels (+ severity), annotations, startsAt,
 * endsAt (resolved only), generatorURL}].  A new string. */
char *cmon_notify_am_body(const struct cmon_alert_instance *alert, const char *generator_url);
/* "critical", "error", "warning", "informational", "verbose" for 0..4. */
const char *cmon_notify_severity_name(int severity);
/* The exec environment additions, "CMON_ALERT_RULE=..." ..., NULL-terminated;
 * free with cmon_notify_env_free().  Labels become CMON_ALERT_LABEL_<NAME>
 * with camelCase turned into upper snake case (testGroup -> TEST_GROUP). */
char **cmon_notify_exec_env(const struct cmon_alert_instance *alert, const char *group);
void cmon_notify_env_free(char **env);

#endif
