/* embedded_agent.c: the agent thread of `cmon run`.  A uv loop runs the probe
 * engine and scheduler; a timer re-reads the monitors (read-only store) when
 * they change and puts/removes this agent's tests on the scheduler; finished
 * rounds go to the server's write queue.  Stopped monitors and disabled
 * groups are not probed (their tests are Not Running). */
#include "server/embedded_agent.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/assign.h"
#include "agent/tracer.h"
#include "core/clock.h"
#include "core/hash.h"
#include "model/path.h"
#include "probe/probe.h"
#include "probe/scheduler.h"
#include "store/store.h"

#define RELOAD_MS 2000

struct embedded_agent {
    struct cmon_server *srv;
    const struct cmon_log *log;
    char name[128], alias[64];
    char address[64]; /* --address ("" : the host's) */
    struct store *store;
    pthread_t thread;
    uv_loop_t loop;
    uv_timer_t reload;
    uv_async_t stop;
    struct probe_engine *eng;
    struct probe_sched *sched;
    struct agent_tracer *tracer;
    int64_t trace_interval_ns;
    unsigned long long signature;
    struct agent_assign tests; /* the tests on the scheduler */
    unsigned long long dropped;
};

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct embedded_agent *a = arg;
    struct cmon_errbuf eb;
    /* the window remote rounds pass too (a clock stepped far ahead must not
     * pin the tests' states) */
    if (!cmon_round_in_window(r->start_ns, cmon_wall_ns(),
                              (int64_t)STORE_DEFAULT_RETENTION_DAYS * 86400 * CMON_NS_PER_SEC)) {
        if (a->dropped++ % 1000 == 0)
            cmon_warn(a->log, "round refused: start time outside the server's window",
                      "test=%s start_ns=%lld", r->test_id, (long long)r->start_ns);
    } else if (cmon_server_submit_rounds(a->srv, a->name, r, 1, &eb) != CMON_OK &&
               a->dropped++ % 1000 == 0)
        cmon_warn(a->log, "round dropped", "test=%s err=%s", r->test_id, eb.msg);
    agent_tracer_round(a->tracer, r, cmon_mono_ns(), cmon_wall_ns());
}

static void on_path(void *arg, const char *test_id, int64_t time_ns, const struct cmon_path *p)
{
    struct embedded_agent *a = arg;
    struct cmon_path_report *rep = malloc(sizeof *rep);
    struct cmon_errbuf eb;
    if (!rep)
        return;
    snprintf(rep->test_id, sizeof rep->test_id, "%s", test_id);
    rep->time_ns = time_ns;
    rep->path = *p;
    if (cmon_server_submit_paths(a->srv, a->name, rep, 1, &eb) != CMON_OK)
        cmon_warn(a->log, "path dropped", "test=%s err=%s", test_id, eb.msg);
    free(rep);
}

struct reload_pass {
    struct embedded_agent *a;
    unsigned long long sig;
};

static int sign_monitor(void *arg, const struct store_monitor *sm)
{
    struct reload_pass *w = arg;
    unsigned long long h = cmon_fnv1a_add(w->sig ^ CMON_FNV1A_BASIS, sm->name);
    w->sig = h ^ ((unsigned long long)sm->updated_ns * 31 + sm->running);
    return 0;
}

static int load_monitor(void *arg, const struct store_monitor *sm)
{
    struct embedded_agent *a = arg;
    size_t problems; /* the API validated it: a failure here means a newer schema */
    if (sm->running && agent_assign_monitor(&a->tests, sm->name, sm->body, &problems) != CMON_OK)
        cmon_warn(a->log, "stored monitor does not validate here (newer schema?)",
                  "monitor=%s problems=%zu", sm->name, problems);
    return 0;
}

static void reload(struct embedded_agent *a)
{
    struct reload_pass w = {.a = a};
    struct cmon_errbuf eb;
    if (a->store->ops->monitor_list(a->store, sign_monitor, &w, &eb) != CMON_OK ||
        (w.sig == a->signature && a->signature))
        return;
    if (a->store->ops->monitor_list(a->store, load_monitor, a, &eb) != CMON_OK) {
        cmon_warn(a->log, "reading monitors failed", "err=%s", eb.msg);
        agent_assign_abort(&a->tests);
        return;
    }
    size_t n = agent_assign_commit(&a->tests);
    a->signature = w.sig ? w.sig : 1;
    cmon_info(a->log, "embedded agent tests", "agent=%s tests=%zu", a->name, n);
}

