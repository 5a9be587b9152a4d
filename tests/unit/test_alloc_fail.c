/* test_alloc_fail.c: "fail the Nth allocation" (SQLite's fault injection)
 * over the monitor parser and expansion, the agent batch decoder, the
 * round scheduler and ingest (a result batch through the one writer into a
 * real SQLite store: stored whole or not at all, and the submitter told).  For N = 1, 2, ... until an operation runs without
 * reaching its Nth allocation, the Nth malloc/calloc/realloc/strdup/strndup
 * in cmon's own code returns NULL once: the
 * operation must report the failure (an error, never CMON_OK with part of
 * the work missing), leave what it was given as it was, and leak nothing
 * (the ASan build checks leaks at exit).
 *
 * The hook is the linker's --wrap (CMakeLists.txt links this binary with
 * it): every call to malloc & co. from cmon's own objects goes through the
 * __wrap_ functions below; libraries' internal allocations (jansson, libuv,
 * glibc) are not counted.  jansson is left out on purpose: its own parser
 * crashes when its allocator fails (json_loadb, 2.14), which is not ours to
 * test.  ALLOC_FAIL_TRACE=1 prints the stack of each failed allocation.
 * Tolerated failures (the parse still whole) are the JSON position index,
 * which only serves error messages' line:column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <execinfo.h>

#include <jansson.h>
#include <uv.h>

#include "core/clock.h"
#include "model/agent_body.h"
#include "model/monitor.h"
#include "probe/scheduler.h"
#include "server/writer.h"
#include "store/store.h"

/* The one piece of state the wrappers share with the tests: a test binary's
 * fault injector, armed only inside fail_at() below. */
static struct {
    _Atomic long countdown; /* > 0: allocations left before the one that fails */
    _Atomic bool fired;
} inj;

static bool fail_now(void)
{
    /* atomic: the writer thread allocates while the test thread waits */
    if (atomic_load(&inj.countdown) <= 0 || atomic_fetch_sub(&inj.countdown, 1) != 1)
        return false;
    inj.fired = true;
    if (getenv("ALLOC_FAIL_TRACE")) {
        void *bt[8];
        int n = backtrace(bt, 8);
        backtrace_symbols_fd(bt, n, 2);
        fputs("--\n", stderr);
    }
    return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}

/* Arm the injector so that the nth allocation from now fails. */
static void fail_at(long n)
{
    inj.countdown = n;
    inj.fired = false;
}

/* Disarm; true when the armed failure happened. */
static bool disarm(void)
{
    inj.countdown = 0;
    return inj.fired;
}

static char *read_example(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/examples/%s", getenv("CMON_SOURCE_DIR") ?: ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = __real_malloc(1 << 20);
    *len = fread(text, 1, (1 << 20) - 1, f);
    text[*len] = '\0';
    fclose(f);
    return text;
}

/* Every expanded test of m as one JSON text: what a half-built monitor
 * would show different. */
static char *tests_text(const struct cmon_monitor *m)
{
    struct cmon_test *tests = NULL;
    size_t n = 0;
    if (cmon_monitor_expand(m, &tests, &n) != CMON_OK)
        return NULL;
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(all, cmon_test_to_json(m, &tests[i]));
    cmon_tests_free(tests, n);
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return text;
}

/* Parse and expand a monitor file under every single allocation failure. */
static void parse_under_failures(const char *file)
{
    size_t len;
    char *text = read_example(file, &len);
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, len, "example", &m, &probs), CMON_OK);
    char *want = tests_text(m);
    assert_non_null(want);
    cmon_monitor_free(m);
    cmon_problems_free(&probs);

    long n, reported = 0;
    for (n = 1;; n++) {
        m = NULL;
        memset(&probs, 0, sizeof probs);
        fail_at(n);
        enum cmon_err err = cmon_monitor_parse(text, len, "example", &m, &probs);
        char *got = err == CMON_OK ? tests_text(m) : NULL;
        bool fired = disarm();
        if (err != CMON_OK) {
            assert_true(fired);
            assert_null(m);
            reported++;
        } else if (!got || strcmp(got, want) != 0) {
            /* the failure hit expansion (reported by its NULL) or nothing */
            assert_true(fired);
            assert_null(got);
            reported++;
        }
        free(got);
        cmon_monitor_free(m);
        cmon_problems_free(&probs);
        if (!fired)
            break;
    }
    print_message("%s: %ld allocation points, %ld failures reported\n", file, n - 1, reported);
    assert_true(n > 10);
    free(want);
    free(text);
}

static void test_monitor_parse(void **state)
{
    (void)state;
    parse_under_failures("seed.json");
    parse_under_failures("http.json");
}

