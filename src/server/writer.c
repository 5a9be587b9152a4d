/* writer.c: the one writer's queue and threads.  Each wake-up of the writer
 * thread takes either one call, or the run of result batches and heartbeats
 * at the head of the queue (up to WRITER_MAX_TX_RESULTS results) into one
 * transaction: exactly-once marks, raw results, paths, heartbeats, then the
 * touched tests' states -- one fsync for many.  Between commands, when the
 * timer is due, the leader's jobs: evaluation, alert tick, roll-up,
 * retention.  The deadline thread takes submitted commands (writer_*_submit)
 * whose deadline passed before they started back out of the queue and
 * answers them CMON_ERR_BUSY, so an overloaded writer (a long transaction
 * included) still answers on time.  Waiting submitters keep their own
 * deadline (submit_wait). */
#include "server/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/cond.h"
#include "core/grow.h"
#include "model/path.h"
#include "server/alerts.h"
#include "server/evaluator.h"
#include "server/server_internal.h"
#include "store/leader.h"
#include "store/store.h"

#define WRITER_MAX_TX_RESULTS 50000
/* How much one command of the embedded agent's rounds gathers
 * (writer_results_async: consecutive rounds join the queue's tail). */
#define WRITER_JOIN_MAX_RESULTS 10000
#define WRITER_JOIN_MAX_PATHS 1000
/* Expired submissions are answered up to this late, so one wake-up takes
 * many of them. */
#define DEADLINE_SLACK_NS (5 * CMON_NS_PER_MS)
#define RETENTION_PERIOD_NS (3600 * CMON_NS_PER_SEC)

enum cmd_kind { CMD_RESULTS, CMD_HEARTBEAT, CMD_CALL, CMD_TICK };
enum cmd_state { CMD_QUEUED, CMD_RUNNING, CMD_DONE };

struct cmd {
    struct cmd *next, *prev;
    enum cmd_kind kind;
    enum cmd_state state;
    bool owned; /* no one waits: the writer frees it (and its copies) */
    pthread_cond_t cv;
    /* submitted (writer_*_submit): done(done_arg) once it is DONE; the
     * deadline thread refuses it when still queued at deadline */
    writer_done_fn done;
    void *done_arg;
    int64_t deadline;
    struct cmd *done_next; /* the list of those to tell, outside w->mu */
    size_t n_results; /* what it counts against the queue's bound */
    size_t cap_results, cap_paths; /* owned (writer_results_async): the copies' room */
    enum cmon_err err;
    bool duplicate;
    char msg[sizeof(struct cmon_errbuf)];
    /* CMD_RESULTS */
    char agent[64];
    char mark[96]; /* exactly-once key: "agent" or "agent/spoolId" */
    struct writer_batch b;
    /* CMD_HEARTBEAT */
    const struct writer_heartbeat *hb;
    /* CMD_CALL */
    writer_fn fn;
    void *arg;
};

struct writer {
    pthread_t thread, dl_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t dl_cv;   /* the deadline thread: an earlier deadline, or stop */
    pthread_cond_t idle_cv; /* n_async fell (writer_close waits for 0) */
    struct cmd *head, *tail;
    size_t queued_results, queued_cmds;
    size_t n_async;   /* submitted commands whose done() has not returned yet */
    int64_t dl_wake;  /* when the deadline thread wakes next (mono; INT64_MAX: never) */
    bool stop, closing, dl_started;
    struct writer_opts o;
    struct store *store;
    struct writer_stats stats;
    bool leader, leader_known;
    int64_t next_retention; /* mono */
};

int64_t writer_now(const struct writer *w)
{
    return w->o.now_ns ? w->o.now_ns(w->o.clock_ctx) : cmon_wall_ns();
}

int64_t writer_deadline(int ms)
{
    return cmon_mono_ns() + (int64_t)ms * CMON_NS_PER_MS;
}

/* ---- the queue (w->mu held) ---- */

static void unlink_cmd(struct writer *w, struct cmd *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->tail = c->prev;
    c->next = c->prev = NULL;
    w->queued_results -= c->n_results;
    w->queued_cmds--;
}

