/* test_alert_notify.c: the senders' pure parts (signature against the RFC
 * 4231 vector, backoff, exact webhook / Alertmanager bodies, exec
 * environment) and the queue with an injected clock: retries wait for the
 * backoff, give up after max_tries, and a full queue refuses jobs.  Real
 * child processes (/bin/true, /bin/false), no network. */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/notify.h"
#include "core/clock.h"
#include "test_support.h"

#define SEC 1000000000LL

static void test_signature_rfc4231(void **state)
{
    (void)state;
    char sig[80];
    const char *data = "what do ya want for nothing?";
    cmon_notify_signature("Jefe", data, strlen(data), sig, sizeof sig);
    assert_string_equal(sig,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(cmon_notify_backoff_ns(SEC, 1), SEC);
    assert_int_equal(cmon_notify_backoff_ns(SEC, 2), 2 * SEC);
    assert_int_equal(cmon_notify_backoff_ns(SEC, 3), 4 * SEC);
    assert_int_equal(cmon_notify_backoff_ns(SEC, 4), 8 * SEC);
    assert_true(cmon_notify_backoff_ns(SEC, 200) > 0); /* no overflow */
}

/* A firing alert like the evaluator makes one. */
static void make_alert(struct cmon_alert_instance *a, enum cmon_alert_state st)
{
    static struct cmon_alert_label labels[] = {
        {"alertname", "loss"}, {"testGroup", "tg1"}, {"destination", "shop"}};
    static char *groups[] = {"ops"};
    *a = (struct cmon_alert_instance){.key = "loss{testGroup=\"tg1\",destination=\"shop\"}",
                                      .rule = "loss",
                                      .labels = labels,
                                      .n_labels = 3,
                                      .state = st,
                                      .severity = 0,
                                      .breaches = 2,
                                      .value = 12.5,
                                      .fired_value = 40,
                                      .pending_ns = 1700001000LL * SEC,
                                      .fired_ns = 1700001060LL * SEC,
                                      .resolved_ns =
                                          st == CMON_ALERT_RESOLVED ? 1700001360LL * SEC : 0,
                                      .last_eval_ns = 1700001060LL * SEC,
                                      .summary = "ChecksFailedPercent Average 40 > 10",
                                      .action_groups = groups,
                                      .n_action_groups = 1};
}

static void test_alertmanager_body(void **state)
{
    (void)state;
    struct cmon_alert_instance a;
    make_alert(&a, CMON_ALERT_FIRING);
    char *s = cmon_notify_am_body(&a, "http://127.0.0.1:8080/alerts");
    assert_string_equal(s, "[{\"labels\":{\"alertname\":\"loss\",\"testGroup\":\"tg1\","
                           "\"destination\":\"shop\",\"severity\":\"critical\"},\"annotations\":"
                           "{\"summary\":\"ChecksFailedPercent Average 40 > 10\",\"value\":\"40\"},"
                           "\"startsAt\":\"2023-11-14T22:31:00.000Z\",\"generatorURL\":"
                           "\"http://127.0.0.1:8080/alerts\"}]");
    free(s);
    make_alert(&a, CMON_ALERT_RESOLVED);
    s = cmon_notify_am_body(&a, NULL);
    assert_string_equal(s, "[{\"labels\":{\"alertname\":\"loss\",\"testGroup\":\"tg1\","
                           "\"destination\":\"shop\",\"severity\":\"critical\"},\"annotations\":"
                           "{\"summary\":\"ChecksFailedPercent Average 40 > 10\",\"value\":"
                           "\"12.5\"},\"startsAt\":\"2023-11-14T22:31:00.000Z\",\"endsAt\":"
                           "\"2023-11-14T22:36:00.000Z\"}]");
    free(s);
}

static void test_webhook_body_and_env(void **state)
{
    (void)state;
    struct cmon_alert_instance a;
    make_alert(&a, CMON_ALERT_RESOLVED);
    char *s = cmon_notify_webhook_body(&a, "ops");
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "resolved");
    assert_string_equal(json_string_value(json_object_get(j, "actionGroup")), "ops");
    json_t *alert = json_object_get(j, "alert");
    assert_string_equal(json_string_value(json_object_get(alert, "endsAt")),
                        "2023-11-14T22:36:00.000Z");
    assert_string_equal(json_string_value(json_object_get(alert, "key")), a.key);
    json_decref(j);
    free(s);
    char **env = cmon_notify_exec_env(&a, "ops");
    const char *want[] = {"CMON_ALERT_EVENT=resolved",
                          "CMON_ALERT_RULE=loss",
                          "CMON_ALERT_KEY=loss{testGroup=\"tg1\",destination=\"shop\"}",
                          "CMON_ALERT_GROUP=ops",
                          "CMON_ALERT_SEVERITY=0",
                          "CMON_ALERT_VALUE=12.5",
                          "CMON_ALERT_FIRED_VALUE=40",
                          "CMON_ALERT_SUMMARY=ChecksFailedPercent Average 40 > 10",
                          "CMON_ALERT_STARTS_AT=2023-11-14T22:31:00.000Z",
                          "CMON_ALERT_ENDS_AT=2023-11-14T22:36:00.000Z",
                          "CMON_ALERT_LABEL_ALERTNAME=loss",
                          "CMON_ALERT_LABEL_TEST_GROUP=tg1",
                          "CMON_ALERT_LABEL_DESTINATION=shop",
                          NULL};
    size_t i = 0;
    for (; want[i]; i++)
        assert_string_equal(env[i], want[i]);
    assert_null(env[i]);
    cmon_notify_env_free(env);
}

