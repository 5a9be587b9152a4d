/* runtime.c: the agent runtime (runtime.h) -- N loop threads, each owning
 * its libuv loop, engine, scheduler, tracer and shard of the tests.  An
 * assignment set is parsed, expanded and filtered once, on the thread that
 * assigns, into a plan: the monitors and, per loop, the tests of its shard.
 * The plan is shared by the loops (reference counted, read-only once handed
 * over); each loop puts its shard on its scheduler and commits.  The
 * runtime's mutex guards the hand-over and each loop's committed test ids. */
#include "agent/runtime.h"

#include <malloc.h>
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
#include "core/nofile.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/text.h"
#include "probe/probe.h"
#include "probe/scheduler.h"

#define ALIVE_MS 2000
#define SKIP_LOG_NS (10 * CMON_NS_PER_SEC) /* a loop says it skips rounds at most this often */
#define FD_HEADROOM 512 /* descriptors left to the rest of the process (spool, HTTP, DNS) */

struct assigned_monitor {
    char *name, *body;
};

struct agent_assignment {
    struct assigned_monitor *items;
    size_t n, cap;
};

/* One loop's share of a plan: tests with their configurations, pointing
 * into the plan's monitors. */
struct planned_test {
    const struct cmon_test *t;
    const struct cmon_test_config *cfg;
};

struct plan_shard {
    struct planned_test *items;
    size_t n, cap;
};

/* An assignment set parsed once: owned by its references (the assigning
 * thread while building, then one per loop it is pending on). */
struct rt_plan {
    atomic_uint refs;
    struct cmon_monitor **monitors;
    struct cmon_test **tests; /* per monitor, cmon_monitor_expand's */
    size_t *n_tests;
    size_t n_monitors, n_given; /* parsed; handed over (invalid ones too) */
    struct plan_shard shards[AGENT_MAX_LOOPS];
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
    /* rounds not made (scheduler.h, Overload): counted on the loop, read anywhere */
    atomic_ullong skipped_late, skipped_busy;
    uint64_t logged_skips; /* loop thread: skips already logged */
    int64_t skip_logged_ns;
    /* under rt->mu */
    struct rt_plan *pending;
    uint64_t pending_gen, done_gen;
    size_t n_tests;
};

struct agent_runtime {
    struct agent_runtime_opts o;
    char name[128], alias[64], address[64];
    unsigned n;
    uint32_t max_fds; /* per loop */
    /* who this agent is, to select its tests (no scheduler): read-only after start */
    struct agent_assign who;
    pthread_mutex_t assign_mu; /* one assignment parsed at a time, published in order */
    pthread_mutex_t mu;
    uint64_t gen, applied_gen; /* under mu */
    struct rt_loop loops[AGENT_MAX_LOOPS];
};

/* ---- assignment sets ---- */

struct agent_assignment *agent_assignment_new(void)
{
    return calloc(1, sizeof(struct agent_assignment));
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
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].name);
        free(set->items[i].body);
    }
    free(set->items);
    free(set);
}

/* ---- plans: parsed once, on the assigning thread ---- */

static void plan_unref(struct rt_plan *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (size_t i = 0; i < p->n_monitors; i++) {
        cmon_tests_free(p->tests[i], p->n_tests[i]);
        cmon_monitor_free(p->monitors[i]);
    }
    free(p->monitors);
    free(p->tests);
    free(p->n_tests);
    for (size_t i = 0; i < AGENT_MAX_LOOPS; i++)
        free(p->shards[i].items);
    free(p);
    /* a big plan's memory (1M tests: ~140 MiB) would otherwise stay with
     * the assigning thread's malloc arena */
    malloc_trim(0);
}

static bool shard_add(struct plan_shard *sh, const struct cmon_test *t,
                      const struct cmon_test_config *cfg)
{
    if (!cmon_grow(&sh->items, &sh->cap, sh->n + 1, sizeof *sh->items))
        return false;
    sh->items[sh->n++] = (struct planned_test){t, cfg};
    return true;
}

