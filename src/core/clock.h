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

/* Format Unix ns as RFC 3339 UTC with milliseconds (truncated toward the
 * past), "2026-01-02T03:04:05.678Z".  Defined for every int64 (years
 * 1677-2262).  out should hold 25 bytes (longer is truncated).  Returns out. */
char *cmon_rfc3339(int64_t unix_ns, char *out, size_t outlen);
/* Parse RFC 3339: "YYYY-MM-DDThh:mm:ss[.f]Z" or "...+hh:mm"/"-hh:mm", 'T'
 * also 't' or ' ', 'Z' also 'z', 1-9 fraction digits.  0 and *unix_ns set on
 * success; -1, *unix_ns untouched, for anything malformed: not a calendar
 * date (month 13, Feb 30), hour 24, second 60 (leap seconds have no Unix
 * time), an offset beyond 23:59, more than 9 fraction digits, trailing text,
 * or an instant outside int64 ns: before 1677-09-21T00:12:43.145224192Z or
 * after 2262-04-11T23:47:16.854775807Z. */
int cmon_parse_rfc3339(const char *s, int64_t *unix_ns);

#endif
