/* test_agent_tracer.c: when the agent traces a test's path -- on its first
 * round, when its state changes, and once per interval; never when the
 * configuration disables traceroute -- with real TCP traces on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "agent/tracer.h"

#define ONE_MIN (60LL * 1000000000LL)

struct fixture {
    uv_loop_t loop;
    struct probe_engine *eng;
    struct agent_tracer *tr;
    int paths;
    struct cmon_path last;
    char last_id[CMON_TEST_ID_LEN + 1];
    int64_t last_ns; /* the last path's stamp */
};

static void on_path(void *arg, const char *id, int64_t t, const struct cmon_path *p)
{
    struct fixture *f = arg;
    f->last_ns = t;
    f->paths++;
    f->last = *p;
    strcpy(f->last_id, id);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    struct probe_engine_opts eo = {0};
    struct cmon_errbuf eb;
    assert_int_equal(probe_engine_new(&f->loop, &eo, &f->eng, &eb), CMON_OK);
    struct agent_tracer_opts to = {.probes_per_hop = 2, .max_ttl = 4, .on_path = on_path, .arg = f};
    assert_int_equal(agent_tracer_new(f->eng, &to, &f->tr, &eb), CMON_OK);
    *state = f;
    return 0;
}

static void engine_closed(void *arg)
{
    (void)arg;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    agent_tracer_close(f->tr);
    probe_engine_close(f->eng, engine_closed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* A TCP test to a closed loopback port: its trace ends at hop 1 with the RST. */
static void put_test(struct fixture *f, const char *id, bool traceroute)
{
    struct cmon_test t = {
        .protocol = CMON_PROTO_TCP, .target = "127.0.0.1", .port = 9, .frequency_sec = 30};
    strcpy(t.id, id);
    struct cmon_test_config c = {.protocol = CMON_PROTO_TCP,
                                 .frequency_sec = 30,
                                 .port = 9,
                                 .traceroute = traceroute,
                                 .has_failed_pct_threshold = true,
                                 .failed_pct_threshold = 5};
    struct cmon_errbuf eb;
    assert_int_equal(agent_tracer_put(f->tr, &t, &c, &eb), CMON_OK);
}

static void round_at(struct fixture *f, const char *id, int64_t mono, int64_t wall, uint32_t failed)
{
    struct cmon_round_result r = {.start_ns = wall,
                                  .checks_total = 10,
                                  .checks_failed = failed,
                                  .has_rtt = failed < 10,
                                  .rtt_avg_ms = 1};
    strcpy(r.test_id, id);
    agent_tracer_round(f->tr, &r, mono, wall);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* until the trace, if any, is done */
}

static void round_of(struct fixture *f, const char *id, int64_t now, uint32_t failed)
{
    struct cmon_round_result r = {.start_ns = now,
                                  .checks_total = 10,
                                  .checks_failed = failed,
                                  .has_rtt = failed < 10,
                                  .rtt_avg_ms = 1};
    strcpy(r.test_id, id);
    agent_tracer_round(f->tr, &r, now, now);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* until the trace, if any, is done */
}

static void test_when_traced(void **state)
{
    struct fixture *f = *state;
    const char *id = "00000000000000aa";
    int64_t t0 = 1767323045LL * 1000000000LL;
    put_test(f, id, true);
    round_of(f, id, t0, 0); /* first round: traced */
    assert_int_equal(f->paths, 1);
    assert_string_equal(f->last_id, id);
    assert_true(f->last.reached);
    assert_int_equal(f->last.n_hops, 1);
    assert_string_equal(f->last.hops[0].address, "127.0.0.1");
    assert_int_equal(f->last.hops[0].sent, 2);
    round_of(f, id, t0 + 1 * ONE_MIN, 0); /* Pass again, not due */
    assert_int_equal(f->paths, 1);
    round_of(f, id, t0 + 2 * ONE_MIN, 10); /* Pass -> Fail: traced at once */
    assert_int_equal(f->paths, 2);
    round_of(f, id, t0 + 3 * ONE_MIN, 10); /* still Fail */
    assert_int_equal(f->paths, 2);
    round_of(f, id, t0 + 13 * ONE_MIN, 10); /* 10 min since the last trace */
    assert_int_equal(f->paths, 3);
    assert_int_equal(agent_tracer_running(f->tr), 0);
}

/* The interval is timed on the monotonic clock: a wall clock stepped back an
 * hour neither stops the 10-minute re-trace nor does a step forward bring
 * it early; the path keeps the wall-clock stamp of its trace. */
static void test_wall_steps(void **state)
{
    struct fixture *f = *state;
    const char *id = "00000000000000ee";
    int64_t wall = 1767323045LL * 1000000000LL, mono = 5 * ONE_MIN;
    put_test(f, id, true);
    round_at(f, id, mono, wall, 0); /* first round: traced */
    assert_int_equal(f->paths, 1);
    assert_true(f->last_ns == wall);
    int64_t back = wall - 60 * ONE_MIN; /* NTP steps back an hour */
    round_at(f, id, mono + 5 * ONE_MIN, back + 5 * ONE_MIN, 0);
    assert_int_equal(f->paths, 1); /* not due yet */
    round_at(f, id, mono + 10 * ONE_MIN, back + 10 * ONE_MIN, 0);
    assert_int_equal(f->paths, 2); /* due by the monotonic clock */
    assert_true(f->last_ns == back + 10 * ONE_MIN);
    int64_t ahead = wall + 120 * ONE_MIN; /* and forward two hours */
    round_at(f, id, mono + 11 * ONE_MIN, ahead, 0);
    assert_int_equal(f->paths, 2); /* not early */
}

static void test_disabled_and_unknown(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = 1767323045LL * 1000000000LL;
    put_test(f, "00000000000000bb", false);
    round_of(f, "00000000000000bb", t0, 10);
    round_of(f, "00000000000000cc", t0, 10); /* not a test of this tracer */
    assert_int_equal(f->paths, 0);
    /* turned on by a re-put */
    put_test(f, "00000000000000bb", true);
    round_of(f, "00000000000000bb", t0 + ONE_MIN, 10);
    assert_int_equal(f->paths, 1);
}

static void test_removed_while_running(void **state)
{
    struct fixture *f = *state;
    const char *id = "00000000000000dd";
    put_test(f, id, true);
    struct cmon_round_result r = {.start_ns = 1, .checks_total = 1, .checks_failed = 1};
    strcpy(r.test_id, id);
    agent_tracer_round(f->tr, &r, 1, 1);
    assert_int_equal(agent_tracer_running(f->tr), 1);
    agent_tracer_remove(f->tr, id);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->paths, 0); /* its path is not reported */
    assert_int_equal(agent_tracer_running(f->tr), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_when_traced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_while_running, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