/* Room for cmds more commands holding results more results (a lone batch
 * larger than the bound still fits an empty queue). */
static enum cmon_err room_for(struct writer *w, size_t cmds, size_t results,
                              struct cmon_errbuf *eb)
{
    if (w->stop || w->closing)
        return cmon_fail(eb, CMON_ERR_BUSY, "the server is stopping");
    bool full = w->queued_cmds + cmds > w->o.max_queued_cmds ||
                (w->queued_results + results > w->o.max_queued_results && w->queued_results > 0);
    if (!full)
        return CMON_OK;
    w->stats.refused_busy++;
    return cmon_fail(eb, CMON_ERR_BUSY, "the write queue is full; retry later");
}

static enum cmon_err enqueue(struct writer *w, struct cmd *c, struct cmon_errbuf *eb)
{
    enum cmon_err err = room_for(w, 1, c->n_results, eb);
    if (err)
        return err;
    c->state = CMD_QUEUED;
    c->prev = w->tail;
    c->next = NULL;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->queued_results += c->n_results;
    w->queued_cmds++;
    if (c->done) {
        w->n_async++;
        if (c->deadline < w->dl_wake)
            pthread_cond_signal(&w->dl_cv);
    }
    pthread_cond_signal(&w->cv);
    return CMON_OK;
}

/* Tell the submitters of a list of DONE commands (w->mu not held).  A
 * command belongs to its submitter once done() is called: nothing here
 * touches it after that. */
static void notify(struct writer *w, struct cmd *list)
{
    size_t n = 0;
    while (list) {
        struct cmd *next = list->done_next;
        list->done(list->done_arg);
        list = next;
        n++;
    }
    if (!n)
        return;
    pthread_mutex_lock(&w->mu);
    w->n_async -= n;
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
}

static void refuse_late(struct writer *w, struct cmd *c, struct cmon_errbuf *eb)
{
    unlink_cmd(w, c);
    w->stats.refused_busy++;
    cmon_fail(eb, CMON_ERR_BUSY, "the writer is busy: not started within its deadline");
}

/* Queue c (on the caller's stack) and wait for it; a command not started by
 * the deadline is taken back out of the queue and never runs. */
static enum cmon_err submit_wait(struct writer *w, struct cmd *c, int64_t deadline_ns,
                                 struct cmon_errbuf *eb)
{
    cmon_cond_init(&c->cv);
    pthread_mutex_lock(&w->mu);
    enum cmon_err err = enqueue(w, c, eb);
    if (!err) {
        while (c->state == CMD_QUEUED && cmon_mono_ns() < deadline_ns)
            cmon_cond_wait_until(&c->cv, &w->mu, deadline_ns);
        if (c->state == CMD_QUEUED) {
            refuse_late(w, c, eb);
            err = CMON_ERR_BUSY;
        } else {
            while (c->state != CMD_DONE)
                pthread_cond_wait(&c->cv, &w->mu);
            err = c->err;
            if (err)
                snprintf(eb->msg, sizeof eb->msg, "%s", c->msg);
        }
    }
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&c->cv);
    return err;
}

/* ---- executing (writer thread, w->mu not held) ---- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Evaluate each distinct test the transaction touched, inside it. */
static enum cmon_err eval_touched(struct writer *w, struct cmd *cmds, size_t n, int64_t now,
                                  struct cmon_errbuf *eb)
{
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (struct cmd *c = cmds; c; c = c->next) {
        for (size_t i = 0; c->kind == CMD_RESULTS && !c->duplicate && i < c->b.n; i++)
            ids[k++] = c->b.results[i].test_id;
    }
    qsort(ids, k, sizeof *ids, cmp_id);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || strcmp(ids[i], ids[u - 1]) != 0)
            ids[u++] = ids[i];
    }
    enum cmon_err err = eval_test_ids(w->store, ids, u, now, NULL, eb);
    free(ids);
    return err;
}

