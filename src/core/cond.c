/* cond.c: monotonic timed waits (see cond.h).  The deadline is kept as int64
 * monotonic ns, cmon's one duration type, and turned into a timespec only
 * at the pthread call. */
#include "core/cond.h"

#include <errno.h>
#include <time.h>

#include "core/clock.h"

int cmon_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

int cmon_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ns)
{
    if (deadline_ns <= cmon_mono_ns())
        return ETIMEDOUT;
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / CMON_NS_PER_SEC),
                          .tv_nsec = (long)(deadline_ns % CMON_NS_PER_SEC)};
    return pthread_cond_timedwait(cv, mu, &ts);
}

int cmon_cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t rel_ns)
{
    int64_t now = cmon_mono_ns();
    int64_t deadline = rel_ns > INT64_MAX - now ? INT64_MAX : now + rel_ns;
    return cmon_cond_wait_until(cv, mu, deadline);
}
