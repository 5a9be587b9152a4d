/* agent.c: the remote agent's lifecycle -- the shared runtime (runtime.h)
 * with a sink that hands finished rounds and traced paths to the push
 * thread as JSON (which spools and pushes them); the push thread's polled
 * assignments go to agent_runtime_assign, applied in place (tests keep their
 * schedule; only added, changed or removed ones are touched). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent_internal.h"
#include "core/clock.h"
#include "core/cond.h"

/* ---- probe loops: results out ---- */

static void hand_over(struct agent *a, json_t **arr, json_t *item)
{
    pthread_mutex_lock(&a->mu);
    if (json_array_size(a->rounds) + json_array_size(a->paths) >= AGENT_MAX_PENDING_ROUNDS) {
        if (a->dropped_rounds++ % 1000 == 0)
            cmon_error(a->log, "result dropped: the push thread is behind", "dropped=%llu",
                       (unsigned long long)a->dropped_rounds);
        json_decref(item);
    } else {
        if (json_array_size(a->rounds) + json_array_size(a->paths) == 0)
            a->first_pending_ns = cmon_mono_ns();
        json_array_append_new(*arr, item);
    }
    pthread_mutex_unlock(&a->mu);
}

/* From any probe loop: hand_over takes mu. */
static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct agent *a = arg;
    json_t *j = cmon_round_to_json(r);
    if (j)
        hand_over(a, &a->rounds, j);
}

static void on_path(void *arg, const char *test_id, int64_t time_ns, const struct cmon_path *path)
{
    struct agent *a = arg;
    char ts[40];
    json_t *pj = cmon_path_to_json(path);
    json_t *j = pj ? json_pack("{s:s, s:s, s:I, s:o}", "testId", test_id, "startTime",
                               cmon_rfc3339(time_ns, ts, sizeof ts), "startNs", (json_int_t)time_ns,
                               "path", pj)
                   : NULL;
    if (j)
        hand_over(a, &a->paths, j);
}

static void on_applied(void *arg, size_t monitors, size_t tests)
{
    struct agent *a = arg;
    cmon_info(a->log, "assignments applied", "monitors=%zu tests=%zu", monitors, tests);
}

/* ---- start / stop (main thread) ---- */

static enum cmon_err runtime_start(struct agent *a, struct cmon_errbuf *eb)
{
    struct agent_runtime_opts ro = {
        .loops = a->o.loops,
        .name = a->name,
        .address = a->o.address,
        .sink = {.round = on_round, .path = on_path, .applied = on_applied, .arg = a},
        .log = a->log};
    return agent_runtime_start(&ro, &a->rt, eb);
}

static enum cmon_err open_spool(struct agent *a, struct cmon_errbuf *eb)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/spool", a->state_dir);
    struct spool_opts so = {.dir = dir, .max_bytes = a->o.spool_max_bytes, .log = a->log};
    enum cmon_err err = spool_open(&so, &a->spool, eb);
    if (err)
        return err;
    struct spool_stats st;
    spool_stats(a->spool, &st);
    snprintf(a->spool_id, sizeof a->spool_id, "%016llx", (unsigned long long)spool_id(a->spool));
    /* until the server says its limits (registration, heartbeats) */
    a->limits = (struct agent_batch_limits){.max_bytes = AGENT_BATCH_DEFAULT_BYTES,
                                            .max_paths = AGENT_BATCH_DEFAULT_PATHS,
                                            .max_rounds = AGENT_BATCH_MAX_ROUNDS};
    cmon_info(a->log, "spool opened",
              "dir=%s spool_id=%s pending_batches=%llu corrupt_records=%llu", dir, a->spool_id,
              (unsigned long long)st.pending_batches, (unsigned long long)st.corrupt_records);
    return CMON_OK;
}

static enum cmon_err agent_init(struct agent *a, struct cmon_errbuf *eb)
{
    if (mkdir(a->state_dir, 0700) != 0 && errno != EEXIST)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create %s: %s", a->state_dir, strerror(errno));
    enum cmon_err err = open_spool(a, eb);
    if (!err)
        err = agent_http_init(&a->http, &a->o, &a->stop, eb);
    if (err)
        return err;
    struct cmon_errbuf le;
    if (agent_state_load(a->state_dir, &a->saved, &le) == CMON_OK &&
        strcmp(a->saved.name, a->name) == 0)
        a->registered = true; /* the saved token; a refusal makes it register again */
    else if (!a->o.key)
        return cmon_fail(eb, CMON_ERR_AUTH,
                         "no saved token for agent '%s' in %s: give the workspace key (--key)",
                         a->name, a->state_dir);
    a->rounds = json_array();
    a->paths = json_array();
    if (!a->rounds || !a->paths)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    return runtime_start(a, eb);
}

static void copy_opts(struct agent *a, const struct agent_opts *o)
{
    a->o = *o;
    snprintf(a->name, sizeof a->name, "%s", o->name);
    snprintf(a->state_dir, sizeof a->state_dir, "%s", o->state_dir);
    a->o.name = a->name;
    a->o.state_dir = a->state_dir;
    snprintf(a->address, sizeof a->address, "%s", o->address ? o->address : "");
    snprintf(a->region, sizeof a->region, "%s", o->region ? o->region : "");
    a->o.address = o->address ? a->address : NULL;
    a->o.region = o->region ? a->region : NULL;
    a->log = o->log;
    if (a->o.heartbeat_sec <= 0)
        a->o.heartbeat_sec = 10;
    if (a->o.poll_sec <= 0)
        a->o.poll_sec = 10;
    if (a->o.batch_ms <= 0)
        a->o.batch_ms = 1000;
}

/* Everything agent_init made (each part may be missing). */
static void agent_free(struct agent *a)
{
    agent_runtime_stop(a->rt);
    spool_close(a->spool);
    agent_http_free(&a->http);
    json_decref(a->rounds);
    json_decref(a->paths);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->rt_mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

enum cmon_err agent_start(const struct agent_opts *opts, struct agent **out, struct cmon_errbuf *eb)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    copy_opts(a, opts);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->rt_mu, NULL);
    cmon_cond_init(&a->cv);
    enum cmon_err err = agent_init(a, eb);
    if (!err && pthread_create(&a->push_thread, NULL, agent_push_main, a) != 0)
        err = cmon_fail(eb, CMON_ERR_IO, "cannot start the agent's push thread");
    if (err) {
        agent_free(a); /* no push thread: nothing else holds a */
        return err;
    }
    cmon_info(a->log, "agent started", "agent=%s servers=%zu state_dir=%s loops=%u", a->name,
              a->o.n_servers, a->state_dir, agent_runtime_loops(a->rt));
    *out = a;
    return CMON_OK;
}

void agent_stop(struct agent *a)
{
    if (!a)
        return;
    /* the loops first: once they are gone no round arrives, and the push
     * thread spools what is pending before it ends */
    pthread_mutex_lock(&a->rt_mu);
    struct agent_runtime *rt = a->rt;
    a->rt = NULL;
    pthread_mutex_unlock(&a->rt_mu);
    agent_runtime_stop(rt);
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->stop, true);
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->push_thread, NULL);
    struct spool_stats st;
    spool_stats(a->spool, &st);
    cmon_info(a->log, "agent stopped", "spooled_batches=%llu dropped_batches=%llu",
              (unsigned long long)st.pending_batches, (unsigned long long)st.dropped_batches);
    agent_free(a);
}
