/* scheduler.c: the round scheduler (see scheduler.h).  One binary min-heap of
 * events ordered by monotonic time, driven by one uv_timer: a test's event is
 * its next round start; a running round's event is its next check launch.
 * The wall clock is read only to place a new test on its phase and to stamp
 * a round as it starts: a wall step (NTP at boot, VM resume) then moves the
 * stamps, never the rhythm.  Rounds are separate objects holding a
 * reference to their test's settings, so replacing a test never disturbs a
 * round already running.
 * Overload (scheduler.h): a round admitted now commits checks for the next
 * 2 s, so admission cannot wait for the loop to fall behind -- by then it has
 * promised seconds of work.  The checks committed (not launched yet, or in
 * flight) stay within a window of SCHED_HORIZON of the checks the loop has
 * been launching per second (a moving average, at least SCHED_WINDOW_MIN):
 * a loop below capacity commits about one second of its rate (a round's
 * checks spread over 2 s) and never meets the window; a loop at capacity
 * meets it, and then falls behind by at most about half a second.  (A
 * window steered by the lag itself was tried: preemption on a shared
 * machine kept it at half the loop's capacity.)  A round is admitted only
 * with room in the window, in the descriptors and in its protocol's bound,
 * and only while it is not late. */
#include "probe/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/nofile.h"
#include "core/grow.h"
#include "core/hash.h"
#include "probe/round.h"
#include "probe/target.h"

#define SCHED_NOT_IN_HEAP UINT32_MAX
#define SCHED_DEFAULT_SPREAD_MS 2000
#define SCHED_DEFAULT_MAX_LATE_MS 1000
/* Checks launched per turn of the loop; then it polls (replies, connects)
 * without blocking and runs the next batch from its check phase.  A loop that
 * launched every due check at once after falling behind overflowed its ICMP
 * receive queue. */
#define SCHED_LAUNCH_BATCH 128
#define SCHED_HORIZON_MS 1500
#define SCHED_ADJUST_NS (100 * CMON_NS_PER_MS)
#define SCHED_WINDOW_MIN 8192

enum sched_kind { EV_TEST, EV_ROUND };

struct sched_event {
    int64_t at; /* monotonic ns */
    uint32_t heap_idx;
    uint8_t kind;
};

struct sched_test {
    struct sched_event ev; /* next round start */
    struct sched_test *hnext;
    struct probe_sched *s;
    char id[CMON_TEST_ID_LEN + 1];
    bool removed; /* no longer scheduled; rounds still may hold it */
    uint16_t checks;
    uint32_t refs; /* 1 while scheduled + 1 per round */
    int64_t period_ns, phase_ns;
    struct sched_round *pending; /* rounds still launching checks */
    struct probe_target target;  /* host, url and http are owned */
};

struct sched_round;
struct sched_slot {
    struct sched_round *round;
    uint32_t seq;
};

struct sched_round {
    struct sched_event ev; /* next check launch */
    struct sched_test *test;
    struct sched_round *tnext; /* next in test->pending */
    bool listed;
    int64_t start_mono; /* checks are offset from this */
    int64_t start_ns;   /* wall-clock stamp reported */
    uint32_t n, launched, done;
    struct probe_round_acc acc;
    struct sched_slot slots[];
};

struct probe_sched {
    uv_loop_t *loop;
    struct probe_engine *eng;
    struct probe_sched_opts o;
    uv_timer_t timer;
    uv_idle_t idle;   /* active while a batch waits: the loop polls without blocking */
    uv_check_t check; /* runs that batch right after the poll */
    int handles;      /* of timer, idle, check: not closed yet */
    struct sched_event **heap;
    uint32_t heap_n;
    size_t heap_cap;
    struct sched_test **buckets;
    size_t n_buckets, n_tests, n_rounds;
    int64_t max_late_ns;
    uint32_t inflight[CMON_N_PROTOCOLS], fds; /* checks in flight, descriptors they hold */
    uint64_t pending;                         /* checks of running rounds not launched yet */
    uint64_t window;    /* checks pending + in flight it admits rounds for */
    double rate;        /* checks launched per second, moving average */
    uint64_t launches;  /* checks launched since adjust_at was set */
    int64_t adjust_at;  /* mono: when the window is next adjusted */
    struct probe_sched_stats st;              /* counters; inflight/fds filled on read */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
};

