/* runtime.c: the agent runtime (runtime.h) -- N loop threads, each owning
 * its libuv loop, engine, scheduler, tracer and shard of the tests.  An
 * assignment set is shared by the loops (reference counted, read-only once
 * handed over); each loop parses it and keeps the tests of its shard.  The
 * runtime's mutex guards the hand-over and each loop's committed test ids. */
#include "agent/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/assign.h"
#include "agent/tracer.h"
#include "core/clock.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/text.h"
#include "probe/probe.h"
#include "probe/scheduler.h"

#define ALIVE_MS 2000

struct assigned_monitor {
    char *name, *body;
};

struct agent_assignment {
    atomic_uint refs;
    struct assigned_monitor *items;
    size_t n, cap;
};

struct rt_loop {
    struct agent_runtime *rt;
    unsigned index;
    uv_loop_t loop;
    bool loop_ready, thread_started;
    pthread_t thread;
    uv_async_t stop_async, assign_async;
    uv_timer_t alive; /* loop 0 only */
    int handles;      /* of stop_async, assign_async, alive: how many exist */
    struct probe_engine *eng;
    struct probe_sched *sched;
    struct agent_tracer *tracer;
    struct agent_assign tests; /* ids read by loop_of under rt->mu */
    /* under rt->mu */
    struct agent_assignment *pending;
    uint64_t pending_gen, done_gen;
    size_t n_tests;
};

struct agent_runtime {
    struct agent_runtime_opts o;
    char name[128], alias[64], address[64];
    unsigned n;
    pthread_mutex_t mu;
    uint64_t gen, applied_gen; /* under mu */
    struct rt_loop loops[AGENT_MAX_LOOPS];
};

/* ---- assignment sets ---- */

struct agent_assignment *agent_assignment_new(void)
{
    struct agent_assignment *set = calloc(1, sizeof *set);
    if (set)
        atomic_init(&set->refs, 1);
    return set;
}

enum cmon_err agent_assignment_add(struct agent_assignment *set, const char *name, const char *body)
{
    char *n = cmon_strdup(name), *b = cmon_strdup(body);
    if (!n || !b || !cmon_grow(&set->items, &set->cap, set->n + 1, sizeof *set->items)) {
        free(n);
        free(b);
        return CMON_ERR_NOMEM;
    }
    set->items[set->n++] = (struct assigned_monitor){.name = n, .body = b};
    return CMON_OK;
}

size_t agent_assignment_count(const struct agent_assignment *set)
{
    return set ? set->n : 0;
}

void agent_assignment_free(struct agent_assignment *set)
{
    if (!set || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].name);
        free(set->items[i].body);
    }
    free(set->items);
    free(set);
}

/* ---- shards ---- */

unsigned agent_runtime_default_loops(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > AGENT_MAX_LOOPS ? AGENT_MAX_LOOPS : (unsigned)n;
}

unsigned agent_shard_of(const char *test_id, unsigned loops)
{
    return loops > 1 ? (unsigned)(cmon_fnv1a(test_id) % loops) : 0;
}

/* ---- loop thread: results out ---- */

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct rt_loop *l = arg;
    const struct agent_sink *s = &l->rt->o.sink;
    s->round(s->arg, r);
    agent_tracer_round(l->tracer, r, cmon_mono_ns(), cmon_wall_ns());
}

static void on_path(void *arg, const char *test_id, int64_t time_ns, const struct cmon_path *p)
{
    struct rt_loop *l = arg;
    const struct agent_sink *s = &l->rt->o.sink;
    s->path(s->arg, test_id, time_ns, p);
}

static void alive_cb(uv_timer_t *t)
{
    struct rt_loop *l = t->data;
    const struct agent_sink *s = &l->rt->o.sink;
    s->alive(s->arg, cmon_wall_ns());
}

/* ---- loop thread: assignments in ---- */

static void apply_set(struct rt_loop *l, const struct agent_assignment *set)
{
    struct agent_runtime *rt = l->rt;
    for (size_t i = 0; i < set->n; i++) {
        size_t problems; /* the server validated it: a failure means a newer schema */
        if (agent_assign_monitor(&l->tests, set->items[i].name, set->items[i].body, &problems) !=
                CMON_OK &&
            l->index == 0)
            cmon_error(rt->o.log, "assigned monitor does not validate here (newer server?)",
                       "monitor=%s problems=%zu", set->items[i].name, problems);
    }
}

