/* test_probe_sched.c: round aggregation on exact numbers, phase spreading,
 * and the scheduler driven by fake wall and monotonic clocks over real TCP
 * checks to listeners on 127.0.0.1 (round results, replace, remove, wall
 * clock steps, memory per test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/clock.h"
#include "probe/round.h"
#include "probe/scheduler.h"

static struct probe_check_result ok_check(double rtt)
{
    struct probe_check_result r = {.ok = true, .rtt_ms = rtt};
    r.dns_ms = r.connect_ms = r.tls_ms = r.first_byte_ms = -1;
    return r;
}

static struct probe_check_result failed_check(enum cmon_diag d, const char *detail)
{
    struct probe_check_result r = {.diag = d};
    snprintf(r.detail, sizeof r.detail, "%s", detail);
    r.dns_ms = r.connect_ms = r.tls_ms = r.first_byte_ms = -1;
    return r;
}

static void test_round_figures(void **state)
{
    (void)state;
    struct probe_round_acc a;
    /* completion order differs from check order: jitter follows check order */
    struct probe_check_result c4 = ok_check(6);
    c4.http_status = 204;
    c4.connect_ms = 1.5;
    assert_int_equal(probe_round_init(&a, 6), CMON_OK);
    struct probe_check_result c0 = ok_check(1), c1 = ok_check(3), c2 = ok_check(2);
    struct probe_check_result c3 = failed_check(CMON_DIAG_TIMEOUT, "no SYN-ACK within 2000 ms");
    struct probe_check_result c5 = failed_check(CMON_DIAG_CONNECTION_REFUSED, "errno 111");
    probe_round_add(&a, 4, &c4);
    probe_round_add(&a, 5, &c5);
    probe_round_add(&a, 2, &c2);
    probe_round_add(&a, 0, &c0);
    probe_round_add(&a, 3, &c3);
    probe_round_add(&a, 1, &c1);
    struct cmon_round_result r;
    memset(&r, 0, sizeof r);
    probe_round_finish(&a, &r);
    assert_int_equal(r.checks_total, 6);
    assert_int_equal(r.checks_failed, 2);
    assert_true(r.has_rtt);
    assert_true(r.rtt_min_ms == 1);
    assert_true(r.rtt_max_ms == 6);
    assert_true(fabs(r.rtt_avg_ms - 3) < 1e-9);          /* (1+3+2+6)/4 */
    assert_true(fabs(r.rtt_jitter_ms - 7.0 / 3) < 1e-9); /* (|3-1|+|2-3|+|6-2|)/3 */
    /* tie 1:1 -> the failure of the earlier check wins */
    assert_int_equal(r.diagnostic, CMON_DIAG_TIMEOUT);
    assert_string_equal(r.detail, "no SYN-ACK within 2000 ms");
    /* status and phases of the last check (seq 5, a failure without them) */
    assert_int_equal(r.http_status, 0);
    assert_true(r.connect_ms < 0);
    probe_round_free(&a);
}

/* Equal RTTs whose sum rounds up: the mean stays within [min, max], as the
 * agent protocol requires (the server refused such rounds). */
static void test_round_equal_rtts(void **state)
{
    (void)state;
    struct probe_round_acc a;
    assert_int_equal(probe_round_init(&a, 3), CMON_OK);
    for (uint32_t i = 0; i < 3; i++) {
        struct probe_check_result c = ok_check(0.1);
        probe_round_add(&a, i, &c);
    }
    struct cmon_round_result r;
    memset(&r, 0, sizeof r);
    probe_round_finish(&a, &r);
    assert_true(r.rtt_min_ms <= r.rtt_avg_ms && r.rtt_avg_ms <= r.rtt_max_ms);
    snprintf(r.test_id, sizeof r.test_id, "0123456789abcdef");
    r.start_ns = 1767225600000000000; /* 2026-01-01 */
    json_t *j = cmon_round_to_json(&r);
    struct cmon_round_result back;
    struct cmon_errbuf eb = {{0}};
    if (cmon_round_from_json(j, &back, &eb) != CMON_OK)
        fail_msg("the agent's own round is refused: %s", eb.msg);
    json_decref(j);
    probe_round_free(&a);
}