static const char batch_text[] =
    "{\"batch\":7,\"spoolId\":\"0123456789abcdef\",\"results\":["
    "{\"testId\":\"0123456789abcdef\",\"startTime\":\"2026-01-02T03:04:05Z\","
    "\"checksTotal\":3,\"checksFailed\":1,\"rtt\":{\"min\":1,\"avg\":2,\"max\":3,\"jitter\":1},"
    "\"diagnostic\":\"timeout\",\"detail\":\"no SYN-ACK within 2000 ms\"},"
    "{\"testId\":\"fedcba9876543210\",\"startTime\":\"2026-01-02T03:04:35Z\","
    "\"checksTotal\":10,\"checksFailed\":0,\"rtt\":{\"min\":1,\"avg\":1,\"max\":1,\"jitter\":0},"
    "\"httpStatus\":200}],"
    "\"paths\":[{\"testId\":\"0123456789abcdef\",\"startTime\":\"2026-01-02T03:04:05Z\","
    "\"path\":{\"reached\":true,\"hops\":["
    "{\"ttl\":1,\"address\":\"10.0.0.1\",\"sent\":3,\"received\":3,"
    "\"rtt\":{\"min\":1,\"avg\":1,\"max\":1,\"jitter\":0}}]}}]}";

/* The server's decode of an agent's batch: every failure is NOMEM. */
static void test_batch_decode(void **state)
{
    (void)state;
    json_t *body = json_loads(batch_text, 0, NULL);
    assert_non_null(body);
    struct cmon_agent_batch b;
    struct cmon_agent_err e;
    enum cmon_err clean = cmon_agent_batch_decode(body, &b, &e);
    if (clean != CMON_OK)
        fail_msg("reference batch refused: %s: %s", e.field, e.message);
    assert_int_equal(b.n_results, 2);
    assert_int_equal(b.n_paths, 1);
    cmon_agent_batch_free(&b);
    long n;
    for (n = 1;; n++) {
        fail_at(n);
        enum cmon_err err = cmon_agent_batch_decode(body, &b, &e);
        bool fired = disarm();
        if (err == CMON_OK) {
            assert_int_equal(b.n_results, 2);
            assert_int_equal(b.n_paths, 1);
            cmon_agent_batch_free(&b);
        } else {
            assert_true(fired);
            assert_int_equal(err, CMON_ERR_NOMEM);
        }
        if (!fired)
            break;
    }
    print_message("batch decode: %ld allocation points\n", n - 1);
    json_decref(body);
}

/* --- the scheduler --- */

struct sched_fix {
    uv_loop_t loop;
    struct probe_engine *eng;
    struct probe_sched *sched;
    int64_t now;
    int closed;
};

static int64_t fix_now(void *ctx)
{
    return ((struct sched_fix *)ctx)->now;
}

static void on_result(void *arg, const struct cmon_round_result *r)
{
    (void)arg;
    (void)r;
}

static void closed_cb(void *arg)
{
    ((struct sched_fix *)arg)->closed++;
}

/* Put every test of the seed example into a scheduler that already holds
 * them (a replace) and into an empty one (an add), failing each allocation
 * in turn: a failed put reports NOMEM and leaves the schedule as it was. */
static void test_sched_put(void **state)
{
    (void)state;
    size_t len;
    char *text = read_example("seed.json", &len);
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, len, "seed", &m, &probs), CMON_OK);
    struct cmon_test *tests = NULL;
    size_t n_tests = 0;
    assert_int_equal(cmon_monitor_expand(m, &tests, &n_tests), CMON_OK);

    struct sched_fix f = {.now = 1700000000LL * CMON_NS_PER_SEC};
    struct cmon_errbuf eb;
    assert_int_equal(uv_loop_init(&f.loop), 0);
    assert_int_equal(probe_engine_new(&f.loop, NULL, &f.eng, &eb), CMON_OK);
    struct probe_sched_opts o = {
        .now_ns = fix_now, .mono_ns = fix_now, .clock_ctx = &f, .on_result = on_result};
    assert_int_equal(probe_sched_new(&f.loop, f.eng, &o, &f.sched, &eb), CMON_OK);

    long points = 0, failed = 0;
    for (size_t i = 0; i < n_tests; i++) {
        const struct cmon_test_config *cfg = &m->configs[tests[i].config];
        for (long n = 1;; n++) {
            size_t before = probe_sched_count(f.sched);
            fail_at(n);
            enum cmon_err err = probe_sched_put(f.sched, &tests[i], cfg, &eb);
            bool fired = disarm();
            if (err != CMON_OK) {
                assert_true(fired);
                assert_int_equal(err, CMON_ERR_NOMEM);
                assert_int_equal(probe_sched_count(f.sched), before);
                failed++;
            } else {
                /* an add grows the schedule by one; a replace keeps it */
                assert_true(probe_sched_count(f.sched) == before + 1 ||
                            probe_sched_count(f.sched) == before);
            }
            if (!fired)
                break;
            points++;
        }
        assert_int_equal(probe_sched_count(f.sched), i + 1);
        /* the same test again: a replace under every failure */
        for (long n = 1;; n++) {
            fail_at(n);
            enum cmon_err err = probe_sched_put(f.sched, &tests[i], cfg, &eb);
            bool fired = disarm();
            assert_true(err == CMON_OK || (fired && err == CMON_ERR_NOMEM));
            assert_int_equal(probe_sched_count(f.sched), i + 1);
            if (!fired)
                break;
        }
    }
    print_message("scheduler: %zu tests, %ld allocation points, %ld failed puts reported\n",
                  n_tests, points, failed);
    assert_true(failed > 0);
    probe_sched_close(f.sched, closed_cb, &f);
    probe_engine_close(f.eng, closed_cb, &f);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(f.closed, 2);
    uv_loop_close(&f.loop);
    cmon_tests_free(tests, n_tests);
    cmon_monitor_free(m);
    free(text);
}