static enum cmon_err exec_results(struct writer *w, struct cmd *c, int64_t now,
                                  struct cmon_errbuf *eb)
{
    struct store *s = w->store;
    enum cmon_err err = CMON_OK;
    c->duplicate = false;
    if (c->b.seq >= 0)
        err = s->ops->ingest_batch_mark(s, c->mark, c->b.seq, now, &c->duplicate, eb);
    if (!err && c->agent[0])
        err = s->ops->agent_seen(s, c->agent, now, eb);
    for (size_t i = 0; !err && !c->duplicate && i < c->b.n; i++) {
        struct store_result r = {.agent = c->agent, .r = c->b.results[i]};
        /* a replay older than a day is history, not the test's present */
        r.history = r.r.start_ns < now &&
                    (uint64_t)now - (uint64_t)r.r.start_ns > CMON_ROUND_LIVE_AGE_NS;
        err = s->ops->ingest_result(s, &r, eb);
    }
    for (size_t i = 0; !err && !c->duplicate && i < c->b.n_paths; i++)
        err = paths_store(s, c->agent, &c->b.paths[i], eb);
    return err;
}

/* A heartbeat's own outcome (not registered) does not fail the others. */
static enum cmon_err exec_heartbeat(struct writer *w, struct cmd *c, int64_t now,
                                    struct cmon_errbuf *eb)
{
    const struct writer_heartbeat *hb = c->hb;
    struct cmon_errbuf own;
    enum cmon_err err = w->store->ops->agent_heartbeat(w->store, hb->name, hb->version,
                                                       hb->addresses_json, hb->region,
                                                       hb->spool_json,
                                                       hb->heartbeat_sec, now, &own);
    if (err == CMON_ERR_NOTFOUND) {
        c->err = err;
        snprintf(c->msg, sizeof c->msg, "%s", own.msg);
        return CMON_OK;
    }
    if (err)
        snprintf(eb->msg, sizeof eb->msg, "%s", own.msg);
    return err;
}

/* One transaction for a run of results and heartbeats. */
static enum cmon_err exec_tx(struct writer *w, struct cmd *cmds, size_t n_results,
                             struct cmon_errbuf *eb)
{
    struct store *s = w->store;
    int64_t now = writer_now(w);
    enum cmon_err err = s->ops->tx_begin(s, eb);
    for (struct cmd *c = cmds; !err && c; c = c->next)
        err = c->kind == CMD_RESULTS ? exec_results(w, c, now, eb) : exec_heartbeat(w, c, now, eb);
    if (!err)
        err = eval_touched(w, cmds, n_results, now, eb);
    if (!err)
        err = s->ops->tx_commit(s, eb);
    if (err)
        s->ops->tx_rollback(s);
    return err;
}

/* ---- the timer's jobs (the leader's) ---- */

static void tick_eval(struct writer *w, int64_t now)
{
    struct cmon_errbuf eb;
    struct store *s = w->store;
    size_t changed = 0;
    enum cmon_err err = s->ops->tx_begin(s, &eb);
    if (!err)
        err = eval_tests(s, NULL, now, &changed, &eb);
    if (!err)
        err = s->ops->tx_commit(s, &eb);
    if (err) {
        s->ops->tx_rollback(s);
        cmon_error(w->o.log, "evaluation failed", "err=%s", eb.msg);
    } else if (changed) {
        cmon_debug(w->o.log, "states evaluated", "changed=%zu", changed);
    }
}

static void tick_retention(struct writer *w, int64_t now)
{
    struct cmon_errbuf eb;
    int64_t deleted = 0;
    if (w->store->ops->retention(w->store, now - w->o.retention_ns, &deleted, &eb))
        cmon_error(w->o.log, "retention failed", "err=%s", eb.msg);
    else if (deleted)
        cmon_info(w->o.log, "retention", "deleted_results=%lld", (long long)deleted);
}

/* Replicas on one PostgreSQL database: only the lock holder runs the jobs;
 * the others try again every period and take over when the holder dies. */
