/* cond.h: condition variables timed on CLOCK_MONOTONIC.  A deadline on the
 * wall clock moves when the clock is set (NTP step, an operator), so a
 * "wait one second" could sleep an hour or spin; every timed wait in cmon
 * goes through here instead of building a CLOCK_REALTIME timespec by hand.
 * Threads: the usual pthread rules; the helpers keep no state. */
#ifndef CMON_CORE_COND_H
#define CMON_CORE_COND_H

#include <pthread.h>
#include <stdint.h>

/* pthread_cond_init with the monotonic clock.  0 or an errno value. */
int cmon_cond_init(pthread_cond_t *cv);
/* Wait (mu held) until signalled or until cmon_mono_ns() reaches
 * deadline_ns.  0 when woken (possibly spuriously), ETIMEDOUT at the
 * deadline (also when it has already passed). */
int cmon_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ns);
/* The same for at most rel_ns from now (<= 0: do not sleep). */
int cmon_cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t rel_ns);

#endif
