/* evaluator.c: test states from stored figures, and the background thread
 * that re-evaluates on a timer (so silent tests go Indeterminate after
 * 2 x frequency + 30 s), folds raw results into the roll-ups and applies
 * raw-result retention. */
#include "server/evaluator.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/cond.h"
#include "server/alerts.h"
#include "server/agent_state.h"
#include "store/leader.h"

void eval_input_from_test(const struct store_test *t, int64_t now_ns, struct cmon_state_input *in)
{
    memset(in, 0, sizeof *in);
    in->protocol = t->protocol;
    in->frequency_sec = t->frequency_sec;
    in->has_failed_pct_threshold = t->has_failed_pct_threshold;
    in->failed_pct_threshold = t->failed_pct_threshold;
    in->has_rtt_threshold = t->has_rtt_threshold;
    in->rtt_threshold_ms = t->rtt_threshold_ms;
    in->not_running = !t->monitor_running || t->group_disabled;
    in->not_running_reason = !t->monitor_running ? "monitor stopped" : "test group disabled";
    in->has_result = t->has_result;
    in->last_result_ns = t->last_result_ns;
    in->now_ns = now_ns;
    in->checks_failed_pct = t->checks_failed_pct;
    in->has_rtt = t->has_rtt;
    in->rtt_ms = t->rtt_ms;
    in->diagnostic = t->diagnostic;
    in->diag_detail = t->detail;
}

struct verdict {
    char id[CMON_TEST_ID_LEN + 1];
    enum cmon_state state;
    char reason[320];
};

struct verdicts {
    struct verdict *v;
    size_t n, cap;
    int64_t now_ns;
    bool nomem;
    const struct stopped_agents *stopped;
};

/* A test's source agent is stopped: a registered agent named by its source. */
static bool source_stopped(const struct stopped_agents *sa, const struct store_test *t)
{
    if (!sa || strcmp(t->source_type, "Agent") != 0)
        return false;
    return agent_stopped_has(sa, t->source_address);
}

static int collect_verdict(void *arg, const struct store_test *t)
{
    struct verdicts *vs = arg;
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 64;
        struct verdict *v = realloc(vs->v, cap * sizeof *v);
        if (!v) {
            vs->nomem = true;
            return 1;
        }
        vs->v = v;
        vs->cap = cap;
    }
    struct cmon_state_input in;
    struct cmon_state_eval out;
    eval_input_from_test(t, vs->now_ns, &in);
    in.agent_stopped = source_stopped(vs->stopped, t);
    cmon_test_state_eval(&in, &out);
    struct verdict *v = &vs->v[vs->n];
    /* unchanged verdicts need no write */
    if (out.state == t->state && strcmp(out.reason, t->reason) == 0)
        return 0;
    snprintf(v->id, sizeof v->id, "%s", t->id);
    v->state = out.state;
    snprintf(v->reason, sizeof v->reason, "%s", out.reason);
    vs->n++;
    return 0;
}

/* Verdicts of the tests matching f, or of the tests with the given ids
 * (sorted), then the writes of those that differ from what is stored. */
