/* test_agent_runtime.c: the agent runtime's sharding (runtime.h) -- with
 * several probe loops every test of this agent is on exactly one loop, the
 * one agent_shard_of names; a reload (same monitor, one more, one fewer)
 * keeps each remaining test on its loop, adds the new ones and removes the
 * gone ones; every loop gets a share.  Real loops, engines and schedulers;
 * the tests run every 1800 s towards 127.0.0.0/8 port 9, so none fires. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/runtime.h"
#include "core/clock.h"
#include "model/monitor.h"

#define LOOPS 3
#define DESTS 40

static void on_round(void *arg, const struct cmon_round_result *r)
{
    (void)arg, (void)r;
}

static void on_path(void *arg, const char *id, int64_t t, const struct cmon_path *p)
{
    (void)arg, (void)id, (void)t, (void)p;
}

/* A monitor with n destinations 127.0.<base>.i, one TCP test each from "me". */
static char *monitor_text(int base, int n)
{
    static char buf[16384];
    size_t o = (size_t)snprintf(buf, sizeof buf,
                                "{\"endpoints\": [{\"name\": \"me\", \"type\": \"Agent\", "
                                "\"address\": \"agent-1\"}");
    for (int i = 0; i < n; i++)
        o +=
            (size_t)snprintf(buf + o, sizeof buf - o,
                             ", {\"name\": \"d%d\", \"address\": \"127.0.%d.%d\"}", i, base, i + 1);
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "], \"testConfigurations\": [{\"name\": \"tcp\", \"protocol\": \"Tcp\","
                          " \"testFrequencySec\": 1800, \"tcpConfiguration\": {\"port\": 9,"
                          " \"disableTraceRoute\": true}}], \"testGroups\": [{\"name\": \"g\","
                          " \"sources\": [\"me\"], \"destinations\": [");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"d%d\"", i ? ", " : "", i);
    snprintf(buf + o, sizeof buf - o, "], \"testConfigurations\": [\"tcp\"]}]}");
    return buf;
}

/* The test ids of monitor name as the server expands them. */
static size_t test_ids(const char *name, const char *text, char ids[][CMON_TEST_ID_LEN + 1],
                       size_t cap)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, strlen(text), name, &m, &probs), CMON_OK);
    struct cmon_test *tests = NULL;
    size_t n = 0;
    assert_int_equal(cmon_monitor_expand(m, &tests, &n), CMON_OK);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        snprintf(ids[i], sizeof ids[i], "%s", tests[i].id);
    cmon_tests_free(tests, n);
    cmon_monitor_free(m);
    return n;
}

/* Hand the runtime these monitors and wait until every loop applied them. */
static void assign(struct agent_runtime *rt, const char **names, const char **texts, size_t n)
{
    uint64_t before = agent_runtime_applied(rt);
    struct agent_assignment *set = agent_assignment_new();
    assert_non_null(set);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(agent_assignment_add(set, names[i], texts[i]), CMON_OK);
    agent_runtime_assign(rt, set);
    int64_t deadline = cmon_mono_ns() + 30 * CMON_NS_PER_SEC;
    while (agent_runtime_applied(rt) == before && cmon_mono_ns() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    assert_int_equal(agent_runtime_applied(rt), before + 1);
}

static char a_ids[DESTS][CMON_TEST_ID_LEN + 1], b_ids[DESTS][CMON_TEST_ID_LEN + 1];

/* Each id on exactly the loop agent_shard_of names; every loop used. */
static void check_sharded(struct agent_runtime *rt, char ids[][CMON_TEST_ID_LEN + 1], size_t n,
                          int *where)
{
    int per_loop[LOOPS] = {0};
    for (size_t i = 0; i < n; i++) {
        int l = agent_runtime_loop_of(rt, ids[i]);
        assert_int_equal(l, (int)agent_shard_of(ids[i], LOOPS));
        per_loop[l]++;
        if (where)
            where[i] = l;
    }
    for (int l = 0; l < LOOPS; l++)
        assert_true(per_loop[l] > 0);
}

static void every_test_on_one_loop_across_reloads(void **state)
{
    (void)state;
    struct agent_runtime *rt = NULL;
    struct cmon_errbuf eb;
    struct agent_runtime_opts o = {
        .loops = LOOPS, .name = "agent-1", .sink = {.round = on_round, .path = on_path}};
    assert_int_equal(agent_runtime_start(&o, &rt, &eb), CMON_OK);
    assert_int_equal(agent_runtime_loops(rt), LOOPS);

    char a_text[16384], b_text[16384];
    snprintf(a_text, sizeof a_text, "%s", monitor_text(1, DESTS));
    snprintf(b_text, sizeof b_text, "%s", monitor_text(2, DESTS));
    size_t na = test_ids("a", a_text, a_ids, DESTS), nb = test_ids("b", b_text, b_ids, DESTS);
    assert_int_equal(na, DESTS);

    const char *names[] = {"a", "b"}, *texts[] = {a_text, b_text};
    int where[DESTS], again[DESTS];
    assign(rt, names, texts, 1);
    check_sharded(rt, a_ids, na, where);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal(agent_runtime_loop_of(rt, b_ids[i]), -1);

    /* reload with one more monitor: a's tests stay where they were */
    assign(rt, names, texts, 2);
    check_sharded(rt, a_ids, na, again);
    assert_memory_equal(where, again, sizeof where);
    check_sharded(rt, b_ids, nb, NULL);

    /* reload without a: its tests leave every loop, b's stay */
    assign(rt, names + 1, texts + 1, 1);
    for (size_t i = 0; i < na; i++)
        assert_int_equal(agent_runtime_loop_of(rt, a_ids[i]), -1);
    check_sharded(rt, b_ids, nb, NULL);

    /* an empty set empties every loop */
    uint64_t before = agent_runtime_applied(rt);
    agent_runtime_assign(rt, NULL);
    int64_t deadline = cmon_mono_ns() + 30 * CMON_NS_PER_SEC;
    while (agent_runtime_applied(rt) == before && cmon_mono_ns() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal(agent_runtime_loop_of(rt, b_ids[i]), -1);
    agent_runtime_stop(rt);
}

/* The shard is a pure function of the id and the number of loops. */
static void shard_is_stable(void **state)
{
    (void)state;
    assert_int_equal(agent_shard_of("anything", 1), 0);
    assert_int_equal(agent_shard_of("anything", 0), 0);
    for (unsigned n = 2; n <= AGENT_MAX_LOOPS; n++) {
        unsigned s = agent_shard_of("0123456789abcdef", n);
        assert_true(s < n);
        assert_int_equal(agent_shard_of("0123456789abcdef", n), s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_test_on_one_loop_across_reloads),
        cmocka_unit_test(shard_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
