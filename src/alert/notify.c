/* notify.c: the notifier -- a bounded queue of delivery jobs and the one
 * thread that sends them, due ones first, retrying failures with exponential
 * backoff (1 s, 2 s, 4 s, 8 s by default) before giving up and logging.
 * Submitting only copies and enqueues, so evaluation never waits on a peer. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/notify.h"
#include "alert/notify_internal.h"
#include "core/clock.h"
#include "core/cond.h"

struct cmon_notifier {
    struct cmon_notify_opts o;
    char *generator_url;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* jobs arrived, kicked, stopping, or a job finished */
    struct notify_job **jobs; /* unordered; the sender picks the earliest due */
    size_t n_jobs;
    bool busy, stopping;
    struct cmon_notify_stats stats;
};

static int64_t default_now(void *ctx)
{
    (void)ctx;
    return cmon_mono_ns();
}

static int64_t now_ns(const struct cmon_notifier *n)
{
    return n->o.now_ns(n->o.clock_ctx);
}

/* Wait on the condition for at most rel_ns of real time. */
static void wait_rel(struct cmon_notifier *n, int64_t rel_ns)
{
    cmon_cond_wait_ns(&n->cond, &n->mu, rel_ns);
}

static const char *kind_name(enum notify_kind k)
{
    return k == NOTIFY_WEBHOOK ? "webhook" : k == NOTIFY_ALERTMANAGER ? "alertmanager" : "exec";
}

/* The earliest due job's index, or -1 when there is none. */
static long earliest(const struct cmon_notifier *n)
{
    long best = -1;
    for (size_t i = 0; i < n->n_jobs; i++) {
        if (best < 0 || n->jobs[i]->due_ns < n->jobs[best]->due_ns)
            best = (long)i;
    }
    return best;
}

/* After a try (lock held): done, retry later, or give up. */
static void settle(struct cmon_notifier *n, struct notify_job *job, bool ok, const char *err)
{
    const char *kind = kind_name(job->kind);
    if (ok) {
        n->stats.sent++;
        cmon_info(n->o.log, "alert notification sent", "action=%s target=%s alert=%s", kind,
                  job->target, job->alert_key);
        notify_job_free(job);
        return;
    }
    job->tries++;
    if (job->tries >= n->o.max_tries || n->stopping || n->n_jobs >= n->o.queue_max) {
        n->stats.failed++;
        cmon_error(n->o.log, "alert notification failed, giving up",
                   "action=%s target=%s alert=%s tries=%d error=%s", kind, job->target,
                   job->alert_key, job->tries, err);
        notify_job_free(job);
        return;
    }
    int64_t delay = cmon_notify_backoff_ns(n->o.backoff_ns, job->tries);
    n->stats.retried++;
    cmon_warn(n->o.log, "alert notification failed, will retry",
              "action=%s target=%s alert=%s try=%d retry_in_ms=%lld error=%s", kind,
              job->target, job->alert_key, job->tries, (long long)(delay / CMON_NS_PER_MS), err);
    job->due_ns = now_ns(n) + delay;
    n->jobs[n->n_jobs++] = job;
}

static void *sender_main(void *arg)
{
    struct cmon_notifier *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        long i = earliest(n);
        if (i < 0) {
            pthread_cond_wait(&n->cond, &n->mu);
            continue;
        }
        int64_t wait = n->jobs[i]->due_ns - now_ns(n);
        if (wait > 0) {
            wait_rel(n, wait);
            continue;
        }
        struct notify_job *job = n->jobs[i];
        n->jobs[i] = n->jobs[--n->n_jobs];
        n->busy = true;
        pthread_mutex_unlock(&n->mu);
        char err[256] = "";
        bool ok = job->kind == NOTIFY_EXEC
                      ? notify_send_exec(job, err, sizeof err)
                      : notify_send_http(job, n->o.http_timeout_ms, err, sizeof err);
        pthread_mutex_lock(&n->mu);
        n->busy = false;
        settle(n, job, ok, err);
        pthread_cond_broadcast(&n->cond);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

enum cmon_err cmon_notifier_start(const struct cmon_notify_opts *opts, struct cmon_notifier **out,
                                  struct cmon_errbuf *eb)
{
    *out = NULL;
    struct cmon_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    n->o = *opts;
    n->o.queue_max = opts->queue_max ? opts->queue_max : 1000;
    n->o.max_tries = opts->max_tries > 0 ? opts->max_tries : 5;
    n->o.backoff_ns = opts->backoff_ns > 0 ? opts->backoff_ns : CMON_NS_PER_SEC;
    n->o.http_timeout_ms = opts->http_timeout_ms > 0 ? opts->http_timeout_ms : 10000;
    if (!opts->now_ns)
        n->o.now_ns = default_now;
    n->generator_url = opts->generator_url ? strdup(opts->generator_url) : NULL;
    n->o.generator_url = n->generator_url;
    n->jobs = calloc(n->o.queue_max, sizeof *n->jobs);
    pthread_mutex_init(&n->mu, NULL);
    cmon_cond_init(&n->cond);
    int rc = n->jobs && (!opts->generator_url || n->generator_url)
                 ? pthread_create(&n->thread, NULL, sender_main, n)
                 : ENOMEM;
    if (rc != 0) {
        pthread_mutex_destroy(&n->mu);
        pthread_cond_destroy(&n->cond);
        free(n->jobs);
        free(n->generator_url);
        free(n);
        return cmon_fail(eb, rc == ENOMEM ? CMON_ERR_NOMEM : CMON_ERR_IO,
                         "cannot start the alert sender thread: %s", strerror(rc));
    }
    *out = n;
    return CMON_OK;
}

void cmon_notifier_stop(struct cmon_notifier *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    if (n->n_jobs)
        cmon_warn(n->o.log, "alert notifications dropped at shutdown", "count=%zu", n->n_jobs);
    for (size_t i = 0; i < n->n_jobs; i++)
        notify_job_free(n->jobs[i]);
    free(n->jobs);
    free(n->generator_url);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cond);
    free(n);
}

