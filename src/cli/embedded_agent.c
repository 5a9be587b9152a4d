/* embedded_agent.c: the agent thread of `cmon run` (embedded_agent.h) --
 * the agent runtime with the server's write queue as its sink, and a reader
 * thread as its assignment source: woken by the server when a monitor
 * changes, it lists the running monitors from a read-only store connection
 * and hands them to the runtime (which parses them once, on this thread, and
 * gives each loop its shard of this agent's tests).  Stopped monitors and disabled groups are not probed (their
 * tests are Not Running).  A failed read is retried after RETRY_MS. */
#include "cli/embedded_agent.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "agent/runtime.h"
#include "core/clock.h"
#include "core/cond.h"
#include "model/path.h"
#include "store/store.h"

#define RETRY_MS 2000

struct embedded_agent {
    struct cmon_server *srv;
    const struct cmon_log *log;
    char name[128], alias[64];
    struct store *store;
    struct agent_runtime *rt;
    atomic_ullong dropped;
    /* the reader thread */
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
    bool changed, stop; /* under mu */
};

/* ---- sink: from any probe loop ---- */

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct embedded_agent *a = arg;
    struct cmon_errbuf eb;
    /* the window remote rounds pass too (a clock stepped far ahead must not
     * pin the tests' states) */
    if (!cmon_round_in_window(r->start_ns, cmon_wall_ns(),
                              (int64_t)STORE_DEFAULT_RETENTION_DAYS * 86400 * CMON_NS_PER_SEC)) {
        if (atomic_fetch_add(&a->dropped, 1) % 1000 == 0)
            cmon_warn(a->log, "round refused: start time outside the server's window",
                      "test=%s start_ns=%lld", r->test_id, (long long)r->start_ns);
    } else if (cmon_server_submit_rounds(a->srv, a->name, r, 1, &eb) != CMON_OK &&
               atomic_fetch_add(&a->dropped, 1) % 1000 == 0)
        cmon_warn(a->log, "round dropped", "test=%s err=%s", r->test_id, eb.msg);
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

static void on_alive(void *arg, int64_t wall_ns)
{
    struct embedded_agent *a = arg;
    cmon_server_embedded_seen(a->srv, wall_ns); /* its loops are alive */
}

static void on_applied(void *arg, size_t monitors, size_t tests)
{
    struct embedded_agent *a = arg;
    (void)monitors;
    cmon_info(a->log, "embedded agent tests", "agent=%s tests=%zu", a->name, tests);
}

/* ---- source: the reader thread ---- */

static int add_monitor(void *arg, const struct store_monitor *sm)
{
    struct agent_assignment *set = arg;
    if (sm->running && agent_assignment_add(set, sm->name, sm->body) != CMON_OK)
        return 1; /* out of memory: stop listing */
    return 0;
}

static bool read_monitors(struct embedded_agent *a)
{
    struct cmon_errbuf eb = {{0}};
    struct agent_assignment *set = agent_assignment_new();
    if (!set || a->store->ops->monitor_list(a->store, add_monitor, set, &eb) != CMON_OK) {
        cmon_warn(a->log, "reading monitors failed", "err=%s", set ? eb.msg : "out of memory");
        agent_assignment_free(set);
        return false;
    }
    agent_runtime_assign(a->rt, set);
    return true;
}

/* Wait for a change (or, after a failed read, at most RETRY_MS). */
static bool wait_change(struct embedded_agent *a, bool retry)
{
    int64_t until = cmon_mono_ns() + (int64_t)RETRY_MS * CMON_NS_PER_MS;
    pthread_mutex_lock(&a->mu);
    while (!a->changed && !a->stop) {
        if (!retry)
            pthread_cond_wait(&a->cv, &a->mu);
        else if (cmon_cond_wait_until(&a->cv, &a->mu, until) != 0)
            break;
    }
    bool go = !a->stop;
    a->changed = false;
    pthread_mutex_unlock(&a->mu);
    return go;
}

static void *reader_main(void *arg)
{
    struct embedded_agent *a = arg;
    bool ok = true;
    while (wait_change(a, !ok))
        ok = read_monitors(a);
    return NULL;
}

void embedded_agent_changed(void *arg)
{
    struct embedded_agent *a = arg;
    pthread_mutex_lock(&a->mu);
    a->changed = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* ---- start / stop (main thread) ---- */

/* The server serves connections up to the descriptor limit too: the probes
 * get half of the hard limit, so a loop at its limit leaves the server the
 * other half (0: unknown, the runtime's default). */
static uint32_t probe_fds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    rlim_t half = rl.rlim_max / 2;
    return half > UINT32_MAX ? UINT32_MAX : (uint32_t)half;
}

struct embedded_agent *embedded_agent_new(void)
{
    struct embedded_agent *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (cmon_cond_init(&a->cv) != 0) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->changed = true; /* the first read loads them */
    return a;
}

enum cmon_err embedded_agent_start(struct embedded_agent *a, struct cmon_server *srv,
                                   const struct embedded_agent_opts *o, struct cmon_errbuf *eb)
{
    a->srv = srv;
    a->log = o->log;
    snprintf(a->name, sizeof a->name, "%s", o->name);
    snprintf(a->alias, sizeof a->alias, "%s", o->alias ? o->alias : "");
    enum cmon_err err = store_open(o->store_url, STORE_READ_ONLY, &a->store, eb);
    if (err)
        return err;
    struct agent_runtime_opts ro = {.loops = o->loops,
                                    .name = a->name,
                                    .alias = a->alias,
                                    .address = o->address,
                                    .trace_interval_ns = o->trace_interval_ns,
                                    .max_fds = probe_fds(),
                                    .sink = {.round = on_round,
                                             .path = on_path,
                                             .alive = on_alive,
                                             .applied = on_applied,
                                             .arg = a},
                                    .log = o->log};
    err = agent_runtime_start(&ro, &a->rt, eb);
    if (err)
        return err;
    if (pthread_create(&a->reader, NULL, reader_main, a) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the embedded agent's reader thread");
    a->reader_started = true;
    return CMON_OK;
}

void embedded_agent_stop(struct embedded_agent *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (a->reader_started)
        pthread_join(a->reader, NULL);
    a->reader_started = false;
    agent_runtime_stop(a->rt);
    a->rt = NULL;
    store_close(a->store);
    a->store = NULL;
}

void embedded_agent_free(struct embedded_agent *a)
{
    if (!a)
        return;
    embedded_agent_stop(a); /* nothing left when it was stopped */
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