static void reload_cb(uv_timer_t *t)
{
    struct embedded_agent *a = t->data;
    cmon_server_embedded_seen(a->srv, cmon_wall_ns()); /* its loop is alive */
    reload(a);
}

static void engine_closed(void *arg)
{
    (void)arg;
}

static void sched_closed(void *arg)
{
    (void)arg;
}

/* Scheduler, tracer, then the engine right away: closing the engine cancels
 * the checks in flight, so stopping does not wait for their timeouts. */
static void stop_cb(uv_async_t *h)
{
    struct embedded_agent *a = h->data;
    uv_timer_stop(&a->reload);
    uv_close((uv_handle_t *)&a->reload, NULL);
    uv_close((uv_handle_t *)&a->stop, NULL);
    probe_sched_close(a->sched, sched_closed, a);
    agent_tracer_close(a->tracer);
    a->tracer = a->tests.tracer = NULL;
    probe_engine_close(a->eng, engine_closed, a);
}

static void *agent_main(void *arg)
{
    struct embedded_agent *a = arg;
    uv_timer_start(&a->reload, reload_cb, 0, RELOAD_MS);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    return NULL;
}

static enum cmon_err agent_init(struct embedded_agent *a, const char *store_url,
                                struct cmon_errbuf *eb)
{
    enum cmon_err err = store_open(store_url, STORE_READ_ONLY, &a->store, eb);
    if (err)
        return err;
    if (uv_loop_init(&a->loop) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create the agent's event loop");
    struct probe_engine_opts eo = {.log = a->log};
    err = probe_engine_new(&a->loop, &eo, &a->eng, eb);
    if (err)
        return err;
    struct probe_sched_opts so = {.on_result = on_round, .arg = a, .log = a->log};
    err = probe_sched_new(&a->loop, a->eng, &so, &a->sched, eb);
    if (err)
        return err;
    struct agent_tracer_opts to = {
        .interval_ns = a->trace_interval_ns, .on_path = on_path, .arg = a, .log = a->log};
    err = agent_tracer_new(a->eng, &to, &a->tracer, eb);
    if (err)
        return err;
    agent_assign_init(&a->tests, a->sched, a->tracer, a->log, a->name, a->alias);
    agent_assign_set_addresses(&a->tests, agent_addresses(a->address));
    uv_timer_init(&a->loop, &a->reload);
    a->reload.data = a;
    uv_async_init(&a->loop, &a->stop, stop_cb);
    a->stop.data = a;
    if (pthread_create(&a->thread, NULL, agent_main, a) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the agent thread");
    return CMON_OK;
}

enum cmon_err embedded_agent_start(struct cmon_server *srv, const char *store_url, const char *name,
                                   const char *alias, const char *address,
                                   int64_t trace_interval_ns, const struct cmon_log *log,
                                   struct embedded_agent **out, struct cmon_errbuf *eb)
{
    struct embedded_agent *a = calloc(1, sizeof *a);
    if (!a)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    a->srv = srv;
    a->log = log;
    snprintf(a->name, sizeof a->name, "%s", name);
    snprintf(a->alias, sizeof a->alias, "%s", alias ? alias : "");
    snprintf(a->address, sizeof a->address, "%s", address ? address : "");
    a->trace_interval_ns = trace_interval_ns;
    enum cmon_err err = agent_init(a, store_url, eb);
    if (err) {
        /* Only reached before the thread exists; handles that were opened
         * belong to a loop that never ran, so closing the store is enough
         * for the process exit that follows a failed start. */
        store_close(a->store);
        free(a);
        return err;
    }
    *out = a;
    return CMON_OK;
}

void embedded_agent_stop(struct embedded_agent *a)
{
    if (!a)
        return;
    uv_async_send(&a->stop);
    pthread_join(a->thread, NULL);
    uv_loop_close(&a->loop);
    store_close(a->store);
    agent_assign_free(&a->tests);
    free(a);
}
