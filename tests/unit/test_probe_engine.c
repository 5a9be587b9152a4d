/* test_probe_engine.c: the probe engine on real loopback sockets -- TCP and
 * ICMP checks to 127.0.0.1/::1, a closed port, names from the hosts file,
 * a resolv.conf whose only server (127.0.0.1:53) refuses, callbacks exactly
 * once and never from inside start, and close cancelling checks in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/probe.h"

struct got {
    int calls;
    bool in_start; /* set while probe_check_start runs */
    bool called_in_start;
    struct probe_check_result res;
};

static void got_cb(void *arg, const struct probe_check_result *r)
{
    struct got *g = arg;
    g->calls++;
    if (g->in_start)
        g->called_in_start = true;
    g->res = *r;
}

struct env {
    uv_loop_t loop;
    struct probe_engine *eng;
    int listen_fd;
    uint16_t open_port, closed_port;
    char resolv[64];
    int closed;
};

static uint16_t port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static int loopback_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 ? fd : -1;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    uv_loop_init(&e->loop);
    /* the only DNS server is 127.0.0.1:53, where nothing listens */
    snprintf(e->resolv, sizeof e->resolv, "/tmp/cmon-resolv-XXXXXX");
    int fd = mkstemp(e->resolv);
    if (fd < 0 || write(fd, "nameserver 127.0.0.1\n", 21) != 21)
        return -1;
    close(fd);
    struct probe_engine_opts o = {.resolv_conf = e->resolv, .dns_timeout_ms = 1500};
    struct cmon_errbuf eb;
    if (probe_engine_new(&e->loop, &o, &e->eng, &eb) != CMON_OK)
        return -1;
    e->listen_fd = loopback_socket();
    if (e->listen_fd < 0 || listen(e->listen_fd, 64) != 0)
        return -1;
    e->open_port = port_of(e->listen_fd);
    int c = loopback_socket();
    e->closed_port = port_of(c);
    close(c);
    *state = e;
    return 0;
}

static void closed_cb(void *arg)
{
    ((struct env *)arg)->closed++;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->eng)
        probe_engine_close(e->eng, closed_cb, e);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    close(e->listen_fd);
    unlink(e->resolv);
    free(e);
    return 0;
}

static void run_check(struct env *e, const struct probe_target *t, struct got *g)
{
    memset(g, 0, sizeof *g);
    g->in_start = true;
    assert_int_equal(probe_check_start(e->eng, t, got_cb, g), CMON_OK);
    g->in_start = false;
    for (int i = 0; i < 5000 && g->calls == 0; i++)
        uv_run(&e->loop, UV_RUN_ONCE);
    assert_int_equal(g->calls, 1);
    assert_false(g->called_in_start);
}

static void test_tcp_open_and_closed(void **state)
{
    struct env *e = *state;
    struct got g;
    struct probe_target t = {
        .proto = CMON_PROTO_TCP, .host = "127.0.0.1", .port = e->open_port, .timeout_ms = 2000};
    run_check(e, &t, &g);
    assert_true(g.res.ok);
    assert_int_equal(g.res.diag, CMON_DIAG_NONE);
    assert_true(g.res.rtt_ms > 0);
    assert_true(g.res.connect_ms == g.res.rtt_ms);
    assert_string_equal(g.res.address, "127.0.0.1");
    assert_true(g.res.dns_ms < 0); /* a literal: no DNS */

    t.port = e->closed_port;
    run_check(e, &t, &g);
    assert_false(g.res.ok);
    assert_int_equal(g.res.diag, CMON_DIAG_CONNECTION_REFUSED);
    assert_string_equal(g.res.detail, "connect: errno 111 (Connection refused)");
}