static bool tick_leader(struct writer *w)
{
    struct cmon_errbuf eb;
    bool leader = false;
    if (store_leader_try(w->store, &leader, &eb))
        cmon_warn(w->o.log, "leader check failed", "err=%s", eb.msg);
    if ((leader != w->leader || !w->leader_known) && (w->store->ops->caps & STORE_CAP_REPLICAS))
        cmon_info(w->o.log, leader ? "leader: running background jobs" : "standby: not the leader",
                  "store=%s", w->store->ops->name);
    w->leader = leader;
    w->leader_known = true;
    return leader;
}

static void tick(struct writer *w)
{
    bool was_leader = w->leader;
    if (!tick_leader(w))
        return;
    /* a replica that (re)gains leadership reloads the alerts the previous
     * leader stored, instead of trusting its memory */
    if (!was_leader && w->o.alerts)
        server_alerts_forget(w->o.alerts);
    int64_t now = writer_now(w);
    tick_eval(w, now);
    if (w->o.alerts)
        server_alerts_tick(w->o.alerts, w->store, now);
    struct cmon_errbuf eb;
    int64_t folded = 0;
    if (w->store->ops->rollup(w->store, now, &folded, &eb))
        cmon_error(w->o.log, "roll-up failed", "err=%s", eb.msg);
    if (w->o.retention_ns > 0 && cmon_mono_ns() >= w->next_retention) {
        tick_retention(w, now);
        w->next_retention = cmon_mono_ns() + RETENTION_PERIOD_NS;
    }
}

/* ---- the thread ---- */

static bool in_tx(const struct cmd *c)
{
    return c->kind == CMD_RESULTS || c->kind == CMD_HEARTBEAT;
}

/* Take the head call, or the run of results and heartbeats at the head up
 * to WRITER_MAX_TX_RESULTS results (at least one); marks them running. */
static struct cmd *take(struct writer *w, size_t *n_results)
{
    struct cmd *first = w->head, *c = w->head, *next;
    size_t n = 0;
    bool batch = in_tx(first);
    struct cmd *out = NULL, **tail = &out;
    while (c && (c == first || (batch && in_tx(c) && n + c->n_results <= WRITER_MAX_TX_RESULTS))) {
        next = c->next;
        n += c->n_results;
        unlink_cmd(w, c);
        c->state = CMD_RUNNING;
        *tail = c;
        tail = &c->next;
        c = next;
    }
    *n_results = n;
    return out;
}

static void cmd_free(struct cmd *c)
{
    free((void *)c->b.results);
    free((void *)c->b.paths);
    free(c);
}

static void count(struct writer *w, const struct cmd *c, enum cmon_err err)
{
    if (c->kind == CMD_HEARTBEAT)
        w->stats.heartbeats++;
    if (c->kind != CMD_RESULTS)
        return;
    if (err)
        w->stats.results_dropped += c->b.n;
    else if (c->duplicate)
        w->stats.batches_duplicate++;
    else
        w->stats.results_stored += c->b.n;
}

/* The commands are gone (freed, or their submitters returned) after this. */
static void finish(struct writer *w, struct cmd *cmds, bool tx, enum cmon_err err,
                   const char *msg)
{
    struct cmd *tell = NULL;
    pthread_mutex_lock(&w->mu);
    if (tx && !err)
        w->stats.batches_committed++;
    while (cmds) {
        struct cmd *next = cmds->next;
        count(w, cmds, err);
        if (err) {
            cmds->err = err;
            snprintf(cmds->msg, sizeof cmds->msg, "%s", msg);
        }
        cmds->state = CMD_DONE;
        if (cmds->owned) {
            cmd_free(cmds);
        } else if (cmds->done) {
            cmds->done_next = tell;
            tell = cmds;
        } else {
            pthread_cond_signal(&cmds->cv);
        }
        cmds = next;
    }
    pthread_mutex_unlock(&w->mu);
    notify(w, tell);
}

/* A one-off write (monitor, rule, action group, token, agent): its checks
 * and its write run while no other replica's writer runs one
 * (store.h config_serial). */
