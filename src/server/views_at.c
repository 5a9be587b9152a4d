/* views_at.c: the views as they stood at a past moment (`at=` on the tests,
 * roll-up and monitor views, docs/api.md "Going back in time").  Each test
 * the filters match gets the state and reason of its last stored state
 * change at or before that moment, and the figures of its last round then
 * (within three test periods, at least 5 minutes: an older round is no
 * longer "the latest").  The state filter applies to those states.
 * Tests are copied out of the store's iteration first, so the per-test
 * queries never run inside it.  Per request; no shared state. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "model/diag.h"
#include "server/server_internal.h"

#define AT_MIN_LOOKBACK_NS (300 * CMON_NS_PER_SEC)

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

struct last_change {
    bool found;
    enum cmon_state to;
    int64_t at_ns;
    char reason[320];
};

static int keep_change(void *arg, const struct store_state_change *c)
{
    struct last_change *l = arg;
    l->found = true;
    l->to = c->to;
    l->at_ns = c->at_ns;
    snprintf(l->reason, sizeof l->reason, "%s", c->reason ? c->reason : "");
    return 0;
}

struct last_round {
    bool found;
    struct cmon_round_result r;
};

static int keep_round(void *arg, const struct store_result *sr)
{
    struct last_round *l = arg;
    l->found = true;
    l->r = sr->r;
    return 0;
}

static void set_str(struct store_test *t, size_t i, const char *s)
{
    free((char *)*str_at(t, i));
    *str_at(t, i) = strdup(s);
}

/* The test as it stood at at_ns. */
static enum cmon_err test_then(struct store *s, struct store_test *t, int64_t at_ns,
                               struct cmon_errbuf *eb)
{
    struct last_change lc = {0};
    struct last_round lr = {0};
    int64_t back = 3 * (int64_t)t->frequency_sec * CMON_NS_PER_SEC;
    enum cmon_err err = s->ops->state_changes(s, t->id, 0, at_ns + 1, keep_change, &lc, eb);
    if (!err)
        err = s->ops->result_query(s, t->id,
                                   at_ns - (back > AT_MIN_LOOKBACK_NS ? back : AT_MIN_LOOKBACK_NS),
                                   at_ns + 1, 100000, keep_round, &lr, eb);
    if (err)
        return err;
    t->state = lc.found ? lc.to : CMON_STATE_INDETERMINATE;
    t->state_since_ns = lc.found ? lc.at_ns : at_ns;
    set_str(t, STR_REASON, lc.found ? lc.reason : "no state recorded by then");
    set_str(t, STR_DIAGNOSTIC, lr.found ? cmon_diag_code(lr.r.diagnostic) : "");
    set_str(t, STR_DETAIL, lr.found ? lr.r.detail : "");
    t->has_result = lr.found;
    t->last_result_ns = lr.r.start_ns;
    t->checks_failed_pct =
        lr.r.checks_total ? 100.0 * lr.r.checks_failed / (double)lr.r.checks_total : 0;
    t->has_rtt = lr.found && lr.r.has_rtt;
    t->rtt_ms = lr.r.rtt_avg_ms;
    return CMON_OK;
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
    for (size_t k = 0; !err && k < a.n; k++) {
        struct store_test *t = &a.items[k];
        err = test_then(s, t, at_ns, eb);
        if (!err && !(t->reason && t->diagnostic && t->detail))
            err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        if (err || (f && f->has_state && t->state != f->state))
            continue;
        if (cb(arg, t))
            break;
    }
    free_tests(&a);
    return err;
}