static void test_icmp_loopback(void **state)
{
    struct env *e = *state;
    struct got g;
    struct probe_target t = {.proto = CMON_PROTO_ICMP, .host = "127.0.0.1", .timeout_ms = 2000};
    run_check(e, &t, &g);
    if (g.res.diag == CMON_DIAG_PERMISSION_DENIED)
        skip(); /* neither ICMP datagram sockets nor CAP_NET_RAW here */
    assert_true(g.res.ok);
    assert_true(g.res.rtt_ms > 0);
    t.host = "::1";
    run_check(e, &t, &g);
    if (g.res.diag == CMON_DIAG_SOCKET_ERROR)
        skip(); /* no IPv6 on this host */
    assert_true(g.res.ok);
    assert_string_equal(g.res.address, "::1");
}

static void test_names(void **state)
{
    struct env *e = *state;
    struct got g;
    /* the hosts file answers without any DNS traffic */
    struct probe_target t = {.proto = CMON_PROTO_TCP,
                             .host = "localhost",
                             .port = e->open_port,
                             .timeout_ms = 2000,
                             .ip_pref = CMON_IP_V4,
                             .ip_strict = true};
    run_check(e, &t, &g);
    assert_true(g.res.ok);
    assert_string_equal(g.res.address, "127.0.0.1");
    /* a name the hosts file lacks goes to 127.0.0.1:53, which refuses */
    t.host = "no-such-name.invalid";
    run_check(e, &t, &g);
    assert_false(g.res.ok);
    assert_int_equal(g.res.diag, CMON_DIAG_DNS_SERVFAIL);
    assert_string_equal(g.res.address, "");
    /* a literal of the family we may not use */
    t.host = "127.0.0.1";
    t.ip_pref = CMON_IP_V6;
    run_check(e, &t, &g);
    assert_int_equal(g.res.diag, CMON_DIAG_NO_ADDRESS);
}

static void test_bad_targets(void **state)
{
    struct env *e = *state;
    struct got g = {0};
    struct probe_target t = {.proto = CMON_PROTO_TCP, .host = "", .port = 1, .timeout_ms = 100};
    assert_int_equal(probe_check_start(e->eng, &t, got_cb, &g), CMON_ERR_INVALID);
    t.host = "127.0.0.1";
    t.timeout_ms = 0;
    assert_int_equal(probe_check_start(e->eng, &t, got_cb, &g), CMON_ERR_INVALID);
    t.proto = (enum cmon_protocol)42;
    t.timeout_ms = 100;
    assert_int_equal(probe_check_start(e->eng, &t, got_cb, &g), CMON_ERR_UNSUPPORTED);
    assert_int_equal(g.calls, 0);
}

static void test_close_cancels(void **state)
{
    struct env *e = *state;
    struct got g[3];
    memset(g, 0, sizeof g);
    struct probe_target tcp = {
        .proto = CMON_PROTO_TCP, .host = "127.0.0.1", .port = e->open_port, .timeout_ms = 2000};
    struct probe_target icmp = {.proto = CMON_PROTO_ICMP, .host = "127.0.0.1", .timeout_ms = 2000};
    struct probe_target dns = {
        .proto = CMON_PROTO_TCP, .host = "cancel-me.invalid", .port = 1, .timeout_ms = 2000};
    assert_int_equal(probe_check_start(e->eng, &tcp, got_cb, &g[0]), CMON_OK);
    assert_int_equal(probe_check_start(e->eng, &icmp, got_cb, &g[1]), CMON_OK);
    assert_int_equal(probe_check_start(e->eng, &dns, got_cb, &g[2]), CMON_OK);
    probe_engine_close(e->eng, closed_cb, e);
    assert_int_equal(probe_check_start(e->eng, &tcp, got_cb, &g[0]), CMON_ERR_INVALID);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    e->eng = NULL;
    assert_int_equal(e->closed, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_false(g[i].res.ok);
        assert_int_equal(g[i].res.diag, CMON_DIAG_TIMEOUT);
        assert_string_equal(g[i].res.detail, "cancelled");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp_open_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
