/* clock.h: the only place cmon reads clocks.  Pure modules (model, state,
 * alert evaluation) never call these; they take times as arguments. */
#ifndef CMON_CORE_CLOCK_H
#define CMON_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CMON_NS_PER_MS 1000000LL
#define CMON_NS_PER_SEC 1000000000LL

/* Monotonic nanoseconds (CLOCK_MONOTONIC): for durations and timers. */
int64_t cmon_mono_ns(void);
/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME): for records. */
int64_t cmon_wall_ns(void);

/* Format Unix ns as RFC 3339 UTC with milliseconds, "2026-01-02T03:04:05.678Z".
 * out must hold at least 32 bytes.  Returns out. */
char *cmon_rfc3339(int64_t unix_ns, char *out, size_t outlen);
/* Parse RFC 3339 ("...Z" or "+hh:mm", optional fraction).  0 on success. */
int cmon_parse_rfc3339(const char *s, int64_t *unix_ns);

#endif