static enum cmon_err exec_call(struct writer *w, struct cmd *c, struct cmon_errbuf *eb)
{
    struct store *s = w->store;
    enum cmon_err err = s->ops->config_serial(s, true, eb);
    if (err)
        return err;
    err = c->fn(s, c->arg, writer_now(w), eb);
    struct cmon_errbuf own;
    if (s->ops->config_serial(s, false, &own)) /* the write stands; its connection is suspect */
        cmon_error(w->o.log, "could not release the write lock", "err=%s", own.msg);
    return err;
}

static void run(struct writer *w, struct cmd *cmds, size_t n_results)
{
    struct cmon_errbuf eb = {{0}};
    enum cmon_err err;
    bool tx = in_tx(cmds);
    if (tx) {
        err = exec_tx(w, cmds, n_results, &eb);
        if (err)
            cmon_error(w->o.log, "ingest failed", "results=%zu err=%s", n_results, eb.msg);
    } else if (cmds->kind == CMD_TICK) {
        tick(w);
        err = CMON_OK;
    } else {
        err = exec_call(w, cmds, &eb);
    }
    finish(w, cmds, tx, err, eb.msg);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    /* no period: the timer's jobs run only when asked (writer_tick) */
    int64_t next_tick = w->o.eval_interval_ms > 0 ? 0 : INT64_MAX;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop && cmon_mono_ns() < next_tick) {
            if (next_tick == INT64_MAX)
                pthread_cond_wait(&w->cv, &w->mu);
            else
                cmon_cond_wait_until(&w->cv, &w->mu, next_tick);
        }
        if (!w->head && w->stop)
            break;
        if (!w->stop && cmon_mono_ns() >= next_tick) {
            pthread_mutex_unlock(&w->mu);
            tick(w);
            next_tick = cmon_mono_ns() + (int64_t)w->o.eval_interval_ms * CMON_NS_PER_MS;
            pthread_mutex_lock(&w->mu);
            continue;
        }
        size_t n = 0;
        struct cmd *cmds = take(w, &n);
        pthread_mutex_unlock(&w->mu);
        run(w, cmds, n);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the deadline thread ---- */

/* Take the queued submissions whose deadline passed out of the queue
 * (refused: CMON_ERR_BUSY); *next: the earliest deadline left. */
static struct cmd *expire(struct writer *w, int64_t now, int64_t *next)
{
    struct cmd *tell = NULL, *c = w->head, *nc;
    *next = INT64_MAX;
    for (; c; c = nc) {
        nc = c->next;
        if (!c->done)
            continue;
        if (c->deadline > now) {
            *next = c->deadline < *next ? c->deadline : *next;
            continue;
        }
        struct cmon_errbuf eb;
        refuse_late(w, c, &eb);
        c->err = CMON_ERR_BUSY;
        snprintf(c->msg, sizeof c->msg, "%s", eb.msg);
        c->state = CMD_DONE;
        c->done_next = tell;
        tell = c;
    }
    return tell;
}

static void *deadline_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        int64_t next;
        struct cmd *tell = expire(w, cmon_mono_ns(), &next);
        if (tell) {
            pthread_mutex_unlock(&w->mu);
            notify(w, tell);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        w->dl_wake = next == INT64_MAX ? INT64_MAX : next + DEADLINE_SLACK_NS;
        if (w->dl_wake == INT64_MAX)
            pthread_cond_wait(&w->dl_cv, &w->mu);
        else
            cmon_cond_wait_until(&w->dl_cv, &w->mu, w->dl_wake);
    }
    w->dl_wake = INT64_MIN; /* no more waking: enqueue is refused now anyway */
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void writer_free(struct writer *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->dl_cv);
    pthread_cond_destroy(&w->idle_cv);
    store_close(w->store);
    free(w);
}

