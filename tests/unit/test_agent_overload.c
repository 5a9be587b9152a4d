/* test_agent_overload.c: an agent runtime given far more work than it can do
 * (runtime.h, scheduler.h Overload) -- real loops, real TCP checks to
 * listeners on 127.0.0.1.  It skips rounds and reports them
 * (agent_runtime_stats) instead of launching them late or failing checks
 * for want of descriptors: no round arrives later than it could had it
 * started within the lateness bound, no check fails with a socket error
 * (EMFILE), almost every check it does make succeeds, and it stops cleanly.
 * Behaviour only: nothing here asserts a speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/runtime.h"
#include "core/clock.h"

#define DESTS 99
#define CONFIGS 20
#define TIMEOUT_MS 1000
#define MAX_LATE_MS 1000 /* the scheduler's default */
#define SPREAD_MS 2000

struct counts {
    atomic_ullong rounds, checks, failed, socket_errors;
    atomic_llong latest_ns; /* the largest (arrival - planned start) of a round */
    char detail[160];       /* a socket error's, for the failure message */
};

static void on_round(void *arg, const struct cmon_round_result *r)
{
    struct counts *c = arg;
    atomic_fetch_add(&c->rounds, 1);
    atomic_fetch_add(&c->checks, r->checks_total);
    atomic_fetch_add(&c->failed, r->checks_failed);
    if (r->diagnostic == CMON_DIAG_SOCKET_ERROR || strncmp(r->detail, "socket", 6) == 0) {
        if (atomic_fetch_add(&c->socket_errors, 1) == 0)
            snprintf(c->detail, sizeof c->detail, "%s", r->detail);
    }
    long long late = (long long)(cmon_wall_ns() - r->start_ns);
    long long seen = atomic_load(&c->latest_ns);
    while (late > seen && !atomic_compare_exchange_weak(&c->latest_ns, &seen, late))
        ;
}

static void on_path(void *arg, const char *id, int64_t t, const struct cmon_path *p)
{
    (void)arg, (void)id, (void)t, (void)p;
}

/* ---- a listener on 127.0.0.1 that accepts and drops (or never accepts) ---- */

struct listener {
    int fd;
    uint16_t port;
    pthread_t thread;
    bool accepting;
};

static void *accept_main(void *arg)
{
    struct listener *ls = arg;
    for (;;) {
        int c = accept(ls->fd, NULL, NULL);
        if (c >= 0)
            close(c);
        else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
            return NULL; /* shut down */
    }
}

static void listener_start(struct listener *ls, bool accepting, int backlog)
{
    ls->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(ls->fd >= 0);
    assert_int_equal(bind(ls->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls->fd, backlog), 0);
    getsockname(ls->fd, (struct sockaddr *)&a, &len);
    ls->port = ntohs(a.sin_port);
    ls->accepting = accepting;
    if (accepting)
        assert_int_equal(pthread_create(&ls->thread, NULL, accept_main, ls), 0);
}

static void listener_stop(struct listener *ls)
{
    shutdown(ls->fd, SHUT_RDWR); /* wakes a blocked accept */
    if (ls->accepting)
        pthread_join(ls->thread, NULL);
    close(ls->fd);
}

/* ---- monitors of up to DESTS x CONFIGS TCP tests to 127.0.0.1:port ---- */

static char *monitor_text(int n, uint16_t port, int checks, int freq)
{
    int dests = n < DESTS ? n : DESTS, configs = (n + dests - 1) / dests;
    json_t *eps = json_array(), *cfgs = json_array(), *dnames = json_array(),
           *cnames = json_array();
    json_array_append_new(eps, json_pack("{s:s, s:s, s:s}", "name", "me", "type", "Agent",
                                         "address", "busy"));
    for (int i = 0; i < dests; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        json_array_append_new(eps, json_pack("{s:s, s:s}", "name", name, "address", "127.0.0.1"));
        json_array_append_new(dnames, json_string(name));
    }
    for (int i = 0; i < configs; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        json_array_append_new(
            cfgs, json_pack("{s:s, s:s, s:i, s:i, s:i, s:{s:i, s:b}}", "name", name, "protocol",
                            "Tcp", "testFrequencySec", freq, "checksPerRound", checks, "timeoutMs",
                            TIMEOUT_MS, "tcpConfiguration", "port", port, "disableTraceRoute", 1));
        json_array_append_new(cnames, json_string(name));
    }
    json_t *m = json_pack("{s:o, s:o, s:[{s:s, s:[s], s:o, s:o}]}", "endpoints", eps,
                          "testConfigurations", cfgs, "testGroups", "name", "g", "sources", "me",
                          "destinations", dnames, "testConfigurations", cnames);
    assert_non_null(m);
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    assert_non_null(text);
    return text;
}