void cmon_notifier_kick(struct cmon_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

bool cmon_notifier_flush(struct cmon_notifier *n, int64_t timeout_ns)
{
    int64_t deadline = cmon_mono_ns() + timeout_ns;
    pthread_mutex_lock(&n->mu);
    while ((n->n_jobs || n->busy) && cmon_mono_ns() < deadline)
        wait_rel(n, deadline - cmon_mono_ns());
    bool done = !n->n_jobs && !n->busy;
    pthread_mutex_unlock(&n->mu);
    return done;
}

void cmon_notifier_stats(struct cmon_notifier *n, struct cmon_notify_stats *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->stats;
    out->queued = n->n_jobs + (n->busy ? 1 : 0);
    pthread_mutex_unlock(&n->mu);
}

static char **strv_dup(char *const *v)
{
    size_t n = 0;
    while (v[n])
        n++;
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = strdup(v[i]))) {
            cmon_notify_env_free(c);
            return NULL;
        }
    }
    return c;
}

/* A job for one action; NULL when memory ran out. */
static struct notify_job *make_job(const struct cmon_notifier *n, enum notify_kind kind,
                                   const char *target, const char *secret,
                                   const struct cmon_alert_instance *a, const char *group)
{
    struct notify_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = kind;
    j->alert_key = strdup(a->key); /* core/log.c escapes it */
    j->secret = secret ? strdup(secret) : NULL;
    if (kind == NOTIFY_ALERTMANAGER) {
        size_t len = strlen(target);
        while (len && target[len - 1] == '/')
            len--;
        if ((j->target = malloc(len + 16)))
            snprintf(j->target, len + 16, "%.*s/api/v2/alerts", (int)len, target);
        j->body = cmon_notify_am_body(a, n->generator_url);
    } else {
        j->target = strdup(target);
        j->body = cmon_notify_webhook_body(a, group);
    }
    if (kind == NOTIFY_EXEC)
        j->env = cmon_notify_exec_env(a, group);
    if (!j->alert_key || !j->target || !j->body || (secret && !j->secret) ||
        (kind == NOTIFY_EXEC && !j->env)) {
        notify_job_free(j);
        return NULL;
    }
    return j;
}

/* Queue a job (lock held); false when full or out of memory. */
static bool enqueue(struct cmon_notifier *n, struct notify_job *j)
{
    if (!j || n->n_jobs >= n->o.queue_max) {
        n->stats.dropped++;
        cmon_error(n->o.log, "alert notification dropped", "reason=%s alert=%s",
                   j ? "queue full" : "out of memory", j ? j->alert_key : "");
        notify_job_free(j);
        return false;
    }
    j->due_ns = now_ns(n);
    n->jobs[n->n_jobs++] = j;
    return true;
}

static enum cmon_err submit_actions(struct cmon_notifier *n, const struct cmon_action_group *g,
                                    const struct cmon_alert_instance *a, bool all)
{
    bool ok = true;
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; all && i < g->n_webhooks; i++)
        ok &= enqueue(
            n, make_job(n, NOTIFY_WEBHOOK, g->webhooks[i].url, g->webhooks[i].secret, a, g->name));
    for (size_t i = 0; i < g->n_alertmanagers; i++)
        ok &=
            enqueue(n, make_job(n, NOTIFY_ALERTMANAGER, g->alertmanagers[i].url, NULL, a, g->name));
    if (all && g->n_execs && !n->o.allow_exec) {
        n->stats.dropped += g->n_execs;
        cmon_error(n->o.log, "exec action not run", "group=%s alert=%s reason=%s",
                   g->name, a->key,
                   "exec actions are disabled: start the server with --allow-exec-actions");
    }
    for (size_t i = 0; all && n->o.allow_exec && i < g->n_execs; i++) {
        struct notify_job *j = make_job(n, NOTIFY_EXEC, g->execs[i].argv[0], NULL, a, g->name);
        if (j) {
            j->timeout_sec = g->execs[i].timeout_sec;
            if (!(j->argv = strv_dup(g->execs[i].argv))) {
                notify_job_free(j);
                j = NULL;
            }
        }
        ok &= enqueue(n, j);
    }
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
    return ok ? CMON_OK : CMON_ERR_LIMIT;
}

enum cmon_err cmon_notifier_submit(struct cmon_notifier *n, const struct cmon_action_group *g,
                                   const struct cmon_alert_instance *a)
{
    if (a->state == CMON_ALERT_PENDING)
        return CMON_ERR_INVALID;
    return submit_actions(n, g, a, true);
}

enum cmon_err cmon_notifier_refresh(struct cmon_notifier *n, const struct cmon_action_group *g,
                                    const struct cmon_alert_instance *a)
{
    if (a->state != CMON_ALERT_FIRING)
        return CMON_ERR_INVALID;
    return submit_actions(n, g, a, false);
}
