/* test_server_ingest.c: the server's in-process entry points on a real
 * server (127.0.0.1, a port from the PID) and a real SQLite store: applying
 * monitors (validation problems, the monitor limit), and the embedded
 * agent's path into the ingest queue -- rounds are stored, states evaluated
 * with reasons, stale rounds give Indeterminate, stop drains the queue. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "server/server.h"
#include "store/store.h"
#include "test_support.h"

static const char monitor_json[] =
    "{\"name\": \"m\", \"properties\": {\n"
    " \"endpoints\": [{\"name\": \"local\", \"type\": \"Agent\", \"address\": \"local\"},\n"
    "   {\"name\": \"v4\", \"address\": \"127.0.0.1\"}],\n"
    " \"testConfigurations\": [\n"
    "   {\"name\": \"tcp\", \"protocol\": \"Tcp\", \"testFrequencySec\": 30,\n"
    "    \"tcpConfiguration\": {\"port\": 1},\n"
    "    \"successThreshold\": {\"checksFailedPercent\": 5, \"roundTripTimeMs\": 50}},\n"
    "   {\"name\": \"ping\", \"protocol\": \"Icmp\", \"testFrequencySec\": 30}],\n"
    " \"testGroups\": [{\"name\": \"g\", \"sources\": [\"local\"], \"destinations\": [\"v4\"],\n"
    "   \"testConfigurations\": [\"tcp\", \"ping\"]}]}}";

struct fixture {
    char dir[64], url[128], listen[32];
    struct cmon_server *srv;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cmon-srv-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s/cmon.db", f->dir);
    struct cmon_errbuf eb;
    for (int i = 0; i < 20 && !f->srv; i++) {
        snprintf(f->listen, sizeof f->listen, "127.0.0.1:%d", 40000 + (getpid() + i) % 20000);
        struct cmon_server_opts o = {.listen = f->listen, .store_url = f->url, .max_monitors = 2};
        if (cmon_server_start(&o, &f->srv, &eb) != CMON_OK)
            f->srv = NULL;
    }
    if (!f->srv)
        fail_msg("server start: %s", eb.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cmon_server_stop(f->srv);
    assert_int_equal(test_rm_rf(f->dir), 0);
    free(f);
    return 0;
}

struct seen {
    int n;
    char id[4][17], reason[4][200];
    enum cmon_state state[4];
};

static int collect(void *arg, const struct store_test *t)
{
    struct seen *s = arg;
    if (s->n < 4) {
        snprintf(s->id[s->n], 17, "%s", t->id);
        snprintf(s->reason[s->n], 200, "%s", t->reason);
        s->state[s->n++] = t->state;
    }
    return 0;
}

static void read_tests(const char *url, struct seen *s)
{
    struct store *st;
    struct cmon_errbuf eb;
    assert_int_equal(store_open(url, STORE_READ_ONLY, &st, &eb), CMON_OK);
    memset(s, 0, sizeof *s);
    assert_int_equal(st->ops->test_query(st, NULL, collect, s, &eb), CMON_OK);
    store_close(st);
}

static void test_apply_and_embedded_rounds(void **state)
{
    struct fixture *f = *state;
    struct cmon_problems probs = {0};
    struct cmon_errbuf eb;
    bool created = false;
    assert_int_equal(cmon_server_apply_monitor(f->srv, NULL, "ignored", monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    assert_true(created);
    assert_false(cmon_server_auth_required(f->srv));
    char want_url[64];
    snprintf(want_url, sizeof want_url, "http://%s", f->listen);
    assert_string_equal(cmon_server_url(f->srv), want_url);

    struct seen s;
    read_tests(f->url, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.state[0], CMON_STATE_INDETERMINATE);

    int64_t now = cmon_wall_ns();
    struct cmon_round_result r[2] = {0};
    snprintf(r[0].test_id, sizeof r[0].test_id, "%s", s.id[0]);
    r[0].start_ns = now;
    r[0].checks_total = 10;
    r[0].checks_failed = 10;
    r[0].diagnostic = CMON_DIAG_CONNECTION_REFUSED;
    snprintf(r[0].detail, sizeof r[0].detail, "errno 111");
    r[0].dns_ms = r[0].connect_ms = r[0].tls_ms = r[0].first_byte_ms = -1;
    r[1] = r[0];
    snprintf(r[1].test_id, sizeof r[1].test_id, "%s", s.id[1]);
    r[1].start_ns = now - 200 * CMON_NS_PER_SEC; /* older than 2 x 30 s + 30 s */
    r[1].checks_failed = 0;
    r[1].diagnostic = CMON_DIAG_NONE;
    r[1].detail[0] = '\0';
    r[1].has_rtt = true;
    r[1].rtt_avg_ms = r[1].rtt_min_ms = r[1].rtt_max_ms = 0.1;
    assert_int_equal(cmon_server_submit_rounds(f->srv, "local", r, 2, &eb), CMON_OK);
    cmon_server_stop(f->srv); /* drains the queue */
    f->srv = NULL;
    read_tests(f->url, &s);
    assert_int_equal(s.state[0], CMON_STATE_FAIL);
    assert_string_equal(s.reason[0], "ChecksFailedPercent 100 > 5; connection_refused (errno 111)");
    assert_int_equal(s.state[1], CMON_STATE_INDETERMINATE);
    /* restart for teardown */
    struct cmon_server_opts o = {.listen = f->listen, .store_url = f->url};
    assert_int_equal(cmon_server_start(&o, &f->srv, &eb), CMON_OK);
}