/* An injected clock the test moves by hand. */
struct fake_clock {
    pthread_mutex_t mu;
    int64_t now;
};

static int64_t fake_now(void *ctx)
{
    struct fake_clock *c = ctx;
    pthread_mutex_lock(&c->mu);
    int64_t t = c->now;
    pthread_mutex_unlock(&c->mu);
    return t;
}

static void fake_advance(struct fake_clock *c, int64_t d)
{
    pthread_mutex_lock(&c->mu);
    c->now += d;
    pthread_mutex_unlock(&c->mu);
}

/* Poll until the stats satisfy pred (no timing assertion: 60 s is only a cap). */
static struct cmon_notify_stats wait_stats(struct cmon_notifier *n,
                                           bool (*pred)(const struct cmon_notify_stats *))
{
    struct cmon_notify_stats st;
    for (int i = 0; i < 6000; i++) {
        cmon_notifier_stats(n, &st);
        if (pred(&st))
            return st;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    fail_msg("notifier never reached the expected state");
    return st;
}

static bool one_retry(const struct cmon_notify_stats *s)
{
    return s->retried == 1 && s->queued == 1;
}
static bool two_retries(const struct cmon_notify_stats *s)
{
    return s->retried == 2 && s->queued == 1;
}
static bool gave_up(const struct cmon_notify_stats *s)
{
    return s->failed == 1 && !s->queued;
}

static void test_retry_waits_for_backoff(void **state)
{
    (void)state;
    struct fake_clock clk = {PTHREAD_MUTEX_INITIALIZER, 1000 * SEC};
    struct cmon_notify_opts o = {.allow_exec = true,
                                 .max_tries = 3,
                                 .backoff_ns = 10 * SEC,
                                 .now_ns = fake_now,
                                 .clock_ctx = &clk};
    struct cmon_notifier *n;
    struct cmon_errbuf eb;
    assert_int_equal(cmon_notifier_start(&o, &n, &eb), CMON_OK);
    char *argv[] = {"/bin/false", NULL};
    struct cmon_alert_exec ex = {.argv = argv, .argc = 1, .timeout_sec = 5};
    struct cmon_action_group g = {.name = "ops", .execs = &ex, .n_execs = 1};
    struct cmon_alert_instance a;
    make_alert(&a, CMON_ALERT_FIRING);
    assert_int_equal(cmon_notifier_submit(n, &g, &a), CMON_OK);
    wait_stats(n, one_retry);
    /* 9.9 s of injected time later the retry is not due yet */
    fake_advance(&clk, 9900 * 1000000LL);
    cmon_notifier_kick(n);
    assert_false(cmon_notifier_flush(n, SEC / 5));
    struct cmon_notify_stats st;
    cmon_notifier_stats(n, &st);
    assert_int_equal(st.retried, 1);
    fake_advance(&clk, 100 * 1000000LL);
    cmon_notifier_kick(n);
    wait_stats(n, two_retries);
    /* the third try comes 20 s after the second, and is the last */
    fake_advance(&clk, 20 * SEC);
    cmon_notifier_kick(n);
    st = wait_stats(n, gave_up);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.retried, 2);
    cmon_notifier_stop(n);
}