static void test_round_dominant_and_empty(void **state)
{
    (void)state;
    struct probe_round_acc a;
    assert_int_equal(probe_round_init(&a, 5), CMON_OK);
    probe_round_add(&a, 0, &(struct probe_check_result){.diag = CMON_DIAG_TIMEOUT, .detail = "t0"});
    probe_round_add(
        &a, 3, &(struct probe_check_result){.diag = CMON_DIAG_HOST_UNREACHABLE, .detail = "h3"});
    probe_round_add(
        &a, 1, &(struct probe_check_result){.diag = CMON_DIAG_HOST_UNREACHABLE, .detail = "h1"});
    struct probe_check_result last = ok_check(4);
    last.http_status = 503;
    probe_round_add(&a, 4, &last);
    probe_round_add(&a, 9, &last); /* out of range: ignored */
    struct cmon_round_result r;
    memset(&r, 0, sizeof r);
    probe_round_finish(&a, &r);
    assert_int_equal(r.checks_total, 4);
    assert_int_equal(r.checks_failed, 3);
    assert_int_equal(r.diagnostic, CMON_DIAG_HOST_UNREACHABLE);
    assert_string_equal(r.detail, "h1"); /* the earliest check's detail */
    assert_int_equal(r.http_status, 503);
    assert_true(r.rtt_jitter_ms == 0); /* a single RTT has no jitter */
    probe_round_free(&a);

    assert_int_equal(probe_round_init(&a, 2), CMON_OK);
    probe_round_add(&a, 0, &(struct probe_check_result){.diag = CMON_DIAG_TIMEOUT});
    memset(&r, 0, sizeof r);
    probe_round_finish(&a, &r);
    assert_false(r.has_rtt);
    assert_int_equal(r.checks_failed, 1);
    probe_round_free(&a);
}

static void test_phase_and_offsets(void **state)
{
    (void)state;
    const int64_t period = 60 * CMON_NS_PER_SEC;
    int buckets[10] = {0};
    char id[CMON_TEST_ID_LEN + 1];
    for (uint64_t i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "%016llx", (unsigned long long)(i * 0x9E3779B97F4A7C15ULL));
        int64_t ph = probe_sched_phase_ns(id, period);
        assert_true(ph >= 0 && ph < period);
        assert_int_equal(ph % CMON_NS_PER_MS, 0);
        buckets[ph / (period / 10)]++;
    }
    for (int b = 0; b < 10; b++) /* 2000 expected per 6 s slice */
        assert_true(buckets[b] > 1700 && buckets[b] < 2300);
    assert_int_equal(probe_sched_phase_ns("abc", 60 * CMON_NS_PER_SEC),
                     probe_sched_phase_ns("abc", 60 * CMON_NS_PER_SEC));

    const int64_t s = CMON_NS_PER_SEC;
    assert_int_equal(probe_sched_next_round(1000 * s, 7 * s, 60 * s), 1027 * s);
    assert_int_equal(probe_sched_next_round(1027 * s, 7 * s, 60 * s), 1027 * s);
    assert_int_equal(probe_sched_next_round(1027 * s + 1, 7 * s, 60 * s), 1087 * s);
    assert_int_equal(probe_sched_next_round(5 * s, 7 * s, 60 * s), 7 * s);

    assert_int_equal(probe_sched_check_offset_ns(0, 10, 2000), 0);
    assert_int_equal(probe_sched_check_offset_ns(1, 10, 2000), 200 * CMON_NS_PER_MS);
    assert_int_equal(probe_sched_check_offset_ns(9, 10, 2000), 1800 * CMON_NS_PER_MS);
    assert_int_equal(probe_sched_check_offset_ns(0, 1, 2000), 0);
    assert_int_equal(probe_sched_check_offset_ns(2, 3, 2000), 1333333333);
}

/* --- the scheduler on a real engine, with a fake clock --- */