static void test_apply_errors(void **state)
{
    struct fixture *f = *state;
    struct cmon_problems probs = {0};
    struct cmon_errbuf eb;
    bool created;
    const char *bad = "{\"properties\": {\"endpoints\": []}}";
    assert_int_equal(
        cmon_server_apply_monitor(f->srv, "x", NULL, bad, strlen(bad), &created, &probs, &eb),
        CMON_ERR_INVALID);
    assert_true(probs.n > 0);
    cmon_problems_free(&probs);
    /* the monitor limit (2 here) counts new monitors only */
    assert_int_equal(cmon_server_apply_monitor(f->srv, "a", NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    assert_int_equal(cmon_server_apply_monitor(f->srv, "b", NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    assert_int_equal(cmon_server_apply_monitor(f->srv, "c", NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_ERR_LIMIT);
    assert_string_equal(eb.msg, "this server holds at most 2 connection monitors");
    assert_int_equal(cmon_server_apply_monitor(f->srv, "b", NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    assert_false(created);
}

/* Poll the store (read-only) until test idx has the wanted state; 0 on success. */
static int wait_state(const char *url, int idx, enum cmon_state want, struct seen *s)
{
    for (int i = 0; i < 400; i++) {
        read_tests(url, s);
        if (s->n > idx && s->state[idx] == want)
            return 0;
        usleep(50 * 1000);
    }
    return -1;
}

static int64_t fake_now(void *ctx)
{
    return atomic_load((_Atomic int64_t *)ctx);
}

/* A test whose last round grows older than 2 x frequency + 30 s turns
 * Indeterminate through the writer's timer jobs, not through ingest: on an
 * injected clock, moved past the limit, then one tick (no waiting). */
static void test_timer_turns_silent_tests_indeterminate(void **state)
{
    struct fixture *f = *state;
    cmon_server_stop(f->srv);
    _Atomic int64_t now = cmon_wall_ns();
    struct cmon_server_opts o = {.listen = f->listen,
                                 .store_url = f->url,
                                 .eval_interval_ms = 3600 * 1000, /* ticks: ours only */
                                 .now_ns = fake_now,
                                 .clock_ctx = &now};
    struct cmon_errbuf eb;
    assert_int_equal(cmon_server_start(&o, &f->srv, &eb), CMON_OK);
    struct cmon_problems probs = {0};
    bool created;
    assert_int_equal(cmon_server_apply_monitor(f->srv, NULL, NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    struct seen s;
    read_tests(f->url, &s);
    struct cmon_round_result r = {0};
    snprintf(r.test_id, sizeof r.test_id, "%s", s.id[0]);
    r.start_ns = atomic_load(&now) - 88 * CMON_NS_PER_SEC; /* 2 s before the 90 s limit */
    r.checks_total = 10;
    r.has_rtt = true;
    r.rtt_avg_ms = r.rtt_min_ms = r.rtt_max_ms = 0.1;
    r.dns_ms = r.connect_ms = r.tls_ms = r.first_byte_ms = -1;
    assert_int_equal(cmon_server_submit_rounds(f->srv, "local", &r, 1, &eb), CMON_OK);
    /* the tick is queued behind the round: done means the round is stored */
    assert_int_equal(cmon_server_tick(f->srv, &eb), CMON_OK);
    read_tests(f->url, &s);
    assert_int_equal(s.state[0], CMON_STATE_PASS);
    atomic_fetch_add(&now, 1 * CMON_NS_PER_SEC); /* 89 s: still within the limit */
    assert_int_equal(cmon_server_tick(f->srv, &eb), CMON_OK);
    read_tests(f->url, &s);
    assert_int_equal(s.state[0], CMON_STATE_PASS);
    atomic_fetch_add(&now, 2 * CMON_NS_PER_SEC); /* 91 s */
    assert_int_equal(cmon_server_tick(f->srv, &eb), CMON_OK);
    read_tests(f->url, &s);
    assert_int_equal(s.state[0], CMON_STATE_INDETERMINATE);
    assert_non_null(strstr(s.reason[0], "(expected every 30 s)"));
    cmon_server_stop(f->srv); /* before `now` goes out of scope */
    struct cmon_server_opts o2 = {.listen = f->listen, .store_url = f->url};
    assert_int_equal(cmon_server_start(&o2, &f->srv, &eb), CMON_OK);
}

/* Several rounds of one test in one transaction: the newest decides. */
static void test_latest_round_in_a_batch_decides(void **state)
{
    struct fixture *f = *state;
    struct cmon_problems probs = {0};
    struct cmon_errbuf eb;
    bool created;
    assert_int_equal(cmon_server_apply_monitor(f->srv, NULL, NULL, monitor_json,
                                               strlen(monitor_json), &created, &probs, &eb),
                     CMON_OK);
    struct seen s;
    read_tests(f->url, &s);
    int64_t now = cmon_wall_ns();
    struct cmon_round_result r[3] = {0};
    for (int i = 0; i < 3; i++) {
        snprintf(r[i].test_id, sizeof r[i].test_id, "%s", s.id[0]);
        r[i].checks_total = 10;
        r[i].has_rtt = true;
        r[i].rtt_avg_ms = r[i].rtt_min_ms = r[i].rtt_max_ms = 0.1;
        r[i].dns_ms = r[i].connect_ms = r[i].tls_ms = r[i].first_byte_ms = -1;
    }
    r[0].start_ns = now - 20 * CMON_NS_PER_SEC; /* Pass, stored first */
    r[1].start_ns = now - 10 * CMON_NS_PER_SEC; /* Fail ... */
    r[1].checks_failed = 10;
    r[1].has_rtt = false;
    r[1].diagnostic = CMON_DIAG_TIMEOUT;
    r[2].start_ns = now; /* ... then Pass again, in the same batch */
    assert_int_equal(cmon_server_submit_rounds(f->srv, "local", &r[0], 1, &eb), CMON_OK);
    assert_int_equal(wait_state(f->url, 0, CMON_STATE_PASS, &s), 0);
    assert_int_equal(cmon_server_submit_rounds(f->srv, "local", &r[1], 2, &eb), CMON_OK);
    cmon_server_stop(f->srv);
    f->srv = NULL;
    read_tests(f->url, &s);
    assert_int_equal(s.state[0], CMON_STATE_PASS);
    struct cmon_server_opts o = {.listen = f->listen, .store_url = f->url};
    assert_int_equal(cmon_server_start(&o, &f->srv, &eb), CMON_OK);
}

static void test_listen_rules(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmon-srv2-XXXXXX", url[64];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/cmon.db", dir);
    struct cmon_server *srv = NULL;
    struct cmon_errbuf eb;
    struct cmon_server_opts o = {.listen = "0.0.0.0:1", .store_url = url};
    assert_int_equal(cmon_server_start(&o, &srv, &eb), CMON_ERR_PERM);
    assert_non_null(strstr(eb.msg, "refusing to listen on 0.0.0.0:1 without tokens"));
    o.listen = "127.0.0.1";
    assert_int_equal(cmon_server_start(&o, &srv, &eb), CMON_ERR_INVALID);
    o.listen = "127.0.0.1:70000";
    assert_int_equal(cmon_server_start(&o, &srv, &eb), CMON_ERR_INVALID);
    assert_int_equal(test_rm_rf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_and_embedded_rounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_turns_silent_tests_indeterminate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_latest_round_in_a_batch_decides, setup, teardown),
        cmocka_unit_test(test_listen_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
