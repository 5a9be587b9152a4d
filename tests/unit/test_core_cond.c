/* test_core_cond.c: timed waits on the monotonic clock (core/cond.h): a wait
 * lasts at least its time (a condition left on the wall clock would take the
 * monotonic deadline as long past and return at once), a past deadline does
 * not sleep, and a signal wakes the waiter long before its deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/clock.h"
#include "core/cond.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool flag;
};

static void init_waiter(struct waiter *w)
{
    pthread_mutex_init(&w->mu, NULL);
    assert_int_equal(cmon_cond_init(&w->cv), 0);
    w->flag = false;
}

static void free_waiter(struct waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static void test_wait_lasts_its_time(void **state)
{
    (void)state;
    struct waiter w;
    init_waiter(&w);
    pthread_mutex_lock(&w.mu);
    int64_t start = cmon_mono_ns();
    int rc = 0;
    while (rc != ETIMEDOUT) /* a spurious wake returns 0: wait again */
        rc = cmon_cond_wait_until(&w.cv, &w.mu, start + 50 * CMON_NS_PER_MS);
    assert_true(cmon_mono_ns() - start >= 50 * CMON_NS_PER_MS);
    start = cmon_mono_ns();
    rc = 0;
    while (rc != ETIMEDOUT)
        rc = cmon_cond_wait_ns(&w.cv, &w.mu, 20 * CMON_NS_PER_MS);
    assert_true(cmon_mono_ns() - start >= 20 * CMON_NS_PER_MS);
    pthread_mutex_unlock(&w.mu);
    free_waiter(&w);
}

static void test_past_deadline(void **state)
{
    (void)state;
    struct waiter w;
    init_waiter(&w);
    pthread_mutex_lock(&w.mu);
    assert_int_equal(cmon_cond_wait_until(&w.cv, &w.mu, cmon_mono_ns() - 1), ETIMEDOUT);
    assert_int_equal(cmon_cond_wait_until(&w.cv, &w.mu, INT64_MIN), ETIMEDOUT);
    assert_int_equal(cmon_cond_wait_ns(&w.cv, &w.mu, 0), ETIMEDOUT);
    assert_int_equal(cmon_cond_wait_ns(&w.cv, &w.mu, -5), ETIMEDOUT);
    pthread_mutex_unlock(&w.mu);
    free_waiter(&w);
}

static void *signaller(void *arg)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->flag = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void test_signal_wakes(void **state)
{
    (void)state;
    struct waiter w;
    init_waiter(&w);
    pthread_t t;
    pthread_mutex_lock(&w.mu);
    assert_int_equal(pthread_create(&t, NULL, signaller, &w), 0);
    int rc = 0;
    while (!w.flag && rc == 0) /* an hour: only the signal ends this */
        rc = cmon_cond_wait_ns(&w.cv, &w.mu, 3600 * CMON_NS_PER_SEC);
    assert_int_equal(rc, 0);
    assert_true(w.flag);
    pthread_mutex_unlock(&w.mu);
    pthread_join(t, NULL);
    free_waiter(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_lasts_its_time),
        cmocka_unit_test(test_past_deadline),
        cmocka_unit_test(test_signal_wakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