struct fixture {
    uv_loop_t loop;
    struct probe_engine *eng;
    struct probe_sched *sched;
    int64_t now;                /* wall clock */
    int64_t mono;               /* monotonic clock; equal to now unless a test sets it */
    int alloc_steps, fail_step; /* fail the scheduler's fail_step-th allocating step */
    struct cmon_round_result results[2048];
    int n_results;
    int listen_fd;
    uint16_t open_port, closed_port;
    int closed;
    /* rounds skipped (on_skip), the latest with its id */
    int skips[PROBE_SKIP_BUSY + 1];
    char skipped_id[CMON_TEST_ID_LEN + 1];
};

static int64_t fake_now(void *ctx)
{
    return ((struct fixture *)ctx)->now;
}

static int64_t fake_mono(void *ctx)
{
    return ((struct fixture *)ctx)->mono;
}

static bool fake_fail_alloc(void *ctx)
{
    struct fixture *f = ctx;
    return ++f->alloc_steps == f->fail_step;
}

static void on_result(void *arg, const struct cmon_round_result *r)
{
    struct fixture *f = arg;
    if (f->n_results < 2048)
        f->results[f->n_results++] = *r;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static int tcp_on_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct cmon_errbuf eb;
    uv_loop_init(&f->loop);
    if (probe_engine_new(&f->loop, NULL, &f->eng, &eb) != CMON_OK)
        return -1;
    struct probe_sched_opts o = {.now_ns = fake_now,
                                 .mono_ns = fake_mono,
                                 .clock_ctx = f,
                                 .fail_alloc = fake_fail_alloc,
                                 .on_result = on_result,
                                 .arg = f};
    if (probe_sched_new(&f->loop, f->eng, &o, &f->sched, &eb) != CMON_OK)
        return -1;
    f->now = f->mono = 1700000000LL * CMON_NS_PER_SEC;
    f->listen_fd = tcp_on_loopback();
    if (f->listen_fd < 0 || listen(f->listen_fd, 128) != 0 ||
        fcntl(f->listen_fd, F_SETFL, O_NONBLOCK) != 0)
        return -1;
    f->open_port = bound_port(f->listen_fd);
    int c = tcp_on_loopback(); /* a port nobody listens on */
    f->closed_port = bound_port(c);
    close(c);
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
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->listen_fd);
    free(f);
    return 0;
}

static void drain_accept(struct fixture *f);

/* Poll the loop (without blocking on the scheduler's far timers) until n
 * results are in or 5 s of real time passed. */
static void wait_results(struct fixture *f, int n)
{
    for (int i = 0; i < 5000 && f->n_results < n; i++) {
        drain_accept(f);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->n_results, n);
}

