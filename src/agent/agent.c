/* agent.c: the remote agent's lifecycle and its loop thread -- the probe
 * engine, scheduler and tracer on one libuv loop; assignments from the push
 * thread arrive through a uv_async and are applied in place (tests keep
 * their schedule; only added, changed or removed ones are touched), and
 * finished rounds and traced paths are handed to the push thread as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent_internal.h"
#include "core/clock.h"
#include "core/cond.h"

/* ---- loop thread: results out ---- */

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

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct agent *a = arg;
    json_t *j = cmon_round_to_json(r);
    if (j)
        hand_over(a, &a->rounds, j);
    agent_tracer_round(a->tracer, r, cmon_mono_ns(), cmon_wall_ns());
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

/* ---- loop thread: assignments in ---- */

static void apply_assignments(struct agent *a, json_t *as)
{
    json_t *mons = json_object_get(as, "monitors"), *mj;
    size_t i;
    json_array_foreach(mons, i, mj)
    {
        const char *name = json_string_value(json_object_get(mj, "name"));
        const char *body = json_string_value(json_object_get(mj, "body"));
        size_t problems;
        if (name && body && agent_assign_monitor(&a->tests, name, body, &problems) != CMON_OK)
            cmon_error(a->log, "assigned monitor does not validate here (newer server?)",
                       "monitor=%s problems=%zu", name, problems);
    }
    size_t n = agent_assign_commit(&a->tests);
    cmon_info(a->log, "assignments applied", "monitors=%zu tests=%zu", json_array_size(mons), n);
}

static void assign_cb(uv_async_t *h)
{
    struct agent *a = h->data;
    pthread_mutex_lock(&a->mu);
    json_t *as = a->assign;
    a->assign = NULL;
    pthread_mutex_unlock(&a->mu);
    if (as)
        apply_assignments(a, as);
    json_decref(as);
}

/* ---- loop thread: shutdown ---- */

static void engine_closed(void *arg)
{
    (void)arg;
}

static void sched_closed(void *arg)
{
    (void)arg;
}

static void stop_cb(uv_async_t *h)
{
    struct agent *a = h->data;
    uv_close((uv_handle_t *)&a->stop_async, NULL);
    uv_close((uv_handle_t *)&a->assign_async, NULL);
    probe_sched_close(a->sched, sched_closed, a);
    agent_tracer_close(a->tracer);
    a->tracer = a->tests.tracer = NULL;
    probe_engine_close(a->eng, engine_closed, a);
}

static void *loop_main(void *arg)
{
    struct agent *a = arg;
    uv_run(&a->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- start / stop (main thread) ---- */

static enum cmon_err loop_init(struct agent *a, struct cmon_errbuf *eb)
{
    if (uv_loop_init(&a->loop) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create the agent's event loop");
    struct probe_engine_opts eo = {.log = a->log};
    enum cmon_err err = probe_engine_new(&a->loop, &eo, &a->eng, eb);
    if (err)
        return err;
    struct probe_sched_opts so = {.on_result = on_round, .arg = a, .log = a->log};
    err = probe_sched_new(&a->loop, a->eng, &so, &a->sched, eb);
    if (err)
        return err;
    struct agent_tracer_opts to = {.on_path = on_path, .arg = a, .log = a->log};
    err = agent_tracer_new(a->eng, &to, &a->tracer, eb);
    if (err)
        return err;
    agent_assign_init(&a->tests, a->sched, a->tracer, a->log, a->name, NULL);
    agent_assign_set_addresses(&a->tests, agent_addresses(a->o.address));
    uv_async_init(&a->loop, &a->stop_async, stop_cb);
    a->stop_async.data = a;
    uv_async_init(&a->loop, &a->assign_async, assign_cb);
    a->assign_async.data = a;
    return CMON_OK;
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
    return loop_init(a, eb);
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

enum cmon_err agent_start(const struct agent_opts *opts, struct agent **out, struct cmon_errbuf *eb)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    copy_opts(a, opts);
    pthread_mutex_init(&a->mu, NULL);
    cmon_cond_init(&a->cv);
    enum cmon_err err = agent_init(a, eb);
    if (!err && pthread_create(&a->loop_thread, NULL, loop_main, a) != 0)
        err = cmon_fail(eb, CMON_ERR_IO, "cannot start the agent's loop thread");
    if (err) {
        /* before any thread: the loop never ran, so the process exit that
         * follows a failed start reclaims its handles */
        spool_close(a->spool);
        agent_http_free(&a->http);
        json_decref(a->rounds);
        json_decref(a->paths);
        free(a);
        return err;
    }
    if (pthread_create(&a->push_thread, NULL, agent_push_main, a) != 0) {
        atomic_store(&a->stop, true);
        uv_async_send(&a->stop_async);
        pthread_join(a->loop_thread, NULL);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the agent's push thread");
    }
    cmon_info(a->log, "agent started", "agent=%s servers=%zu state_dir=%s", a->name, a->o.n_servers,
              a->state_dir);
    *out = a;
    return CMON_OK;
}

void agent_stop(struct agent *a)
{
    if (!a)
        return;
    uv_async_send(&a->stop_async);
    pthread_join(a->loop_thread, NULL);
    uv_loop_close(&a->loop);
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->stop, true);
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->push_thread, NULL);
    struct spool_stats st;
    spool_stats(a->spool, &st);
    cmon_info(a->log, "agent stopped", "spooled_batches=%llu dropped_batches=%llu",
              (unsigned long long)st.pending_batches, (unsigned long long)st.dropped_batches);
    spool_close(a->spool);
    agent_http_free(&a->http);
    json_decref(a->rounds);
    json_decref(a->paths);
    json_decref(a->assign);
    agent_assign_free(&a->tests);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