static void join_all(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_cond_signal(&w->dl_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* it executes what is queued first */
    if (w->dl_started)
        pthread_join(w->dl_thread, NULL);
}

enum cmon_err writer_start(const struct writer_opts *o, struct writer **out,
                           struct cmon_errbuf *eb)
{
    struct writer *w = calloc(1, sizeof *w);
    if (!w)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    w->o = *o;
    if (!w->o.max_queued_results)
        w->o.max_queued_results = 100000;
    if (!w->o.max_queued_cmds)
        w->o.max_queued_cmds = 10000;
    w->dl_wake = INT64_MAX;
    enum cmon_err err = store_open(o->store_url, STORE_READ_WRITE, &w->store, eb);
    if (err) {
        free(w);
        return err;
    }
    pthread_mutex_init(&w->mu, NULL);
    cmon_cond_init(&w->cv);
    cmon_cond_init(&w->dl_cv);
    cmon_cond_init(&w->idle_cv);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        writer_free(w);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the writer thread");
    }
    w->dl_started = pthread_create(&w->dl_thread, NULL, deadline_main, w) == 0;
    if (!w->dl_started) {
        join_all(w);
        writer_free(w);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the writer's deadline thread");
    }
    *out = w;
    return CMON_OK;
}

void writer_close(struct writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    while (w->n_async > 0)
        pthread_cond_wait(&w->idle_cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void writer_stop(struct writer *w)
{
    if (!w)
        return;
    join_all(w);
    writer_free(w);
}

static void batch_key(struct cmd *c, const struct writer_batch *b)
{
    c->kind = CMD_RESULTS;
    c->b = *b;
    c->n_results = b->n;
    snprintf(c->agent, sizeof c->agent, "%s", b->agent ? b->agent : "");
    /* agent names have no '/', so "name/spoolId" never meets a plain name */
    snprintf(c->mark, sizeof c->mark, "%s%s%s", c->agent, b->spool_id && *b->spool_id ? "/" : "",
             b->spool_id ? b->spool_id : "");
}

enum cmon_err writer_results(struct writer *w, const struct writer_batch *b, int64_t deadline_ns,
                             bool *duplicate, struct cmon_errbuf *eb)
{
    struct cmd c = {0};
    batch_key(&c, b);
    enum cmon_err err = submit_wait(w, &c, deadline_ns, eb);
    *duplicate = c.duplicate;
    return err;
}

/* Append copies of b's arrays to the owned command c; false when out of
 * memory (c still holds what it held). */
static bool append_copies(struct cmd *c, const struct writer_batch *b)
{
    struct cmon_round_result *res = (struct cmon_round_result *)c->b.results;
    struct cmon_path_report *paths = (struct cmon_path_report *)c->b.paths;
    if (b->n && !cmon_grow(&res, &c->cap_results, c->b.n + b->n, sizeof *res))
        return false;
    c->b.results = res;
    if (b->n_paths && !cmon_grow(&paths, &c->cap_paths, c->b.n_paths + b->n_paths, sizeof *paths))
        return false;
    c->b.paths = paths;
    if (b->n)
        memcpy(res + c->b.n, b->results, b->n * sizeof *res);
    if (b->n_paths)
        memcpy(paths + c->b.n_paths, b->paths, b->n_paths * sizeof *paths);
    c->b.n += b->n;
    c->b.n_paths += b->n_paths;
    c->n_results += b->n;
    return true;
}

/* b joins the queue's tail when that is a not yet started command of the
 * same agent's rounds without exactly-once bookkeeping (w->mu held): true
 * when it did (or was refused: *err). */
static bool join_tail(struct writer *w, const struct writer_batch *b, enum cmon_err *err,
                      struct cmon_errbuf *eb)
{
    struct cmd *c = w->tail;
    if (!c || !c->owned || b->seq >= 0 || c->b.seq >= 0 ||
        strcmp(c->agent, b->agent ? b->agent : "") != 0 ||
        c->b.n + b->n > WRITER_JOIN_MAX_RESULTS || c->b.n_paths + b->n_paths > WRITER_JOIN_MAX_PATHS)
        return false;
    *err = room_for(w, 0, b->n, eb);
    if (!*err && !append_copies(c, b))
        *err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (!*err)
        w->queued_results += b->n;
    return true;
}

enum cmon_err writer_results_async(struct writer *w, const struct writer_batch *b,
                                   struct cmon_errbuf *eb)
{
    enum cmon_err err = CMON_OK;
    pthread_mutex_lock(&w->mu);
    bool joined = join_tail(w, b, &err, eb);
    pthread_mutex_unlock(&w->mu);
    if (joined)
        return err;
    struct cmd *c = calloc(1, sizeof *c);
    if (!c)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    batch_key(c, b);
    c->b.results = NULL;
    c->b.paths = NULL;
    c->b.n = c->b.n_paths = c->n_results = 0;
    c->owned = true;
    if (!append_copies(c, b)) {
        cmd_free(c);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&w->mu);
    err = enqueue(w, c, eb);
    pthread_mutex_unlock(&w->mu);
    if (err)
        cmd_free(c);
    return err;
}

enum cmon_err writer_heartbeat(struct writer *w, const struct writer_heartbeat *hb,
                               int64_t deadline_ns, struct cmon_errbuf *eb)
{
    struct cmd c = {.kind = CMD_HEARTBEAT, .hb = hb};
    return submit_wait(w, &c, deadline_ns, eb);
}

enum cmon_err writer_call(struct writer *w, writer_fn fn, void *arg, int64_t deadline_ns,
                          struct cmon_errbuf *eb)
{
    struct cmd c = {.kind = CMD_CALL, .fn = fn, .arg = arg};
    return submit_wait(w, &c, deadline_ns, eb);
}

enum cmon_err writer_tick(struct writer *w, int64_t deadline_ns, struct cmon_errbuf *eb)
{
    struct cmd c = {.kind = CMD_TICK};
    return submit_wait(w, &c, deadline_ns, eb);
}

/* Queue c (malloc'd; NULL: out of memory) for a submitter that does not
 * wait. */
static enum cmon_err submit(struct writer *w, struct cmd *c, const struct writer_async *a,
                            struct writer_ticket **out, struct cmon_errbuf *eb)
{
    *out = NULL;
    if (!c)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    c->done = a->done;
    c->done_arg = a->arg;
    c->deadline = a->deadline_ns;
    *out = (struct writer_ticket *)c;
    pthread_mutex_lock(&w->mu);
    enum cmon_err err = enqueue(w, c, eb);
    pthread_mutex_unlock(&w->mu);
    if (err) {
        *out = NULL;
        free(c);
    }
    return err;
}

enum cmon_err writer_results_submit(struct writer *w, const struct writer_batch *b,
                                    const struct writer_async *a, struct writer_ticket **out,
                                    struct cmon_errbuf *eb)
{
    struct cmd *c = calloc(1, sizeof *c);
    if (c)
        batch_key(c, b);
    return submit(w, c, a, out, eb);
}

enum cmon_err writer_heartbeat_submit(struct writer *w, const struct writer_heartbeat *hb,
                                      const struct writer_async *a, struct writer_ticket **out,
                                      struct cmon_errbuf *eb)
{
    struct cmd *c = calloc(1, sizeof *c);
    if (c)
        *c = (struct cmd){.kind = CMD_HEARTBEAT, .hb = hb};
    return submit(w, c, a, out, eb);
}

enum cmon_err writer_call_submit(struct writer *w, writer_fn fn, void *arg,
                                 const struct writer_async *a, struct writer_ticket **out,
                                 struct cmon_errbuf *eb)
{
    struct cmd *c = calloc(1, sizeof *c);
    if (c)
        *c = (struct cmd){.kind = CMD_CALL, .fn = fn, .arg = arg};
    return submit(w, c, a, out, eb);
}

enum cmon_err writer_ticket_result(const struct writer_ticket *t, bool *duplicate,
                                   struct cmon_errbuf *eb)
{
    const struct cmd *c = (const struct cmd *)t;
    if (duplicate)
        *duplicate = c->duplicate;
    if (c->err)
        snprintf(eb->msg, sizeof eb->msg, "%s", c->msg);
    return c->err;
}

void writer_ticket_free(struct writer_ticket *t)
{
    free(t); /* a submitted command borrows its arrays: nothing else to free */
}

void writer_get_stats(struct writer *w, struct writer_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->stats;
    st->queued_results = w->queued_results;
    st->queued_cmds = w->queued_cmds;
    st->submitted = w->n_async;
    pthread_mutex_unlock(&w->mu);
}