/* The listener never serves: accept and drop, so its backlog never fills. */
static void drain_accept(struct fixture *f)
{
    int c;
    while ((c = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
        close(c);
}

/* Advance both fake clocks to t and run what is due. */
static void advance(struct fixture *f, int64_t t)
{
    drain_accept(f);
    f->now = f->mono = t;
    probe_sched_run_due(f->sched);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void tcp_test(struct fixture *f, struct cmon_test *t, struct cmon_test_config *c,
                     const char *id, uint16_t port, int checks)
{
    memset(t, 0, sizeof *t);
    memset(c, 0, sizeof *c);
    snprintf(t->id, sizeof t->id, "%s", id);
    t->protocol = CMON_PROTO_TCP;
    t->target = "127.0.0.1";
    t->port = port;
    t->frequency_sec = 60;
    c->protocol = CMON_PROTO_TCP;
    c->checks_per_round = checks;
    c->timeout_ms = 1000;
    (void)f;
}

/* The first round of test id on the fake wall clock (equal to monotonic). */
static int64_t first_round(const struct fixture *f, const char *id, int64_t period)
{
    return probe_sched_next_round(f->now, probe_sched_phase_ns(id, period), period);
}

/* tcp_test, put: it must succeed. */
static void put_tcp(struct fixture *f, struct cmon_test *t, struct cmon_test_config *c,
                    const char *id, uint16_t port, int checks)
{
    struct cmon_errbuf eb;
    tcp_test(f, t, c, id, port, checks);
    assert_int_equal(probe_sched_put(f->sched, t, c, &eb), CMON_OK);
}

/* Run one whole round of a test whose round starts at r0 with n checks. */
static void run_round(struct fixture *f, int64_t r0, int n)
{
    for (int i = 0; i < n; i++)
        advance(f, r0 + probe_sched_check_offset_ns((uint32_t)i, (uint32_t)n, 2000));
}

static void test_sched_rounds(void **state)
{
    struct fixture *f = *state;
    struct cmon_test t;
    struct cmon_test_config c;
    const int64_t period = 60 * CMON_NS_PER_SEC;
    put_tcp(f, &t, &c, "00000000000000a1", f->open_port, 3);
    assert_int_equal(probe_sched_count(f->sched), 1);
    int64_t r0 = first_round(f, t.id, period);
    assert_true(r0 >= f->now && r0 < f->now + period);

    advance(f, r0 - 1); /* nothing due yet */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->n_results, 0);
    run_round(f, r0, 3);
    wait_results(f, 1);
    const struct cmon_round_result *r = &f->results[0];
    assert_string_equal(r->test_id, "00000000000000a1");
    assert_int_equal(r->start_ns, r0);
    assert_int_equal(r->checks_total, 3);
    assert_int_equal(r->checks_failed, 0);
    assert_true(r->has_rtt && r->rtt_min_ms > 0 && r->rtt_min_ms <= r->rtt_max_ms);
    assert_int_equal(r->diagnostic, CMON_DIAG_NONE);

    /* the next round comes one period later, not before */
    advance(f, r0 + period - 1);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->n_results, 1);
    run_round(f, r0 + period, 3);
    wait_results(f, 2);
    assert_int_equal(f->results[1].start_ns, r0 + period);

    /* a closed port: every check refused */
    put_tcp(f, &t, &c, "00000000000000b2", f->closed_port, 4);
    int64_t r1 = first_round(f, t.id, period);
    run_round(f, r1, 4);
    wait_results(f, 3);
    r = &f->results[2];
    assert_string_equal(r->test_id, "00000000000000b2");
    assert_int_equal(r->checks_total, 4);
    assert_int_equal(r->checks_failed, 4);
    assert_false(r->has_rtt);
    assert_int_equal(r->diagnostic, CMON_DIAG_CONNECTION_REFUSED);
    assert_non_null(strstr(r->detail, "errno 111"));
    assert_int_equal(probe_sched_count(f->sched), 2);
}

static void test_sched_replace_remove(void **state)
{
    struct fixture *f = *state;
    struct cmon_test t;
    struct cmon_test_config c;
    struct cmon_errbuf eb;
    const int64_t period = 60 * CMON_NS_PER_SEC;
    put_tcp(f, &t, &c, "00000000000000c3", f->open_port, 3);
    int64_t r0 = first_round(f, t.id, period);
    advance(f, r0); /* first check of the round is out */
    /* replace mid-round: the running round ends with its 3 checks */
    c.checks_per_round = 1;
    assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
    assert_int_equal(probe_sched_count(f->sched), 1);
    run_round(f, r0, 3);
    wait_results(f, 1);
    assert_int_equal(f->results[0].checks_total, 3);
    /* the next round uses the new settings, at the same phase */
    advance(f, r0 + period);
    wait_results(f, 2);
    assert_int_equal(f->results[1].checks_total, 1);
    assert_int_equal(f->results[1].start_ns, r0 + period);

    /* remove: no more rounds, and a removed round in progress reports nothing */
    c.checks_per_round = 3;
    assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
    advance(f, r0 + 2 * period);
    assert_true(probe_sched_remove(f->sched, t.id));
    assert_false(probe_sched_remove(f->sched, t.id));
    assert_int_equal(probe_sched_count(f->sched), 0);
    run_round(f, r0 + 2 * period, 3);
    advance(f, r0 + 5 * period);
    for (int i = 0; i < 200; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(f->n_results, 2);
}

/* Many tests with different periods: every round comes exactly at its
 * test's phase, once per period, none skipped or doubled (the heap keeps
 * order across pushes and removals). */
static void test_sched_many_periods(void **state)
{
    struct fixture *f = *state;
    struct cmon_test t;
    struct cmon_test_config c;
    struct cmon_errbuf eb;
    enum { TESTS = 40, STEP_MS = 100, SPAN_S = 240 };
    int64_t start = f->now, expected = 0;
    int periods[TESTS];
    for (int i = 0; i < TESTS; i++) {
        char id[CMON_TEST_ID_LEN + 1];
        snprintf(id, sizeof id, "%016llx", (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL);
        tcp_test(f, &t, &c, id, f->open_port, 1);
        periods[i] = t.frequency_sec = 5 + (i * 7) % 56; /* 5..60 s */
        assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
        int64_t period = (int64_t)periods[i] * CMON_NS_PER_SEC;
        int64_t r = probe_sched_next_round(start, probe_sched_phase_ns(id, period), period);
        for (; r <= start + (int64_t)SPAN_S * CMON_NS_PER_SEC; r += period)
            expected++;
    }
    for (int64_t ms = 0; ms <= SPAN_S * 1000; ms += STEP_MS) {
        advance(f, start + ms * CMON_NS_PER_MS);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    wait_results(f, (int)expected);
    for (int i = 0; i < f->n_results; i++) {
        const struct cmon_round_result *r = &f->results[i];
        int k = -1;
        for (int j = 0; j < TESTS && k < 0; j++) {
            char id[CMON_TEST_ID_LEN + 1];
            snprintf(id, sizeof id, "%016llx", (unsigned long long)(j + 1) * 0x9E3779B97F4A7C15ULL);
            if (strcmp(id, r->test_id) == 0)
                k = j;
        }
        assert_true(k >= 0);
        int64_t period = (int64_t)periods[k] * CMON_NS_PER_SEC;
        assert_int_equal((r->start_ns - probe_sched_phase_ns(r->test_id, period)) % period, 0);
        if (r->checks_failed)
            fail_msg("round of %s failed: %s", r->test_id, r->detail);
        for (int j = 0; j < i; j++) /* no round twice */
            assert_false(strcmp(f->results[j].test_id, r->test_id) == 0 &&
                         f->results[j].start_ns == r->start_ns);
    }
}

/* A replace that fails at any of its allocating steps leaves the old test
 * scheduled as it was: still counted, and its next round runs on time with
 * the old settings. */
static void test_sched_failed_put_keeps_old(void **state)
{
    struct fixture *f = *state;
    struct cmon_test t;
    struct cmon_test_config c;
    struct cmon_errbuf eb;
    put_tcp(f, &t, &c, "00000000000000e5", f->open_port, 3);
    f->alloc_steps = 0; /* a replace that succeeds: how many steps may allocate */
    assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
    int steps = f->alloc_steps;
    assert_true(steps >= 2); /* the new test, and room in the heap */
    c.checks_per_round = 1;
    for (int k = 1; k <= steps; k++) {
        f->alloc_steps = 0;
        f->fail_step = k;
        assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_ERR_NOMEM);
        assert_int_equal(probe_sched_count(f->sched), 1);
    }
    f->fail_step = 0;
    int64_t r0 = first_round(f, t.id, 60 * CMON_NS_PER_SEC);
    run_round(f, r0, 3);
    wait_results(f, 1);
    assert_int_equal(f->results[0].start_ns, r0);
    assert_int_equal(f->results[0].checks_total, 3);
}

/* Wall-clock offset (wall - mono) of the wall-step scenario below at
 * monotonic time m: the wall clock steps back an hour at +200 s and forward
 * an hour at +400 s, while monotonic time runs on. */
static int64_t stepped_offset(int64_t mono0, int64_t wall0, int64_t m)
{
    const int64_t hour = 3600 * CMON_NS_PER_SEC;
    int64_t since = m - mono0;
    return wall0 - mono0 -
           (since >= 200 * CMON_NS_PER_SEC && since < 400 * CMON_NS_PER_SEC ? hour : 0);
}

/* Wall steps move the stamps, never the rhythm: every test keeps one round
 * per period of monotonic time (none lost while the wall clock is an hour
 * behind, none bunched when it jumps an hour ahead), and each round is
 * stamped with the wall time in effect when it ran. */
static void test_sched_wall_steps(void **state)
{
    struct fixture *f = *state;
    struct cmon_test t;
    struct cmon_test_config c;
    struct cmon_errbuf eb;
    enum { TESTS = 3, SPAN_S = 600 };
    const int periods[TESTS] = {30, 60, 90};
    const int64_t wall0 = f->now, mono0 = f->mono = 5000 * CMON_NS_PER_SEC; /* since boot */
    int64_t first[TESTS];
    int expected = 0;
    for (int i = 0; i < TESTS; i++) {
        char id[CMON_TEST_ID_LEN + 1];
        snprintf(id, sizeof id, "%016x", 0xd00 + i);
        tcp_test(f, &t, &c, id, f->open_port, 1);
        t.frequency_sec = periods[i];
        assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
        int64_t period = (int64_t)periods[i] * CMON_NS_PER_SEC;
        /* the first round is on the test's wall-clock phase, as before */
        first[i] =
            mono0 + probe_sched_next_round(wall0, probe_sched_phase_ns(id, period), period) - wall0;
        for (int64_t r = first[i]; r <= mono0 + SPAN_S * CMON_NS_PER_SEC; r += period)
            expected++;
    }
    for (int64_t sec = 0; sec <= SPAN_S; sec++) {
        drain_accept(f);
        f->mono = mono0 + sec * CMON_NS_PER_SEC;
        f->now = f->mono + stepped_offset(mono0, wall0, f->mono);
        probe_sched_run_due(f->sched);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    wait_results(f, expected);
    int seen[TESTS] = {0};
    for (int i = 0; i < f->n_results; i++) {
        const struct cmon_round_result *r = &f->results[i];
        int k = (int)strtol(r->test_id, NULL, 16) - 0xd00;
        assert_true(k >= 0 && k < TESTS);
        /* the n-th round of test k ran at first + n * period (monotonic),
         * seen at the next whole second, and carries that moment's wall time */
        int64_t at = first[k] + (int64_t)seen[k]++ * periods[k] * CMON_NS_PER_SEC;
        int64_t fired =
            mono0 + (at - mono0 + CMON_NS_PER_SEC - 1) / CMON_NS_PER_SEC * CMON_NS_PER_SEC;
        assert_int_equal(r->start_ns, at + stepped_offset(mono0, wall0, fired));
        if (r->checks_failed)
            fail_msg("round of %s failed: %s", r->test_id, r->detail);
    }
}

/* The path of the embedded agent: a monitor file, parsed and expanded by the
 * model, fed to the scheduler test by test. */
static void test_sched_from_monitor(void **state)
{
    struct fixture *f = *state;
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\": \"m\", \"properties\": {"
             "\"endpoints\": [{\"name\": \"a\", \"type\": \"Agent\", \"address\": \"a\"},"
             " {\"name\": \"lo\", \"address\": \"127.0.0.1\"}],"
             "\"testConfigurations\": [{\"name\": \"tcp\", \"protocol\": \"Tcp\","
             " \"testFrequencySec\": 30, \"checksPerRound\": 2,"
             " \"tcpConfiguration\": {\"port\": %u}}],"
             "\"testGroups\": [{\"name\": \"g\", \"sources\": [\"a\"],"
             " \"destinations\": [\"lo\"], \"testConfigurations\": [\"tcp\"]}]}}",
             f->open_port);
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    enum cmon_err err = cmon_monitor_parse(json, strlen(json), NULL, &m, &probs);
    if (err != CMON_OK && probs.n)
        fail_msg("monitor: %s", probs.items[0].message);
    assert_int_equal(err, CMON_OK);
    struct cmon_test *tests;
    size_t n;
    assert_int_equal(cmon_monitor_expand(m, &tests, &n), CMON_OK);
    assert_int_equal(n, 1);
    struct cmon_errbuf eb;
    assert_int_equal(probe_sched_put(f->sched, &tests[0], &m->configs[tests[0].config], &eb),
                     CMON_OK);
    const int64_t period = 30 * CMON_NS_PER_SEC;
    int64_t r0 = first_round(f, tests[0].id, period);
    run_round(f, r0, 2);
    wait_results(f, 1);
    assert_string_equal(f->results[0].test_id, tests[0].id);
    assert_int_equal(f->results[0].checks_total, 2);
    assert_int_equal(f->results[0].checks_failed, 0);
    cmon_tests_free(tests, n);
    cmon_monitor_free(m);
    cmon_problems_free(&probs);
}

static void count_skip(void *arg, const char *test_id, enum probe_sched_skip why)
{
    struct fixture *f = arg;
    f->skips[why]++;
    snprintf(f->skipped_id, sizeof f->skipped_id, "%s", test_id);
}

static void sched_closed(void *arg)
{
    (void)arg;
}

static void set_clocks(struct fixture *f, int64_t t)
{
    f->now = f->mono = t;
}

/* A test id (counting from base) whose first round from now is in [lo, hi). */
static void id_due_between(const struct fixture *f, unsigned base, int64_t lo, int64_t hi,
                           char id[CMON_TEST_ID_LEN + 1])
{
    for (unsigned k = 0; k < 100000; k++) {
        snprintf(id, CMON_TEST_ID_LEN + 1, "%016x", base + k);
        int64_t r = first_round(f, id, 60 * CMON_NS_PER_SEC);
        if (r >= lo && r < hi)
            return;
    }
    fail_msg("no test id due in the window");
}

/* Overload: a round due longer ago than max_late_ms is skipped, not run late;
 * one due less long ago runs, stamped with its due time, its checks spread
 * from when it started (no catch-up burst); a round whose checks would take
 * the checks in flight past max_fds is skipped as busy.  Each skip is
 * counted and reported with the test's id, and the test keeps its rhythm.
 * No uv_run in between: the checks launched stay in flight. */
static void test_sched_overload_skips(void **state)
{
    struct fixture *f = *state;
    struct cmon_test a, b, d;
    struct cmon_test_config ca, cb, cd;
    struct cmon_errbuf eb;
    struct probe_sched_stats st;
    struct probe_sched *s;
    const int64_t period = 60 * CMON_NS_PER_SEC, ms = CMON_NS_PER_MS;
    struct probe_sched_opts o = {.now_ns = fake_now, .mono_ns = fake_mono, .clock_ctx = f,
                                 .max_late_ms = 500, .max_fds = 12, .on_result = on_result,
                                 .on_skip = count_skip, .arg = f};
    assert_int_equal(probe_sched_new(&f->loop, f->eng, &o, &s, &eb), CMON_OK);

    tcp_test(f, &a, &ca, "00000000000000f1", f->open_port, 10);
    assert_int_equal(probe_sched_put(s, &a, &ca, &eb), CMON_OK);
    int64_t ra = first_round(f, a.id, period);
    set_clocks(f, ra + 450 * ms); /* 450 ms late: checks 0..2 were due, one goes */
    probe_sched_run_due(s);
    probe_sched_stats(s, &st);
    assert_int_equal(st.rounds, 1);
    assert_int_equal(st.inflight, 1);
    assert_int_equal(st.fds, 1);
    set_clocks(f, ra + 650 * ms); /* the next one 200 ms after the start */
    probe_sched_run_due(s);
    probe_sched_stats(s, &st);
    assert_int_equal(st.inflight, 2);
    set_clocks(f, ra + 450 * ms + 2000 * ms); /* the whole round is out */
    probe_sched_run_due(s);
    probe_sched_stats(s, &st);
    assert_int_equal(st.inflight, 10);

    /* b's 10 checks do not fit beside a's 10 in 12 descriptors: busy (ids
     * due before a's next round, so only what is asserted comes due) */
    char bid[CMON_TEST_ID_LEN + 1], did[CMON_TEST_ID_LEN + 1];
    id_due_between(f, 0xf200, f->now, ra + 30 * CMON_NS_PER_SEC, bid);
    tcp_test(f, &b, &cb, bid, f->open_port, 10);
    assert_int_equal(probe_sched_put(s, &b, &cb, &eb), CMON_OK);
    int64_t rb = first_round(f, b.id, period);
    set_clocks(f, rb);
    probe_sched_run_due(s);
    assert_true(f->skips[PROBE_SKIP_BUSY] >= 1);
    assert_string_equal(f->skipped_id, b.id);
    probe_sched_stats(s, &st);
    assert_int_equal(st.skipped_busy, (uint64_t)f->skips[PROBE_SKIP_BUSY]);
    assert_int_equal(st.inflight, 10);

    /* d comes 600 ms late: skipped, its next round on its phase */
    id_due_between(f, 0xf300, f->now, ra + 55 * CMON_NS_PER_SEC, did);
    tcp_test(f, &d, &cd, did, f->closed_port, 1);
    assert_int_equal(probe_sched_put(s, &d, &cd, &eb), CMON_OK);
    int64_t rd = first_round(f, d.id, period);
    set_clocks(f, rd + 600 * ms);
    probe_sched_run_due(s);
    assert_int_equal(f->skips[PROBE_SKIP_LATE], 1);
    assert_string_equal(f->skipped_id, d.id);
    probe_sched_stats(s, &st);
    assert_int_equal(st.skipped_late, 1);

    /* a's round reports its 10 checks, stamped when it was due; d's next
     * round (a refused port: one failed check) comes one period on */
    wait_results(f, 1);
    assert_string_equal(f->results[0].test_id, a.id);
    assert_int_equal(f->results[0].start_ns, ra);
    assert_int_equal(f->results[0].checks_total, 10);
    probe_sched_stats(s, &st);
    assert_int_equal(st.inflight, 0);
    assert_int_equal(st.fds, 0);
    probe_sched_remove(s, a.id);
    probe_sched_remove(s, b.id);
    set_clocks(f, rd + period);
    probe_sched_run_due(s);
    wait_results(f, 2);
    assert_string_equal(f->results[1].test_id, d.id);
    assert_int_equal(f->results[1].start_ns, rd + period);
    probe_sched_close(s, sched_closed, NULL);
}

static void test_sched_memory_per_test(void **state)
{
    struct fixture *f = *state;
    struct mallinfo2 before = mallinfo2();
    if (before.uordblks == 0)
        skip(); /* a sanitizer's allocator does not report through mallinfo2 */
    struct cmon_test t;
    struct cmon_test_config c;
    struct cmon_errbuf eb;
    tcp_test(f, &t, &c, "", f->open_port, 10);
    t.target = "db-17.example.internal"; /* a typical host name */
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        snprintf(t.id, sizeof t.id, "%016x", i);
        assert_int_equal(probe_sched_put(f->sched, &t, &c, &eb), CMON_OK);
    }
    struct mallinfo2 after = mallinfo2();
    double per_test = (double)(after.uordblks - before.uordblks) / N;
    print_message("scheduler memory: %.0f bytes per idle test\n", per_test);
    assert_true(per_test <= 512);
    assert_int_equal(probe_sched_count(f->sched), N);
    for (int i = 0; i < N; i += 2) { /* removals from all over the heap */
        snprintf(t.id, sizeof t.id, "%016x", i);
        assert_true(probe_sched_remove(f->sched, t.id));
    }
    assert_int_equal(probe_sched_count(f->sched), N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_figures),
        cmocka_unit_test(test_round_equal_rtts),
        cmocka_unit_test(test_round_dominant_and_empty),
        cmocka_unit_test(test_phase_and_offsets),
        cmocka_unit_test_setup_teardown(test_sched_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_replace_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_many_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_wall_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_failed_put_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_from_monitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_overload_skips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_memory_per_test, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