/* --- pure helpers --- */

int64_t probe_sched_phase_ns(const char *test_id, int64_t period_ns)
{
    if (period_ns <= 0)
        return 0;
    /* millisecond phases are plenty and keep the numbers readable */
    int64_t period_ms = period_ns / CMON_NS_PER_MS;
    if (period_ms <= 0)
        return 0;
    return (int64_t)(cmon_fnv1a(test_id) % (uint64_t)period_ms) * CMON_NS_PER_MS;
}

int64_t probe_sched_next_round(int64_t now_ns, int64_t phase_ns, int64_t period_ns)
{
    int64_t k = (now_ns - phase_ns) / period_ns;
    int64_t t = phase_ns + k * period_ns;
    while (t < now_ns)
        t += period_ns;
    while (t - period_ns >= now_ns)
        t -= period_ns;
    return t;
}

int64_t probe_sched_check_offset_ns(uint32_t i, uint32_t n, uint32_t spread_ms)
{
    if (n <= 1)
        return 0;
    return (int64_t)i * spread_ms * CMON_NS_PER_MS / n;
}

/* --- heap --- */

static void heap_set(struct probe_sched *s, uint32_t i, struct sched_event *e)
{
    s->heap[i] = e;
    e->heap_idx = i;
}

static void heap_up(struct probe_sched *s, uint32_t i)
{
    struct sched_event *e = s->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (s->heap[p]->at <= e->at)
            break;
        heap_set(s, i, s->heap[p]);
        i = p;
    }
    heap_set(s, i, e);
}

static void heap_down(struct probe_sched *s, uint32_t i)
{
    struct sched_event *e = s->heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t mat = e->at;
        if (l < s->heap_n && s->heap[l]->at < mat) {
            m = l;
            mat = s->heap[l]->at;
        }
        if (r < s->heap_n && s->heap[r]->at < mat)
            m = r;
        if (m == i)
            break;
        heap_set(s, i, s->heap[m]);
        i = m;
    }
    heap_set(s, i, e);
}

/* Unit tests fail the scheduler's allocations here (opts.fail_alloc). */
static bool alloc_fails(const struct probe_sched *s)
{
    return s->o.fail_alloc && s->o.fail_alloc(s->o.clock_ctx);
}

/* Room for one more event; the only step of a push that can fail. */
static bool heap_reserve(struct probe_sched *s)
{
    return !alloc_fails(s) &&
           cmon_grow(&s->heap, &s->heap_cap, (size_t)s->heap_n + 1, sizeof *s->heap);
}

/* Needs the room heap_reserve made. */
static void heap_insert(struct probe_sched *s, struct sched_event *e)
{
    heap_set(s, s->heap_n++, e);
    heap_up(s, e->heap_idx);
}

static bool heap_push(struct probe_sched *s, struct sched_event *e)
{
    if (!heap_reserve(s))
        return false;
    heap_insert(s, e);
    return true;
}

static void heap_remove(struct probe_sched *s, struct sched_event *e)
{
    uint32_t i = e->heap_idx;
    if (i == SCHED_NOT_IN_HEAP)
        return;
    e->heap_idx = SCHED_NOT_IN_HEAP;
    struct sched_event *last = s->heap[--s->heap_n];
    if (i == s->heap_n)
        return;
    heap_set(s, i, last);
    heap_up(s, i);
    heap_down(s, last->heap_idx);
}

/* --- timer --- */

static int64_t sched_wall(const struct probe_sched *s)
{
    return s->o.now_ns ? s->o.now_ns(s->o.clock_ctx) : cmon_wall_ns();
}

static int64_t sched_mono(const struct probe_sched *s)
{
    return s->o.mono_ns ? s->o.mono_ns(s->o.clock_ctx) : cmon_mono_ns();
}

/* The monotonic time of a new test's first round: the next wall-clock
 * instant on its phase, so every agent spreads a test the same way. */
