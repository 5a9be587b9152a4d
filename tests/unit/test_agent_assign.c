/* test_agent_assign.c: which tests an agent puts on its scheduler (the
 * shared assignment code of `cmon agent` and the embedded agent): its own
 * sources by name, alias and agent list, never a disabled group or another
 * agent's source; a re-assignment removes what is gone and keeps the rest;
 * an invalid monitor leaves the current set alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/assign.h"
#include "probe/probe.h"
#include "probe/scheduler.h"

/* One monitor's tests for this agent into the set being built, as the
 * runtime's plan hands them to a loop (runtime.c plan_take, one loop). */
static enum cmon_err agent_assign_monitor(struct agent_assign *as, const char *name,
                                          const char *body, size_t *problems)
{
    struct cmon_monitor *m;
    struct cmon_test *tests;
    size_t n;
    enum cmon_err err = agent_assign_parse(name, body, &m, &tests, &n, problems);
    if (err != CMON_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        if (agent_assign_wants(as, m, &tests[i]))
            agent_assign_put(as, &tests[i], &m->configs[tests[i].config]);
    }
    cmon_tests_free(tests, n);
    cmon_monitor_free(m);
    return CMON_OK;
}

static const char MONITOR[] =
    "{\"endpoints\": ["
    " {\"name\": \"a1\", \"type\": \"Agent\", \"address\": \"agent-1\"},"
    " {\"name\": \"a2\", \"type\": \"Agent\", \"address\": \"agent-2\"},"
    " {\"name\": \"here\", \"type\": \"Agent\", \"address\": \"local\"},"
    " {\"name\": \"d1\", \"address\": \"127.0.0.1\"},"
    " {\"name\": \"d2\", \"address\": \"127.0.0.2\"}],"
    " \"testConfigurations\": [{\"name\": \"tcp\", \"protocol\": \"Tcp\", \"testFrequencySec\": 30,"
    "   \"tcpConfiguration\": {\"port\": 9, \"disableTraceRoute\": true}}],"
    " \"testGroups\": ["
    "  {\"name\": \"mine\", \"sources\": [\"a1\"], \"destinations\": [%s], \"testConfigurations\": [\"tcp\"]},"
    "  {\"name\": \"theirs\", \"sources\": [\"a2\"], \"destinations\": [\"d1\"], \"testConfigurations\": [\"tcp\"]},"
    "  {\"name\": \"off\", \"disable\": true, \"sources\": [\"a1\"], \"destinations\": [\"d1\"],"
    "   \"testConfigurations\": [\"tcp\"]},"
    "  {\"name\": \"alias\", \"sources\": [\"here\"], \"destinations\": [\"d2\"], \"testConfigurations\": [\"tcp\"]}]}";

struct fixture {
    uv_loop_t loop;
    struct probe_engine *eng;
    struct probe_sched *sched;
    int closed;
};

static void on_result(void *arg, const struct cmon_round_result *r)
{
    (void)arg;
    (void)r;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct cmon_errbuf eb;
    uv_loop_init(&f->loop);
    if (probe_engine_new(&f->loop, NULL, &f->eng, &eb) != CMON_OK)
        return -1;
    struct probe_sched_opts o = {.on_result = on_result, .arg = f};
    if (probe_sched_new(&f->loop, f->eng, &o, &f->sched, &eb) != CMON_OK)
        return -1;
    *state = f;
    return 0;
}

static void closed_cb(void *arg)
{
    ((struct fixture *)arg)->closed++;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    probe_sched_close(f->sched, closed_cb, f);
    probe_engine_close(f->eng, closed_cb, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->closed, 2);
    uv_loop_close(&f->loop);
    free(f);
    return 0;
}

static char *monitor(const char *mine_destinations)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, MONITOR, mine_destinations);
    return buf;
}

static void own_tests_only(void **state)
{
    struct fixture *f = *state;
    struct agent_assign as;
    size_t problems = 99;
    agent_assign_init(&as, f->sched, NULL, NULL, "agent-1", "local");
    assert_int_equal(agent_assign_monitor(&as, "edge", monitor("\"d1\", \"d2\""), &problems),
                     CMON_OK);
    assert_int_equal(problems, 0);
    /* mine: d1 and d2; alias: d2 through "local"; not theirs, not off */
    assert_int_equal(agent_assign_commit(&as), 3);
    assert_int_equal(probe_sched_count(f->sched), 3);

    /* d2 leaves group mine: one test goes, the other two stay */
    assert_int_equal(agent_assign_monitor(&as, "edge", monitor("\"d1\""), &problems), CMON_OK);
    assert_int_equal(agent_assign_commit(&as), 2);
    assert_int_equal(probe_sched_count(f->sched), 2);

    /* a monitor that does not validate adds nothing; aborting keeps the set */
    assert_int_equal(agent_assign_monitor(&as, "bad", "{\"endpoints\": 3}", &problems),
                     CMON_ERR_INVALID);
    assert_true(problems > 0);
    agent_assign_abort(&as);
    assert_int_equal(probe_sched_count(f->sched), 2);
    assert_int_equal(as.n, 2);

    /* nothing assigned any more: everything leaves the scheduler */
    assert_int_equal(agent_assign_commit(&as), 0);
    assert_int_equal(probe_sched_count(f->sched), 0);
    agent_assign_free(&as);
}

static void other_agent_and_no_alias(void **state)
{
    struct fixture *f = *state;
    struct agent_assign as;
    size_t problems;
    agent_assign_init(&as, f->sched, NULL, NULL, "agent-2", "");
    assert_int_equal(agent_assign_monitor(&as, "edge", monitor("\"d1\", \"d2\""), &problems),
                     CMON_OK);
    assert_int_equal(agent_assign_commit(&as), 1); /* theirs only */
    assert_int_equal(probe_sched_count(f->sched), 1);
    /* the same monitor again: the test stays, nothing is added twice */
    assert_int_equal(agent_assign_monitor(&as, "edge", monitor("\"d1\", \"d2\""), &problems),
                     CMON_OK);
    assert_int_equal(agent_assign_commit(&as), 1);
    assert_int_equal(probe_sched_count(f->sched), 1);
    agent_assign_free(&as);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(own_tests_only, setup, teardown),
        cmocka_unit_test_setup_teardown(other_agent_and_no_alias, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