/* --- ingest: a batch through the writer --- */

#define W_TESTS 4
#define W_ROUNDS 5

static int count_round(void *arg, const struct store_result *r)
{
    (void)r;
    ++*(size_t *)arg;
    return 0;
}

/* Rounds of attempt n stored (each attempt has its own start times). */
static size_t stored_of(struct store *ro, char (*ids)[17], int64_t base, long n)
{
    size_t got = 0;
    struct cmon_errbuf eb;
    int64_t from = base + n * 1000 * CMON_NS_PER_SEC;
    for (int t = 0; t < W_TESTS; t++)
        assert_int_equal(ro->ops->result_query(ro, ids[t], from, from + 1000 * CMON_NS_PER_SEC,
                                               1000, count_round, &got, &eb),
                         CMON_OK);
    return got;
}

static void test_writer_batch(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmon-allocfail-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/cmon.db", dir);
    struct cmon_errbuf eb;
    struct store *s;
    assert_int_equal(store_open(url, STORE_READ_WRITE, &s, &eb), CMON_OK);
    char ids[W_TESTS][17];
    struct store_test t[W_TESTS];
    for (int i = 0; i < W_TESTS; i++) {
        snprintf(ids[i], sizeof ids[i], "%016x", i + 1);
        t[i] = (struct store_test){.id = ids[i], .number = i + 1, .monitor = "m", .group = "g",
                                   .source = "a", .source_address = "a", .source_type = "Agent",
                                   .destination = "d", .destination_address = "127.0.0.1",
                                   .destination_type = "IPv4", .config = "tcp",
                                   .source_resource_id = "", .destination_resource_id = "",
                                   .protocol = CMON_PROTO_TCP, .target = "127.0.0.1", .port = 80,
                                   .frequency_sec = 3600};
    }
    int64_t base = cmon_wall_ns() - 3600 * CMON_NS_PER_SEC;
    assert_int_equal(s->ops->monitor_put(s, "m", "{}", t, W_TESTS, NULL, 0, base, NULL, &eb),
                     CMON_OK);
    store_close(s);
    struct store *ro;
    assert_int_equal(store_open(url, STORE_READ_ONLY, &ro, &eb), CMON_OK);

    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_ERROR, 2, "writer");
    log.min_level = CMON_LOG_ERROR + 1; /* every failure is expected: keep them quiet */
    struct writer *w;
    struct writer_opts wo = {.store_url = url, .log = &log}; /* no timer: only the batches */
    assert_int_equal(writer_start(&wo, &w, &eb), CMON_OK);

    struct cmon_round_result rs[W_TESTS * W_ROUNDS];
    long n, reported = 0;
    for (n = 1;; n++) {
        for (int k = 0; k < W_TESTS * W_ROUNDS; k++) {
            struct cmon_round_result *r = &rs[k];
            memset(r, 0, sizeof *r);
            memcpy(r->test_id, ids[k % W_TESTS], 17);
            r->start_ns = base + n * 1000 * CMON_NS_PER_SEC + (k / W_TESTS) * CMON_NS_PER_SEC;
            r->checks_total = 3;
            r->checks_failed = k % 3 == 0;
            r->has_rtt = true;
            r->rtt_min_ms = 1, r->rtt_avg_ms = 2, r->rtt_max_ms = 3;
            r->dns_ms = r->connect_ms = r->tls_ms = r->first_byte_ms = -1;
        }
        struct writer_batch b = {.agent = "a", .seq = n, .results = rs, .n = W_TESTS * W_ROUNDS};
        bool dup = false;
        fail_at(n);
        enum cmon_err err = writer_results(w, &b, writer_deadline(60000), &dup, &eb);
        bool fired = disarm();
        size_t got = stored_of(ro, ids, base, n);
        if (err != CMON_OK) {
            assert_true(fired);
            assert_int_equal(got, 0); /* nothing half-stored */
            reported++;
        } else {
            assert_false(dup);
            assert_int_equal(got, W_TESTS * W_ROUNDS);
        }
        if (!fired)
            break;
    }
    print_message("writer batch: %ld allocation points, %ld failures reported\n", n - 1, reported);
    assert_true(reported > 0);
    writer_stop(w);
    store_close(ro);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_parse),
        cmocka_unit_test(test_batch_decode),
        cmocka_unit_test(test_sched_put),
        cmocka_unit_test(test_writer_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