/* The loop has applied gen: when every loop has, say so once. */
static void applied(struct rt_loop *l, uint64_t gen, size_t n_tests, size_t monitors)
{
    struct agent_runtime *rt = l->rt;
    size_t total = 0;
    bool all = true;
    pthread_mutex_lock(&rt->mu);
    l->done_gen = gen;
    l->n_tests = n_tests;
    for (unsigned i = 0; i < rt->n; i++) {
        all = all && rt->loops[i].done_gen == gen;
        total += rt->loops[i].n_tests;
    }
    if (all)
        rt->applied_gen = gen;
    pthread_mutex_unlock(&rt->mu);
    if (all && rt->o.sink.applied)
        rt->o.sink.applied(rt->o.sink.arg, monitors, total);
}

static void assign_cb(uv_async_t *h)
{
    struct rt_loop *l = h->data;
    struct agent_runtime *rt = l->rt;
    pthread_mutex_lock(&rt->mu);
    struct agent_assignment *set = l->pending;
    uint64_t gen = l->pending_gen;
    l->pending = NULL;
    pthread_mutex_unlock(&rt->mu);
    if (!set)
        return;
    apply_set(l, set);
    pthread_mutex_lock(&rt->mu); /* the ids loop_of reads change here */
    size_t n = agent_assign_commit(&l->tests);
    pthread_mutex_unlock(&rt->mu);
    applied(l, gen, n, set->n);
    agent_assignment_free(set);
}

/* ---- loop life ---- */

static void nothing(void *arg)
{
    (void)arg;
}

/* Close what exists, in the order the scheduler needs: it first, then the
 * tracer, then the engine at once (cancelling checks in flight, so a stop
 * does not wait for their timeouts).  The loop must run afterwards. */
static void close_loop_parts(struct rt_loop *l)
{
    uv_handle_t *hs[] = {(uv_handle_t *)&l->stop_async, (uv_handle_t *)&l->assign_async,
                         (uv_handle_t *)&l->alive};
    for (int i = 0; i < l->handles; i++)
        uv_close(hs[i], NULL);
    l->handles = 0;
    if (l->sched)
        probe_sched_close(l->sched, nothing, NULL);
    agent_tracer_close(l->tracer);
    l->tracer = l->tests.tracer = NULL;
    if (l->eng)
        probe_engine_close(l->eng, nothing, NULL);
    l->sched = NULL;
    l->eng = NULL;
}

static void stop_cb(uv_async_t *h)
{
    close_loop_parts(h->data);
}

static void *loop_main(void *arg)
{
    struct rt_loop *l = arg;
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return NULL;
}