/* Keep monitor m (taken) with its tests; hand each of this agent's tests
 * to its loop's shard.  false: out of memory (m is freed). */
static bool plan_take(struct agent_runtime *rt, struct rt_plan *p, struct cmon_monitor *m,
                      struct cmon_test *tests, size_t n)
{
    size_t k = p->n_monitors;
    p->monitors[k] = m;
    p->tests[k] = tests;
    p->n_tests[k] = n;
    p->n_monitors++;
    for (size_t i = 0; i < n; i++) {
        if (agent_assign_wants(&rt->who, m, &tests[i]) &&
            !shard_add(&p->shards[agent_shard_of(tests[i].id, rt->n)], &tests[i],
                       &m->configs[tests[i].config]))
            return false;
    }
    return true;
}

/* Parse, expand and select set (which stays the caller's).  NULL: out of
 * memory (logged). */
static struct rt_plan *plan_build(struct agent_runtime *rt, const struct agent_assignment *set)
{
    struct rt_plan *p = calloc(1, sizeof *p);
    size_t cap = set->n ? set->n : 1;
    if (p) {
        atomic_init(&p->refs, 1);
        p->n_given = set->n;
        p->monitors = calloc(cap, sizeof *p->monitors);
        p->tests = calloc(cap, sizeof *p->tests);
        p->n_tests = calloc(cap, sizeof *p->n_tests);
    }
    bool ok = p && p->monitors && p->tests && p->n_tests;
    for (size_t i = 0; ok && i < set->n; i++) {
        struct cmon_monitor *m;
        struct cmon_test *tests;
        size_t n, problems; /* the server validated it: a failure means a newer schema */
        if (agent_assign_parse(set->items[i].name, set->items[i].body, &m, &tests, &n,
                               &problems) != CMON_OK)
            cmon_error(rt->o.log, "assigned monitor does not validate here (newer server?)",
                       "monitor=%s problems=%zu", set->items[i].name, problems);
        else
            ok = plan_take(rt, p, m, tests, n);
    }
    if (!ok) {
        cmon_error(rt->o.log, "out of memory: assignments not applied", "agent=%s", rt->name);
        plan_unref(p);
        return NULL;
    }
    return p;
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

static void apply_plan(struct rt_loop *l, const struct rt_plan *p)
{
    const struct plan_shard *sh = &p->shards[l->index];
    for (size_t i = 0; i < sh->n; i++)
        agent_assign_put(&l->tests, sh->items[i].t, sh->items[i].cfg);
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
    struct rt_plan *p = l->pending;
    uint64_t gen = l->pending_gen;
    l->pending = NULL;
    pthread_mutex_unlock(&rt->mu);
    if (!p)
        return;
    apply_plan(l, p);
    pthread_mutex_lock(&rt->mu); /* the ids loop_of reads change here */
    size_t n = agent_assign_commit(&l->tests);
    pthread_mutex_unlock(&rt->mu);
    applied(l, gen, n, p->n_given);
    plan_unref(p);
}

/* ---- loop thread: rounds not made ---- */

static void on_skip(void *arg, const char *test_id, enum probe_sched_skip why)
{
    struct rt_loop *l = arg;
    atomic_fetch_add(why == PROBE_SKIP_LATE ? &l->skipped_late : &l->skipped_busy, 1);
    int64_t now = cmon_mono_ns();
    if (l->skip_logged_ns && now - l->skip_logged_ns < SKIP_LOG_NS)
        return;
    uint64_t late = atomic_load(&l->skipped_late), busy = atomic_load(&l->skipped_busy);
    struct probe_sched_stats st;
    probe_sched_stats(l->sched, &st);
    cmon_warn(l->rt->o.log,
              "rounds skipped: this probe loop has more work than it can do (add --threads or "
              "cores, or spread the tests)",
              "loop=%u skipped=%llu late=%llu busy=%llu inflight=%u fds=%u/%u test=%s", l->index,
              (unsigned long long)(late + busy - l->logged_skips), (unsigned long long)late,
              (unsigned long long)busy, st.inflight, st.fds, st.max_fds, test_id);
    l->logged_skips = late + busy;
    l->skip_logged_ns = now;
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
    struct probe_sched_opts so = {.on_result = on_round,
                                  .on_skip = on_skip,
                                  .max_fds = rt->max_fds,
                                  .arg = l,
                                  .log = rt->o.log};
    if (!err)
        err = probe_sched_new(&l->loop, l->eng, &so, &l->sched, eb);
    struct agent_tracer_opts to = {
        .interval_ns = rt->o.trace_interval_ns, .on_path = on_path, .arg = l, .log = rt->o.log};
    if (!err)
        err = agent_tracer_new(l->eng, &to, &l->tracer, eb);
    if (err)
        return err;
    agent_assign_init(&l->tests, l->sched, l->tracer, rt->o.log, rt->name, rt->alias);
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
    plan_unref(l->pending);
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

/* Checks hold descriptors: take the hard RLIMIT_NOFILE (the soft one is
 * often 1024), leave FD_HEADROOM, and share the rest among the loops. */
static uint32_t fds_per_loop(const struct agent_runtime *rt)
{
    uint64_t total = cmon_nofile_raise();
    if (total > UINT32_MAX)
        total = UINT32_MAX;
    if (rt->o.max_fds && rt->o.max_fds < total)
        total = rt->o.max_fds;
    total = cmon_fd_budget(total, FD_HEADROOM);
    if (total < 2 * FD_HEADROOM)
        cmon_warn(rt->o.log, "few file descriptors for checks: rounds will be skipped early",
                  "fds=%llu", (unsigned long long)total);
    return (uint32_t)(total / rt->n) ? (uint32_t)(total / rt->n) : 1;
}

enum cmon_err agent_runtime_start(const struct agent_runtime_opts *opts, struct agent_runtime **out,
                                  struct cmon_errbuf *eb)
{
    struct agent_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    copy_opts(rt, opts);
    pthread_mutex_init(&rt->mu, NULL);
    pthread_mutex_init(&rt->assign_mu, NULL);
    rt->max_fds = fds_per_loop(rt);
    agent_assign_init(&rt->who, NULL, NULL, rt->o.log, rt->name, rt->alias);
    /* compound sources select agents by address */
    agent_assign_set_addresses(&rt->who, agent_addresses(rt->address));
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
    cmon_info(rt->o.log, "probe loops started", "agent=%s loops=%u fds_per_loop=%u", rt->name,
              rt->n, rt->max_fds);
    *out = rt;
    return CMON_OK;
}

void agent_runtime_assign(struct agent_runtime *rt, struct agent_assignment *set)
{
    static const struct agent_assignment empty = {0};
    pthread_mutex_lock(&rt->assign_mu);
    struct rt_plan *p = plan_build(rt, set ? set : &empty);
    agent_assignment_free(set); /* the plan has what it needs */
    if (!p) {
        pthread_mutex_unlock(&rt->assign_mu);
        return;
    }
    pthread_mutex_lock(&rt->mu);
    rt->gen++;
    for (unsigned i = 0; i < rt->n; i++) {
        struct rt_loop *l = &rt->loops[i];
        plan_unref(l->pending); /* a plan never applied: skipped */
        atomic_fetch_add(&p->refs, 1);
        l->pending = p;
        l->pending_gen = rt->gen;
    }
    pthread_mutex_unlock(&rt->mu);
    pthread_mutex_unlock(&rt->assign_mu);
    for (unsigned i = 0; i < rt->n; i++)
        uv_async_send(&rt->loops[i].assign_async);
    plan_unref(p);
}

void agent_runtime_stats(struct agent_runtime *rt, struct agent_runtime_stats *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < rt->n; i++) {
        out->skipped_late += atomic_load(&rt->loops[i].skipped_late);
        out->skipped_busy += atomic_load(&rt->loops[i].skipped_busy);
    }
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
    agent_assign_free(&rt->who);
    pthread_mutex_destroy(&rt->mu);
    pthread_mutex_destroy(&rt->assign_mu);
    free(rt);
}