/* Start a runtime of `loops` loops on tests TCP tests and wait until they are applied. */
static struct agent_runtime *busy_runtime(struct counts *c, unsigned loops, long tests,
                                          uint16_t port, int checks)
{
    struct agent_runtime *rt = NULL;
    struct cmon_errbuf eb;
    struct agent_runtime_opts o = {
        .loops = loops, .name = "busy", .sink = {.round = on_round, .path = on_path, .arg = c}};
    if (agent_runtime_start(&o, &rt, &eb) != CMON_OK)
        fail_msg("runtime: %s", eb.msg);
    struct agent_assignment *set = agent_assignment_new();
    assert_non_null(set);
    for (long done = 0, k = 0; done < tests; k++) {
        int n = tests - done > DESTS * CONFIGS ? DESTS * CONFIGS : (int)(tests - done);
        char *text = monitor_text(n, port, checks, 30), name[32];
        snprintf(name, sizeof name, "m%ld", k);
        assert_int_equal(agent_assignment_add(set, name, text), CMON_OK);
        free(text);
        done += n;
    }
    agent_runtime_assign(rt, set);
    int64_t deadline = cmon_mono_ns() + 60 * CMON_NS_PER_SEC;
    while (agent_runtime_applied(rt) == 0 && cmon_mono_ns() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    assert_int_equal(agent_runtime_applied(rt), 1);
    return rt;
}

/* Wait until the runtime reports skips of the kind asked and enough rounds
 * have come back (at most 60 s). */
static void wait_skips(struct agent_runtime *rt, struct counts *c, bool busy,
                       unsigned long long rounds)
{
    struct agent_runtime_stats st = {0};
    int64_t deadline = cmon_mono_ns() + 60 * CMON_NS_PER_SEC;
    while (cmon_mono_ns() < deadline) {
        agent_runtime_stats(rt, &st);
        if ((busy ? st.skipped_busy : st.skipped_late + st.skipped_busy) > 100 &&
            atomic_load(&c->rounds) >= rounds)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    }
    print_message("skipped late %llu busy %llu; rounds %llu, checks %llu, failed %llu\n",
                  (unsigned long long)st.skipped_late, (unsigned long long)st.skipped_busy,
                  atomic_load(&c->rounds), atomic_load(&c->checks), atomic_load(&c->failed));
    assert_true((busy ? st.skipped_busy : st.skipped_late + st.skipped_busy) > 100);
    assert_true(atomic_load(&c->rounds) >= rounds);
}

/* 60,000 checks/s offered (18,000 tests, 100 checks every 30 s) to one loop
 * (a loop does a few thousand to twenty thousand): rounds are skipped, the
 * rounds made run on time and their checks succeed. */
static void more_rounds_than_a_loop_can_run(void **state)
{
    (void)state;
    static struct counts c;
    struct listener ls;
    listener_start(&ls, true, 4096);
    struct agent_runtime *rt = busy_runtime(&c, 1, 18000, ls.port, 100);
    wait_skips(rt, &c, false, 200);
    agent_runtime_stop(rt); /* rounds in flight are dropped: none counted after */
    listener_stop(&ls);
    if (atomic_load(&c.socket_errors))
        fail_msg("%llu rounds with socket errors, e.g. %s", atomic_load(&c.socket_errors),
                 c.detail);
    /* no round started late and then caught up in a burst: each came back
     * within its planned start + the lateness bound (for the round, and
     * again for its last check on a loop running that far behind) + its
     * spread + a check's timeout (+1 s of scheduling noise on a busy
     * machine).  Without the bound, rounds start up to a period (30 s) late. */
    long long bound =
        (long long)(2 * MAX_LATE_MS + SPREAD_MS + TIMEOUT_MS + 1000) * CMON_NS_PER_MS;
    print_message("latest round back %.2f s after its planned start\n",
                  (double)atomic_load(&c.latest_ns) / 1e9);
    if (atomic_load(&c.latest_ns) > bound)
        fail_msg("a round came back %.1f s after its planned start (bound %.1f s)",
                 (double)atomic_load(&c.latest_ns) / 1e9, (double)bound / 1e9);
    /* the checks it made were not starved into failing */
    assert_true(atomic_load(&c.checks) > 0);
    assert_true(atomic_load(&c.failed) * 10 <= atomic_load(&c.checks));
}

/* Checks that hold their descriptor until the timeout (a listener that
 * never accepts: its queue full, SYNs go unanswered) with a descriptor limit
 * far below what they would take: rounds are skipped as busy, and no check
 * fails with EMFILE.  Lowers this process's RLIMIT_NOFILE: the last test. */
static void checks_never_exhaust_descriptors(void **state)
{
    (void)state;
    static struct counts c;
    struct listener ls;
    listener_start(&ls, false, 1);
    struct rlimit rl = {.rlim_cur = 760, .rlim_max = 760}; /* 248 for checks: 512 headroom */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    /* 1,200 tests x 10 checks every 30 s: 400 checks/s, each holding a
     * descriptor for 1 s */
    struct agent_runtime *rt = busy_runtime(&c, 2, 1200, ls.port, 10);
    wait_skips(rt, &c, true, 50);
    agent_runtime_stop(rt);
    listener_stop(&ls);
    if (atomic_load(&c.socket_errors))
        fail_msg("%llu rounds with socket errors, e.g. %s", atomic_load(&c.socket_errors),
                 c.detail);
    assert_true(atomic_load(&c.checks) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(more_rounds_than_a_loop_can_run),
        cmocka_unit_test(checks_never_exhaust_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