static void test_queue_bound_and_pending(void **state)
{
    (void)state;
    struct fake_clock clk = {PTHREAD_MUTEX_INITIALIZER, 0};
    struct cmon_notify_opts o = {
        .allow_exec = true, .queue_max = 2, .now_ns = fake_now, .clock_ctx = &clk};
    struct cmon_notifier *n;
    assert_int_equal(cmon_notifier_start(&o, &n, NULL), CMON_OK);
    char *argv[] = {"/bin/true", NULL};
    struct cmon_alert_exec ex[3] = {{argv, 1, 5}, {argv, 1, 5}, {argv, 1, 5}};
    struct cmon_action_group g = {.name = "ops", .execs = ex, .n_execs = 3};
    struct cmon_alert_instance a;
    make_alert(&a, CMON_ALERT_PENDING);
    assert_int_equal(cmon_notifier_submit(n, &g, &a), CMON_ERR_INVALID);
    make_alert(&a, CMON_ALERT_RESOLVED);
    assert_int_equal(cmon_notifier_refresh(n, &g, &a), CMON_ERR_INVALID);
    make_alert(&a, CMON_ALERT_FIRING);
    /* a refresh goes to Alertmanagers only: this group has none */
    assert_int_equal(cmon_notifier_refresh(n, &g, &a), CMON_OK);
    cmon_notifier_stats(n, &(struct cmon_notify_stats){0});
    /* 3 jobs into a queue of 2: at least one is refused (the sender may
     * already have taken the first) */
    enum cmon_err rc = cmon_notifier_submit(n, &g, &a);
    assert_true(cmon_notifier_flush(n, 60 * SEC));
    struct cmon_notify_stats st;
    cmon_notifier_stats(n, &st);
    assert_int_equal(st.sent + st.dropped, 3);
    assert_int_equal(rc == CMON_ERR_LIMIT, st.dropped > 0);
    assert_int_equal(st.failed, 0);
    cmon_notifier_stop(n);
}

/* One exec action (argv) for a firing alert, run to its end by a notifier
 * with options o; the notifier's counts after it stopped. */
static struct cmon_notify_stats run_exec(const struct cmon_notify_opts *o, char **argv, int argc)
{
    struct cmon_notifier *n;
    assert_int_equal(cmon_notifier_start(o, &n, NULL), CMON_OK);
    struct cmon_alert_exec ex = {argv, argc, 5};
    struct cmon_action_group g = {.name = "ops", .execs = &ex, .n_execs = 1};
    struct cmon_alert_instance a;
    make_alert(&a, CMON_ALERT_FIRING);
    assert_int_equal(cmon_notifier_submit(n, &g, &a), CMON_OK);
    assert_true(cmon_notifier_flush(n, 60 * SEC));
    struct cmon_notify_stats st;
    cmon_notifier_stats(n, &st);
    cmon_notifier_stop(n);
    return st;
}

static void test_exec_not_found(void **state)
{
    (void)state;
    struct cmon_notify_opts o = {.allow_exec = true, .max_tries = 1};
    char *argv[] = {"/nonexistent/cmon-hook", NULL};
    struct cmon_notify_stats st = run_exec(&o, argv, 1);
    assert_int_equal(st.failed, 1);
}

/* Without allow_exec (no --allow-exec-actions) a stored exec action is
 * not run: counted as dropped and logged, the command never starts. */
static void test_exec_disabled(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmon-exec-XXXXXX", flag[64], logf[64];
    assert_non_null(mkdtemp(dir));
    snprintf(flag, sizeof flag, "%s/ran", dir);
    snprintf(logf, sizeof logf, "%s/log", dir);
    int fd = open(logf, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, fd, "t");
    struct cmon_notify_opts o = {.max_tries = 1, .log = &log};
    char *argv[] = {"/usr/bin/touch", flag, NULL};
    struct cmon_notify_stats st = run_exec(&o, argv, 2);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.sent + st.failed, 0);
    assert_int_equal(access(flag, F_OK), -1);
    char buf[1024] = "";
    assert_true(pread(fd, buf, sizeof buf - 1, 0) > 0);
    assert_non_null(strstr(buf, "msg=\"exec action not run\" group=ops "));
    assert_non_null(strstr(buf, "--allow-exec-actions"));
    close(fd);
    unlink(logf);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_rfc4231),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_alertmanager_body),
        cmocka_unit_test(test_webhook_body_and_env),
        cmocka_unit_test(test_retry_waits_for_backoff),
        cmocka_unit_test(test_queue_bound_and_pending),
        cmocka_unit_test(test_exec_not_found),
        cmocka_unit_test(test_exec_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
