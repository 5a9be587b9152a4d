/* test_agent_registry.c: the evaluator's agent_stopped rule on a real store
 * (a registered agent silent for more than 3 heartbeats makes its tests
 * Indeterminate), on SQLite or, with CMON_TEST_STORE_URL, PostgreSQL.  The
 * remote-agent store ops themselves are in the shared store suite
 * (test_store.c), which runs on every backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/evaluator.h"
#include "store/store.h"
#include "test_store_url.h"
#include "test_support.h"

#define T0 1767323040000000000LL
#define SEC CMON_NS_PER_SEC

struct fixture {
    char dir[64];
    char url[256];
    struct store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(
        test_store_url("/tmp/cmg-reg-XXXXXX", f->dir, sizeof f->dir, f->url, sizeof f->url), 0);
    struct cmon_errbuf eb;
    assert_int_equal(store_open(f->url, STORE_READ_WRITE, &f->s, &eb), CMON_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->s);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

struct verdict {
    enum cmon_state st;
    char reason[320];
};

static int grab(void *arg, const struct store_test *t)
{
    struct verdict *v = arg;
    v->st = t->state;
    snprintf(v->reason, sizeof v->reason, "%s", t->reason);
    return 0;
}

/* by_ids: the writer's per-transaction evaluation (agents looked up one by
 * one), else its sweep of every test (agents loaded at once). */
static void eval_at(struct store *s, int64_t now, struct verdict *v, bool by_ids)
{
    struct cmon_errbuf eb;
    struct store_test_filter f = {.test_id = "00112233445566ff"};
    const char *ids[] = {"00112233445566ff"};
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    if (by_ids)
        assert_int_equal(eval_test_ids(s, ids, 1, now, NULL, &eb), CMON_OK);
    else
        assert_int_equal(eval_tests(s, NULL, now, NULL, &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
    assert_int_equal(s->ops->test_query(s, &f, grab, v, &eb), CMON_OK);
}

/* One test sourced at agent "c": Indeterminate agent_stopped once "c" is
 * silent for more than 3 heartbeats, Pass again when it reports. */
static void agent_stopped_state(void **state, bool by_ids)
{
    struct store *s = ((struct fixture *)*state)->s;
    struct cmon_errbuf eb;
    struct store_test t = {.id = "00112233445566ff",
                           .monitor = "m",
                           .group = "g",
                           .source = "c",
                           .source_address = "c",
                           .source_type = "Agent",
                           .destination = "d",
                           .destination_address = "198.18.2.2",
                           .destination_type = "ExternalAddress",
                           .config = "tcp",
                           .protocol = CMON_PROTO_TCP,
                           .target = "198.18.2.2",
                           .port = 5432,
                           .number = 1,
                           .frequency_sec = 30};
    bool created;
    assert_int_equal(s->ops->monitor_put(s, "m", "{}", &t, 1, NULL, 0, T0, &created, &eb), CMON_OK);
    assert_int_equal(s->ops->monitor_set_running(s, "m", true, T0, &eb), CMON_OK);
    int64_t next;
    assert_int_equal(s->ops->agent_register(s, "c", "hc", "0.1", "[]", "", 10, T0, &next, &eb),
                     CMON_OK);
    struct store_result r = {.agent = "c",
                             .r = {.test_id = "00112233445566ff",
                                   .start_ns = T0 + SEC,
                                   .checks_total = 10,
                                   .has_rtt = true,
                                   .rtt_min_ms = 1,
                                   .rtt_avg_ms = 1,
                                   .rtt_max_ms = 1}};
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    assert_int_equal(s->ops->ingest_result(s, &r, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "c", T0 + 2 * SEC, &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
    struct verdict v;
    eval_at(s, T0 + 32 * SEC, &v, by_ids); /* 30 s silent: not yet */
    assert_int_equal(v.st, CMON_STATE_PASS);
    eval_at(s, T0 + 33 * SEC, &v, by_ids); /* 31 s: 3 heartbeats missed */
    assert_int_equal(v.st, CMON_STATE_INDETERMINATE);
    assert_string_equal(v.reason, "agent_stopped (the source agent stopped reporting)");
    assert_int_equal(s->ops->agent_heartbeat(s, "c", "0.1", "[]", "", "{}", 10, T0 + 40 * SEC, &eb),
                     CMON_OK);
    eval_at(s, T0 + 41 * SEC, &v, by_ids);
    assert_int_equal(v.st, CMON_STATE_PASS);
    /* silent again, then results and the evaluation in one transaction (as
     * the writer does): the contact counts before it is committed */
    eval_at(s, T0 + 80 * SEC, &v, by_ids);
    assert_int_equal(v.st, CMON_STATE_INDETERMINATE);
    const char *ids[] = {"00112233445566ff"};
    r.r.start_ns = T0 + 85 * SEC;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    assert_int_equal(s->ops->ingest_result(s, &r, &eb), CMON_OK);
    assert_int_equal(s->ops->agent_seen(s, "c", T0 + 86 * SEC, &eb), CMON_OK);
    if (by_ids)
        assert_int_equal(eval_test_ids(s, ids, 1, T0 + 86 * SEC, NULL, &eb), CMON_OK);
    else
        assert_int_equal(eval_tests(s, NULL, T0 + 86 * SEC, NULL, &eb), CMON_OK);
    assert_int_equal(s->ops->tx_commit(s, &eb), CMON_OK);
    struct store_test_filter f = {.test_id = ids[0]};
    assert_int_equal(s->ops->test_query(s, &f, grab, &v, &eb), CMON_OK);
    assert_int_equal(v.st, CMON_STATE_PASS);
}

static void test_agent_stopped_sweep(void **state)
{
    agent_stopped_state(state, false);
}

static void test_agent_stopped_by_ids(void **state)
{
    agent_stopped_state(state, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agent_stopped_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_stopped_by_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