static enum cmon_err loop_handles(struct rt_loop *l, struct cmon_errbuf *eb)
{
    if (uv_async_init(&l->loop, &l->stop_async, stop_cb) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create a probe loop's wakeup");
    l->stop_async.data = l;
    l->handles++;
    if (uv_async_init(&l->loop, &l->assign_async, assign_cb) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create a probe loop's wakeup");
    l->assign_async.data = l;
    l->handles++;
    if (l->index == 0 && l->rt->o.sink.alive) {
        uv_timer_init(&l->loop, &l->alive);
        l->alive.data = l;
        l->handles++;
        uv_timer_start(&l->alive, alive_cb, 0, ALIVE_MS);
    }
    return CMON_OK;
}

static enum cmon_err loop_init(struct rt_loop *l, struct cmon_errbuf *eb)
{
    struct agent_runtime *rt = l->rt;
    if (uv_loop_init(&l->loop) != 0)
        return cmon_fail(eb, CMON_ERR_IO, "cannot create a probe loop");
    l->loop_ready = true;
    enum cmon_err err = loop_handles(l, eb);
    struct probe_engine_opts eo = {.ca_file = rt->o.probe_ca_file, .log = rt->o.log};
    if (!err)
        err = probe_engine_new(&l->loop, &eo, &l->eng, eb);
    struct probe_sched_opts so = {.on_result = on_round, .arg = l, .log = rt->o.log};
    if (!err)
        err = probe_sched_new(&l->loop, l->eng, &so, &l->sched, eb);
    struct agent_tracer_opts to = {
        .interval_ns = rt->o.trace_interval_ns, .on_path = on_path, .arg = l, .log = rt->o.log};
    if (!err)
        err = agent_tracer_new(l->eng, &to, &l->tracer, eb);
    if (err)
        return err;
    agent_assign_init(&l->tests, l->sched, l->tracer, rt->o.log, rt->name, rt->alias);
    agent_assign_shard(&l->tests, l->index, rt->n);
    /* compound sources select agents by address: each loop knows them */
    agent_assign_set_addresses(&l->tests, agent_addresses(rt->address));
    return CMON_OK;
}

/* After the thread ended (or when it never started): free the loop. */
static void loop_free(struct rt_loop *l)
{
    if (!l->loop_ready)
        return;
    close_loop_parts(l); /* nothing left when the thread closed them */
    uv_run(&l->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&l->loop) != 0)
        cmon_error(l->rt->o.log, "a probe loop closed with handles open", "loop=%u", l->index);
    l->loop_ready = false;
    agent_assign_free(&l->tests);
    agent_assignment_free(l->pending);
    l->pending = NULL;
}

static void loop_stop(struct rt_loop *l)
{
    if (l->thread_started) {
        uv_async_send(&l->stop_async);
        pthread_join(l->thread, NULL);
        l->thread_started = false;
    }
    loop_free(l);
}

/* ---- start / stop ---- */

static void copy_opts(struct agent_runtime *rt, const struct agent_runtime_opts *o)
{
    rt->o = *o;
    snprintf(rt->name, sizeof rt->name, "%s", o->name ? o->name : "");
    snprintf(rt->alias, sizeof rt->alias, "%s", o->alias ? o->alias : "");
    snprintf(rt->address, sizeof rt->address, "%s", o->address ? o->address : "");
    rt->o.name = rt->name;
    rt->o.alias = rt->alias;
    rt->o.address = rt->address;
    rt->n = o->loops ? o->loops : agent_runtime_default_loops();
    if (rt->n > AGENT_MAX_LOOPS)
        rt->n = AGENT_MAX_LOOPS;
}

enum cmon_err agent_runtime_start(const struct agent_runtime_opts *opts, struct agent_runtime **out,
                                  struct cmon_errbuf *eb)
{
    struct agent_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    copy_opts(rt, opts);
    pthread_mutex_init(&rt->mu, NULL);
    enum cmon_err err = CMON_OK;
    for (unsigned i = 0; i < rt->n && !err; i++) {
        struct rt_loop *l = &rt->loops[i];
        l->rt = rt;
        l->index = i;
        err = loop_init(l, eb);
        if (!err && pthread_create(&l->thread, NULL, loop_main, l) != 0)
            err = cmon_fail(eb, CMON_ERR_IO, "cannot start probe loop %u", i);
        l->thread_started = !err;
    }
    if (err) {
        agent_runtime_stop(rt);
        return err;
    }
    cmon_info(rt->o.log, "probe loops started", "agent=%s loops=%u", rt->name, rt->n);
    *out = rt;
    return CMON_OK;
}

void agent_runtime_assign(struct agent_runtime *rt, struct agent_assignment *set)
{
    if (!set && !(set = agent_assignment_new())) {
        cmon_error(rt->o.log, "out of memory: assignments not applied", "agent=%s", rt->name);
        return;
    }
    pthread_mutex_lock(&rt->mu);
    rt->gen++;
    for (unsigned i = 0; i < rt->n; i++) {
        struct rt_loop *l = &rt->loops[i];
        agent_assignment_free(l->pending); /* a set never applied: skipped */
        atomic_fetch_add(&set->refs, 1);
        l->pending = set;
        l->pending_gen = rt->gen;
    }
    pthread_mutex_unlock(&rt->mu);
    for (unsigned i = 0; i < rt->n; i++)
        uv_async_send(&rt->loops[i].assign_async);
    agent_assignment_free(set);
}

unsigned agent_runtime_loops(const struct agent_runtime *rt)
{
    return rt->n;
}

uint64_t agent_runtime_applied(struct agent_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    uint64_t g = rt->applied_gen;
    pthread_mutex_unlock(&rt->mu);
    return g;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

int agent_runtime_loop_of(struct agent_runtime *rt, const char *test_id)
{
    int found = -1;
    agent_test_id key;
    snprintf(key, sizeof key, "%s", test_id);
    pthread_mutex_lock(&rt->mu);
    for (unsigned i = 0; i < rt->n; i++) {
        const struct agent_assign *as = &rt->loops[i].tests;
        if (as->n && bsearch(key, as->ids, as->n, sizeof *as->ids, cmp_id))
            found = found < 0 ? (int)i : -2; /* on two loops: a bug the test sees */
    }
    pthread_mutex_unlock(&rt->mu);
    return found;
}

void agent_runtime_stop(struct agent_runtime *rt)
{
    if (!rt)
        return;
    for (unsigned i = 0; i < rt->n; i++)
        loop_stop(&rt->loops[i]);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}