static int64_t first_round_mono(const struct probe_sched *s, const struct sched_test *t)
{
    int64_t wall = sched_wall(s), mono = sched_mono(s);
    return mono + probe_sched_next_round(wall, t->phase_ns, t->period_ns) - wall;
}

/* The wall time of monotonic instant at, read now: a late timer still
 * stamps the round with the moment it was due. */
static int64_t wall_at(const struct probe_sched *s, int64_t at)
{
    return sched_wall(s) - (sched_mono(s) - at);
}

/* The round after one due at `at`: one period later, or, when the loop
 * was held up longer than that, the first one still ahead (never a burst
 * of rounds to catch up). */
static int64_t next_round_after(const struct sched_test *t, int64_t at, int64_t now)
{
    int64_t next = at + t->period_ns;
    if (next <= now)
        next += ((now - next) / t->period_ns + 1) * t->period_ns;
    return next;
}

static void run_due(struct probe_sched *s, uint32_t budget);

static void timer_cb(uv_timer_t *t)
{
    run_due(t->data, SCHED_LAUNCH_BATCH);
}

static void idle_cb(uv_idle_t *h)
{
    (void)h;
}

static void check_cb(uv_check_t *h)
{
    struct probe_sched *s = h->data;
    uv_idle_stop(&s->idle);
    uv_check_stop(&s->check);
    run_due(s, SCHED_LAUNCH_BATCH);
}

static void rearm(struct probe_sched *s)
{
    if (s->closing)
        return;
    if (!s->heap_n) {
        uv_timer_stop(&s->timer);
        return;
    }
    int64_t delay = s->heap[0]->at - sched_mono(s);
    uint64_t ms = delay <= 0 ? 0 : (uint64_t)((delay + CMON_NS_PER_MS - 1) / CMON_NS_PER_MS);
    uv_timer_start(&s->timer, timer_cb, ms, 0);
}

/* --- tests --- */

static void test_free(struct sched_test *t)
{
    probe_target_free(&t->target); /* built below in its layout */
    free(t);
}

static void test_unref(struct sched_test *t)
{
    if (--t->refs == 0)
        test_free(t);
}

static struct sched_test **bucket_of(struct probe_sched *s, const char *id)
{
    return &s->buckets[cmon_fnv1a(id) % s->n_buckets];
}

