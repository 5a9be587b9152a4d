/* views_at.c: the views as they stood at a past moment (`at=` on the tests,
 * roll-up and monitor views, docs/api.md "Going back in time").  Each test
 * the filters match gets the state and reason of its last stored state
 * change at or before that moment, and the figures of its last round then
 * (within three test periods, at least 5 minutes: an older round is no
 * longer "the latest").  The state filter applies to those states.
 * Tests are copied out of the store's iteration first, so the per-test
 * queries never run inside it.  Those are tests_last calls of up to
 * AT_CHUNK tests each: per test one index lookup for its state change and
 * one for its round, so a request costs the number of tests, not their
 * history.  Per request; no shared state. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "model/diag.h"
#include "server/server_internal.h"

#define AT_MIN_LOOKBACK_NS (300 * CMON_NS_PER_SEC)
#define AT_CHUNK 1000 /* tests per tests_last call */

/* The text fields of a store_test, copied with it (every one: a pointer
 * left out would point into the store's row after the query).  The last
 * three are rewritten for the moment asked (STR_REASON...). */
static const size_t test_strs[] = {
    offsetof(struct store_test, source_resource_id),
    offsetof(struct store_test, destination_resource_id),
    offsetof(struct store_test, id),
    offsetof(struct store_test, monitor),
    offsetof(struct store_test, group),
    offsetof(struct store_test, source),
    offsetof(struct store_test, source_address),
    offsetof(struct store_test, source_type),
    offsetof(struct store_test, destination),
    offsetof(struct store_test, destination_address),
    offsetof(struct store_test, destination_type),
    offsetof(struct store_test, config),
    offsetof(struct store_test, target),
    offsetof(struct store_test, reason),
    offsetof(struct store_test, diagnostic),
    offsetof(struct store_test, detail),
};
#define N_TEST_STRS (sizeof test_strs / sizeof test_strs[0])
enum { STR_REASON = N_TEST_STRS - 3, STR_DIAGNOSTIC, STR_DETAIL }; /* the last three */

static const char **str_at(struct store_test *t, size_t i)
{
    return (const char **)((char *)t + test_strs[i]);
}

struct at_tests {
    struct store_test *items;
    size_t n, cap;
    bool nomem;
};

static int copy_test(void *arg, const struct store_test *t)
{
    struct at_tests *a = arg;
    if (!cmon_grow(&a->items, &a->cap, a->n + 1, sizeof *a->items)) {
        a->nomem = true;
        return 1;
    }
    struct store_test *c = &a->items[a->n++];
    *c = *t;
    for (size_t i = 0; i < N_TEST_STRS; i++) {
        const char *s = *str_at(c, i);
        *str_at(c, i) = s ? strdup(s) : NULL;
        a->nomem |= s && !*str_at(c, i);
    }
    return a->nomem;
}

static void free_tests(struct at_tests *a)
{
    for (size_t k = 0; k < a->n; k++) {
        for (size_t i = 0; i < N_TEST_STRS; i++)
            free((char *)*str_at(&a->items[k], i));
    }
    free(a->items);
}

static void set_str(struct store_test *t, size_t i, const char *s)
{
    free((char *)*str_at(t, i));
    *str_at(t, i) = strdup(s);
}

/* Tests of one tests_last call, and the moment asked. */
struct then {
    struct store_test *tests;
    int64_t at_ns;
};

/* The i-th test as it stood then: c its last state change (NULL: none),
 * r its last round in the window (NULL: none). */
static int test_then(void *arg, size_t i, const struct store_state_change *c,
                     const struct store_result *r)
{
    const struct then *th = arg;
    struct store_test *t = &th->tests[i];
    static const struct cmon_round_result none = {0};
    const struct cmon_round_result *rr = r ? &r->r : &none;
    t->state = c ? c->to : CMON_STATE_INDETERMINATE;
    t->state_since_ns = c ? c->at_ns : th->at_ns;
    set_str(t, STR_REASON, c ? (c->reason ? c->reason : "") : "no state recorded by then");
    set_str(t, STR_DIAGNOSTIC, r ? cmon_diag_code(rr->diagnostic) : "");
    set_str(t, STR_DETAIL, rr->detail);
    t->has_result = r;
    t->last_result_ns = rr->start_ns;
    t->checks_failed_pct =
        rr->checks_total ? 100.0 * rr->checks_failed / (double)rr->checks_total : 0;
    t->has_rtt = r && rr->has_rtt;
    t->rtt_ms = rr->rtt_avg_ms;
    return 0;
}

/* Tests [from, from + n) of a as they stood at at_ns, in one tests_last:
 * each test's rounds within three periods, at least 5 minutes. */
static enum cmon_err tests_then(struct store *s, struct at_tests *a, size_t from, size_t n,
                                int64_t at_ns, struct cmon_errbuf *eb)
{
    struct store_last_query *q = calloc(n, sizeof *q);
    if (!q)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        const struct store_test *t = &a->items[from + k];
        int64_t back = 3 * (int64_t)t->frequency_sec * CMON_NS_PER_SEC;
        q[k] = (struct store_last_query){
            t->id, at_ns - (back > AT_MIN_LOOKBACK_NS ? back : AT_MIN_LOOKBACK_NS)};
    }
    struct then th = {&a->items[from], at_ns};
    enum cmon_err err = s->ops->tests_last(s, q, n, at_ns + 1, test_then, &th, eb);
    free(q);
    return err;
}

bool views_at(struct req *r, int64_t *at_ns)
{
    if (!req_time_arg(r, "at", 0, at_ns))
        return false;
    if (*at_ns >= cmon_wall_ns())
        *at_ns = 0; /* now or later: the live view */
    return true;
}

enum cmon_err views_test_query(struct store *s, const struct store_test_filter *f, int64_t at_ns,
                               store_test_cb cb, void *arg, struct cmon_errbuf *eb)
{
    if (!at_ns)
        return s->ops->test_query(s, f, cb, arg, eb);
    struct store_test_filter all = f ? *f : (struct store_test_filter){0};
    all.has_state = false; /* the state then, below */
    struct at_tests a = {0};
    enum cmon_err err = s->ops->test_query(s, &all, copy_test, &a, eb);
    if (!err && a.nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !err && k < a.n; k += AT_CHUNK)
        err = tests_then(s, &a, k, a.n - k < AT_CHUNK ? a.n - k : AT_CHUNK, at_ns, eb);
    for (size_t k = 0; !err && k < a.n; k++) {
        struct store_test *t = &a.items[k];
        if (!(t->reason && t->diagnostic && t->detail))
            err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        if (err || (f && f->has_state && t->state != f->state))
            continue;
        if (cb(arg, t))
            break;
    }
    free_tests(&a);
    return err;
}