static enum cmon_err eval_some(struct store *s, const struct store_test_filter *f,
                               const char *const *ids, size_t n_ids, int64_t now_ns,
                               size_t *changed, struct cmon_errbuf *eb)
{
    struct stopped_agents sa;
    struct verdicts vs = {.now_ns = now_ns, .stopped = &sa};
    enum cmon_err err = agent_stopped_load(s, now_ns, &sa, eb);
    if (!err)
        err = ids ? store_test_query_ids(s, ids, n_ids, collect_verdict, &vs, eb)
                  : s->ops->test_query(s, f, collect_verdict, &vs, eb);
    agent_stopped_free(&sa);
    if (!err && vs.nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    size_t n_changed = 0;
    for (size_t i = 0; !err && i < vs.n; i++) {
        bool ch = false;
        err = s->ops->test_set_state(s, vs.v[i].id, vs.v[i].state, vs.v[i].reason, now_ns, &ch, eb);
        n_changed += ch;
    }
    free(vs.v);
    if (changed)
        *changed = n_changed;
    return err;
}

enum cmon_err eval_tests(struct store *s, const struct store_test_filter *f, int64_t now_ns,
                         size_t *changed, struct cmon_errbuf *eb)
{
    return eval_some(s, f, NULL, 0, now_ns, changed, eb);
}

enum cmon_err eval_test_ids(struct store *s, const char *const *ids, size_t n, int64_t now_ns,
                            size_t *changed, struct cmon_errbuf *eb)
{
    if (!n) {
        if (changed)
            *changed = 0;
        return CMON_OK;
    }
    return eval_some(s, NULL, ids, n, now_ns, changed, eb);
}

/* ---- background thread ---- */

#define RETENTION_PERIOD_NS (3600 * CMON_NS_PER_SEC)

struct background {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct store *store;
    int interval_ms;
    int64_t retention_ns;
    struct server_alerts *alerts;
    const struct cmon_log *log;
    bool leader, leader_known;
};

static void background_eval(struct background *bg)
{
    struct cmon_errbuf eb;
    struct store *s = bg->store;
    size_t changed = 0;
    enum cmon_err err = s->ops->ingest_begin(s, &eb);
    if (!err)
        err = eval_tests(s, NULL, cmon_wall_ns(), &changed, &eb);
    if (!err)
        err = s->ops->ingest_commit(s, &eb);
    if (err) {
        s->ops->ingest_rollback(s);
        cmon_error(bg->log, "evaluation failed", "err=%s", eb.msg);
    } else if (changed) {
        cmon_debug(bg->log, "states evaluated", "changed=%zu", changed);
    }
}

static void background_rollup(struct background *bg)
{
    struct cmon_errbuf eb;
    int64_t folded = 0;
    if (bg->store->ops->rollup(bg->store, &folded, &eb))
        cmon_error(bg->log, "roll-up failed", "err=%s", eb.msg);
}

static void background_retention(struct background *bg)
{
    struct cmon_errbuf eb;
    int64_t deleted = 0;
    int64_t before = cmon_wall_ns() - bg->retention_ns;
    if (bg->store->ops->retention(bg->store, before, &deleted, &eb))
        cmon_error(bg->log, "retention failed", "err=%s", eb.msg);
    else if (deleted)
        cmon_info(bg->log, "retention", "deleted_results=%lld", (long long)deleted);
}

/* Replicas on one PostgreSQL database: only the lock holder runs the jobs;
 * the others try again every period and take over when the holder dies. */
static bool background_leader(struct background *bg)
{
    struct cmon_errbuf eb;
    bool leader = false;
    if (store_leader_try(bg->store, &leader, &eb))
        cmon_warn(bg->log, "leader check failed", "err=%s", eb.msg);
    if ((leader != bg->leader || !bg->leader_known) && strcmp(bg->store->ops->name, "sqlite") != 0)
        cmon_info(bg->log, leader ? "leader: running background jobs" : "standby: not the leader",
                  "store=%s", bg->store->ops->name);
    bg->leader = leader;
    bg->leader_known = true;
    return leader;
}

static void *background_main(void *arg)
{
    struct background *bg = arg;
    int64_t next_retention = 0;
    pthread_mutex_lock(&bg->mu);
    while (!bg->stop) {
        pthread_mutex_unlock(&bg->mu);
        bool was_leader = bg->leader;
        if (background_leader(bg)) {
            /* a replica that (re)gains leadership reloads the alerts the
             * previous leader stored, instead of trusting its memory */
            if (!was_leader)
                server_alerts_forget(bg->alerts);
            background_eval(bg);
            server_alerts_tick(bg->alerts, bg->store, cmon_wall_ns());
            background_rollup(bg);
            if (cmon_mono_ns() >= next_retention) {
                background_retention(bg);
                next_retention = cmon_mono_ns() + RETENTION_PERIOD_NS;
            }
        }
        pthread_mutex_lock(&bg->mu);
        if (!bg->stop)
            cmon_cond_wait_ns(&bg->cv, &bg->mu, (int64_t)bg->interval_ms * CMON_NS_PER_MS);
    }
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

enum cmon_err background_start(const char *store_url, int interval_ms, int64_t retention_ns,
                               struct server_alerts *alerts, const struct cmon_log *log,
                               struct background **out, struct cmon_errbuf *eb)
{
    struct background *bg = calloc(1, sizeof *bg);
    if (!bg)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    enum cmon_err err = store_open(store_url, STORE_READ_WRITE, &bg->store, eb);
    if (err) {
        free(bg);
        return err;
    }
    bg->interval_ms = interval_ms;
    bg->retention_ns = retention_ns;
    bg->alerts = alerts;
    bg->log = log;
    pthread_mutex_init(&bg->mu, NULL);
    cmon_cond_init(&bg->cv);
    if (pthread_create(&bg->thread, NULL, background_main, bg) != 0) {
        store_close(bg->store);
        free(bg);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the background thread");
    }
    *out = bg;
    return CMON_OK;
}

void background_stop(struct background *bg)
{
    if (!bg)
        return;
    pthread_mutex_lock(&bg->mu);
    bg->stop = true;
    pthread_cond_signal(&bg->cv);
    pthread_mutex_unlock(&bg->mu);
    pthread_join(bg->thread, NULL);
    pthread_mutex_destroy(&bg->mu);
    pthread_cond_destroy(&bg->cv);
    store_close(bg->store);
    free(bg);
}