static struct sched_test *test_find(struct probe_sched *s, const char *id,
                                    struct sched_test ***link)
{
    struct sched_test **pp = bucket_of(s, id);
    for (; *pp; pp = &(*pp)->hnext) {
        if (strcmp((*pp)->id, id) == 0) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

static bool grow_buckets(struct probe_sched *s)
{
    if (s->n_tests < s->n_buckets)
        return true;
    if (alloc_fails(s))
        return false;
    size_t nb = s->n_buckets * 2;
    struct sched_test **b = calloc(nb, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < s->n_buckets; i++) {
        struct sched_test *t = s->buckets[i], *next;
        for (; t; t = next) {
            next = t->hnext;
            struct sched_test **head = &b[cmon_fnv1a(t->id) % nb];
            t->hnext = *head;
            *head = t;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = nb;
    return true;
}

static struct probe_http_spec *http_spec_from(const struct cmon_test_config *cfg, bool *ok)
{
    struct probe_http_spec *h = calloc(1, sizeof *h);
    if (!h)
        return *ok = false, NULL;
    if (cfg->method && !(h->method = strdup(cfg->method)))
        *ok = false;
    if (cfg->n_headers) {
        char **hd = calloc(cfg->n_headers, sizeof *hd);
        h->headers = (const char *const *)hd;
        h->n_headers = hd ? cfg->n_headers : 0;
        for (size_t i = 0; i < h->n_headers; i++) {
            const struct cmon_http_header *x = &cfg->headers[i];
            size_t len = strlen(x->name) + strlen(x->value) + 3;
            if ((hd[i] = malloc(len)))
                snprintf(hd[i], len, "%s: %s", x->name, x->value);
            else
                *ok = false;
        }
        if (!hd)
            *ok = false;
    }
    if (cfg->n_valid_status) {
        struct cmon_status_range *v = calloc(cfg->n_valid_status, sizeof *v);
        if (v) {
            memcpy(v, cfg->valid_status, cfg->n_valid_status * sizeof *v);
            h->valid = v;
            h->n_valid = cfg->n_valid_status;
        } else {
            *ok = false;
        }
    }
    return h;
}

static enum cmon_err test_build(const struct probe_sched *s, const struct cmon_test *t,
                                const struct cmon_test_config *cfg, struct sched_test **out,
                                struct cmon_errbuf *eb)
{
    struct sched_test *x = alloc_fails(s) ? NULL : calloc(1, sizeof *x);
    if (!x)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    const struct probe_ops *ops = probe_ops_of(t->protocol);
    bool ok = true, http = ops && ops->url_target;
    snprintf(x->id, sizeof x->id, "%s", t->id);
    x->refs = 1;
    x->ev.kind = EV_TEST;
    x->ev.heap_idx = SCHED_NOT_IN_HEAP;
    int freq = t->frequency_sec > 0 ? t->frequency_sec : cfg->frequency_sec;
    x->period_ns = (int64_t)(freq > 0 ? freq : CMON_DEFAULT_FREQUENCY_SEC) * CMON_NS_PER_SEC;
    x->phase_ns = probe_sched_phase_ns(x->id, x->period_ns);
    const struct cmon_protocol_defaults *def = cmon_protocol_defaults(t->protocol);
    int checks = cfg->checks_per_round > 0 ? cfg->checks_per_round : def->checks_per_round;
    x->checks = (uint16_t)(checks > 1000 ? 1000 : checks);
    struct probe_target *pt = &x->target;
    pt->proto = t->protocol;
    pt->ip_pref = cfg->ip_pref;
    pt->timeout_ms = (uint32_t)(cfg->timeout_ms > 0 ? cfg->timeout_ms : def->timeout_ms);
    pt->port = (uint16_t)(t->port > 0 ? t->port : 0);
    if (http) {
        char host[256];
        uint16_t port;
        enum cmon_err err = probe_url_host(t->target, host, sizeof host, &port, eb);
        if (err != CMON_OK) {
            test_free(x);
            return err;
        }
        pt->host = strdup(host);
        pt->url = strdup(t->target);
        pt->port = port;
        pt->http = http_spec_from(cfg, &ok);
        ok = ok && pt->url;
    } else {
        pt->host = strdup(t->target);
    }
    if (!ok || !pt->host) {
        test_free(x);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    *out = x;
    return CMON_OK;
}

static void test_unschedule(struct probe_sched *s, struct sched_test *t, struct sched_test **link)
{
    *link = t->hnext;
    s->n_tests--;
    heap_remove(s, &t->ev);
    t->removed = true;
    test_unref(t);
}

enum cmon_err probe_sched_put(struct probe_sched *s, const struct cmon_test *t,
                              const struct cmon_test_config *cfg, struct cmon_errbuf *eb)
{
    if (s->closing)
        return cmon_fail(eb, CMON_ERR_INVALID, "scheduler is closing");
    struct sched_test *x;
    enum cmon_err err = test_build(s, t, cfg, &x, eb);
    if (err != CMON_OK)
        return err;
    struct sched_test **link, *old = test_find(s, x->id, &link);
    /* Everything that can fail comes before the old test is touched, so a
     * failed put leaves it scheduled as it was.  (grow_buckets moves the
     * tests, and link with them: only when there is no old test.) */
    if ((!old && !grow_buckets(s)) || !heap_reserve(s)) {
        test_free(x);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    x->ev.at = first_round_mono(s, x);
    if (old) {
        /* same id: same phase; keep the round already planned if the period holds */
        if (old->period_ns == x->period_ns && old->ev.heap_idx != SCHED_NOT_IN_HEAP)
            x->ev.at = old->ev.at;
        heap_remove(s, &old->ev);
        *link = old->hnext;
        s->n_tests--;
        test_unref(old); /* a running round keeps it alive and still reports */
    }
    heap_insert(s, &x->ev);
    struct sched_test **head = bucket_of(s, x->id);
    x->s = s;
    x->hnext = *head;
    *head = x;
    s->n_tests++;
    rearm(s);
    return CMON_OK;
}

/* --- checks in flight --- */

/* Room for n more checks of protocol p: within the descriptors and the
 * protocol's own bound. */
static bool room_for(const struct probe_sched *s, enum cmon_protocol p, uint32_t n)
{
    const struct probe_ops *ops = probe_ops_of(p);
    if (!ops)
        return true;
    if (ops->fds_per_check &&
        (uint64_t)s->fds + (uint64_t)n * ops->fds_per_check > s->st.max_fds)
        return false;
    return !ops->max_inflight || (uint64_t)s->inflight[p] + n <= ops->max_inflight;
}

static uint64_t committed(const struct probe_sched *s)
{
    uint64_t n = s->pending;
    for (size_t p = 0; p < CMON_N_PROTOCOLS; p++)
        n += s->inflight[p];
    return n;
}

/* A new round of n checks fits the window (an idle loop takes any round). */
static bool window_room(const struct probe_sched *s, uint32_t n)
{
    uint64_t c = committed(s);
    return c == 0 || c + n <= s->window;
}

/* Once per SCHED_ADJUST_NS: the launch rate's moving average, and the
 * window from it. */
static void window_adjust(struct probe_sched *s, int64_t now)
{
    if (now < s->adjust_at)
        return;
    int64_t span = now - s->adjust_at + SCHED_ADJUST_NS;
    if (s->adjust_at && span > 0) {
        double r = (double)s->launches * CMON_NS_PER_SEC / (double)span;
        s->rate = 0.7 * s->rate + 0.3 * r;
    }
    double w = s->rate * SCHED_HORIZON_MS / 1000;
    s->window = w > SCHED_WINDOW_MIN ? (uint64_t)w : SCHED_WINDOW_MIN;
    s->launches = 0;
    s->adjust_at = now + SCHED_ADJUST_NS;
}

/* The round launches no more: its checks not launched leave the window. */
static void round_shrink(struct probe_sched *s, struct sched_round *r)
{
    s->pending -= r->n - r->launched;
    r->n = r->launched;
}

static void inflight_change(struct probe_sched *s, enum cmon_protocol p, int delta)
{
    const struct probe_ops *ops = probe_ops_of(p);
    s->inflight[p] = (uint32_t)((int64_t)s->inflight[p] + delta);
    if (ops)
        s->fds = (uint32_t)((int64_t)s->fds + delta * (int64_t)ops->fds_per_check);
}

/* --- rounds --- */

static void maybe_free_sched(struct probe_sched *s);

static void round_finish(struct sched_round *r)
{
    struct probe_sched *s = r->test->s;
    if (!r->test->removed && !s->closing && s->o.on_result) {
        struct cmon_round_result res;
        memset(&res, 0, sizeof res);
        snprintf(res.test_id, sizeof res.test_id, "%s", r->test->id);
        res.start_ns = r->start_ns;
        probe_round_finish(&r->acc, &res);
        s->o.on_result(s->o.arg, &res);
    }
    probe_round_free(&r->acc);
    test_unref(r->test);
    free(r);
    s->n_rounds--;
    maybe_free_sched(s);
}

static void round_maybe_finish(struct sched_round *r)
{
    if (r->launched == r->n && r->done == r->launched)
        round_finish(r);
}

static void check_done(void *arg, const struct probe_check_result *res)
{
    struct sched_slot *slot = arg;
    struct sched_round *r = slot->round;
    inflight_change(r->test->s, r->test->target.proto, -1);
    probe_round_add(&r->acc, slot->seq, res);
    r->done++;
    round_maybe_finish(r);
}

static void round_list(struct sched_round *r)
{
    if (r->listed)
        return;
    r->tnext = r->test->pending;
    r->test->pending = r;
    r->listed = true;
}

static void round_unlist(struct sched_round *r)
{
    if (!r->listed)
        return;
    struct sched_round **pp = &r->test->pending;
    while (*pp && *pp != r)
        pp = &(*pp)->tnext;
    if (*pp)
        *pp = r->tnext;
    r->listed = false;
}

/* No more launches for this round: it ends when its checks come back. */
static void round_stop_launching(struct probe_sched *s, struct sched_round *r)
{
    heap_remove(s, &r->ev);
    round_unlist(r);
    round_shrink(s, r);
    round_maybe_finish(r);
}

/* Launch check r->launched; returns false when the round is gone. */
static bool round_launch(struct probe_sched *s, struct sched_round *r)
{
    enum cmon_protocol p = r->test->target.proto;
    if (r->launched > 0 && !room_for(s, p, 1)) {
        /* other rounds took the descriptors since this one was admitted:
         * it ends with the checks it made rather than fail one with EMFILE */
        s->st.checks_cut += r->n - r->launched;
        round_shrink(s, r);
        round_unlist(r);
        round_maybe_finish(r);
        return false;
    }
    uint32_t i = r->launched++;
    s->pending--;
    s->launches++;
    r->slots[i] = (struct sched_slot){r, i};
    enum cmon_err err = probe_check_start(s->eng, &r->test->target, check_done, &r->slots[i]);
    if (err == CMON_OK)
        inflight_change(s, p, +1);
    else { /* could not even start: a failed check, said why */
        struct probe_check_result res;
        memset(&res, 0, sizeof res);
        res.diag = CMON_DIAG_SOCKET_ERROR;
        res.dns_ms = res.connect_ms = res.tls_ms = res.first_byte_ms = -1;
        snprintf(res.detail, sizeof res.detail, "cannot start check: %s", cmon_strerror(err));
        probe_round_add(&r->acc, i, &res);
        r->done++;
    }
    if (r->launched < r->n) {
        r->ev.at = r->start_mono + probe_sched_check_offset_ns(r->launched, r->n, s->o.spread_ms);
        if (heap_push(s, &r->ev)) {
            round_list(r);
            return true;
        }
        round_shrink(s, r); /* out of memory: end the round early */
    }
    round_unlist(r);
    round_maybe_finish(r);
    return false;
}

/* A round due at `at`, started now: stamped with the moment it was due; its
 * checks spread from now, so a late start is not a burst. */
static void round_start(struct probe_sched *s, struct sched_test *t, int64_t at, int64_t now)
{
    struct sched_round *r = calloc(1, sizeof *r + t->checks * sizeof r->slots[0]);
    if (!r || probe_round_init(&r->acc, t->checks) != CMON_OK) {
        free(r);
        cmon_warn(s->o.log, "round skipped: out of memory", "test=%s", t->id);
        return;
    }
    r->ev.kind = EV_ROUND;
    r->ev.heap_idx = SCHED_NOT_IN_HEAP;
    r->test = t;
    t->refs++;
    r->start_mono = now > at ? now : at;
    r->start_ns = wall_at(s, at);
    r->n = t->checks;
    s->pending += r->n;
    s->n_rounds++;
    s->st.rounds++;
    round_launch(s, r);
}

static void round_skip(struct probe_sched *s, const struct sched_test *t,
                       enum probe_sched_skip why)
{
    if (why == PROBE_SKIP_LATE)
        s->st.skipped_late++;
    else
        s->st.skipped_busy++;
    if (s->o.on_skip)
        s->o.on_skip(s->o.arg, t->id, why);
}

/* Returns true when it launched a check (or tried to). */
static bool run_event(struct probe_sched *s, struct sched_event *e, int64_t now)
{
    if (e->kind == EV_ROUND) {
        round_launch(s, (struct sched_round *)e);
        return true;
    }
    struct sched_test *t = (struct sched_test *)e;
    int64_t at = t->ev.at;
    t->ev.at = next_round_after(t, at, now);
    heap_push(s, &t->ev); /* before the round: the round's callbacks may touch the heap */
    if (now - at > s->max_late_ns)
        round_skip(s, t, PROBE_SKIP_LATE);
    else if (!room_for(s, t->target.proto, t->checks) || !window_room(s, t->checks))
        round_skip(s, t, PROBE_SKIP_BUSY);
    else {
        round_start(s, t, at, now);
        return true;
    }
    return false;
}

/* Run what is due, launching at most budget checks; when more is due, come
 * back from the check phase, after the loop has polled (libuv 1.44 would run
 * a timer restarted at 0 again before polling; one at 1 ms idles the loop).
 * Skips cost no budget. */
static void run_due(struct probe_sched *s, uint32_t budget)
{
    int64_t now = sched_mono(s);
    window_adjust(s, now);
    while (!s->closing && s->heap_n && s->heap[0]->at <= now) {
        if (budget == 0) {
            uv_timer_stop(&s->timer);
            uv_idle_start(&s->idle, idle_cb);
            uv_check_start(&s->check, check_cb);
            return;
        }
        struct sched_event *e = s->heap[0];
        heap_remove(s, e);
        budget -= run_event(s, e, now);
    }
    rearm(s);
}

void probe_sched_run_due(struct probe_sched *s)
{
    run_due(s, UINT32_MAX);
}

void probe_sched_stats(const struct probe_sched *s, struct probe_sched_stats *out)
{
    *out = s->st;
    out->inflight = 0;
    for (size_t p = 0; p < CMON_N_PROTOCOLS; p++)
        out->inflight += s->inflight[p];
    out->fds = s->fds;
    out->committed = committed(s);
    out->window = s->window;
}

bool probe_sched_remove(struct probe_sched *s, const char *test_id)
{
    struct sched_test **link, *t = test_find(s, test_id, &link);
    if (!t)
        return false;
    /* rounds of this test stop launching (and report nothing) */
    t->removed = true;
    while (t->pending)
        round_stop_launching(s, t->pending);
    test_unschedule(s, t, link);
    rearm(s);
    return true;
}

size_t probe_sched_count(const struct probe_sched *s)
{
    return s->n_tests;
}

/* The soft RLIMIT_NOFILE less what the rest of the process needs. */
static uint32_t default_max_fds(void)
{
    uint64_t n = cmon_fd_budget(cmon_nofile_soft(), PROBE_SCHED_FD_HEADROOM);
    return n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
}

enum cmon_err probe_sched_new(uv_loop_t *loop, struct probe_engine *eng,
                              const struct probe_sched_opts *opts, struct probe_sched **out,
                              struct cmon_errbuf *eb)
{
    struct probe_sched *s = calloc(1, sizeof *s);
    if (!s || !(s->buckets = calloc(256, sizeof *s->buckets))) {
        free(s);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    s->n_buckets = 256;
    s->loop = loop;
    s->eng = eng;
    if (opts)
        s->o = *opts;
    if (!s->o.spread_ms)
        s->o.spread_ms = SCHED_DEFAULT_SPREAD_MS;
    s->max_late_ns = (int64_t)(s->o.max_late_ms ? s->o.max_late_ms : SCHED_DEFAULT_MAX_LATE_MS) *
                     CMON_NS_PER_MS;
    s->st.max_fds = s->o.max_fds ? s->o.max_fds : default_max_fds();
    s->window = SCHED_WINDOW_MIN;
    uv_timer_init(loop, &s->timer);
    uv_idle_init(loop, &s->idle);
    uv_check_init(loop, &s->check);
    s->timer.data = s->idle.data = s->check.data = s;
    s->handles = 3;
    *out = s;
    return CMON_OK;
}

static void maybe_free_sched(struct probe_sched *s)
{
    if (!s->closing || s->handles || s->n_rounds)
        return;
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s->heap);
    free(s->buckets);
    free(s);
    if (done)
        done(arg);
}

static void sched_handle_closed(uv_handle_t *h)
{
    struct probe_sched *s = h->data;
    s->handles--;
    maybe_free_sched(s);
}

void probe_sched_close(struct probe_sched *s, void (*done)(void *arg), void *arg)
{
    if (s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    while (s->heap_n) { /* pending launches of running rounds: stop them */
        struct sched_event *e = s->heap[0];
        if (e->kind == EV_ROUND)
            round_stop_launching(s, (struct sched_round *)e);
        else
            heap_remove(s, e);
    }
    for (size_t i = 0; i < s->n_buckets; i++) {
        while (s->buckets[i])
            test_unschedule(s, s->buckets[i], &s->buckets[i]);
    }
    uv_close((uv_handle_t *)&s->timer, sched_handle_closed);
    uv_close((uv_handle_t *)&s->idle, sched_handle_closed);
    uv_close((uv_handle_t *)&s->check, sched_handle_closed);
}
