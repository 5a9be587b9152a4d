/* clock.c: clock reads and RFC 3339 formatting/parsing.
 * The calendar arithmetic is done here in int64 (days from the civil date,
 * H. Hinnant's algorithm) rather than with timegm/gmtime: those normalise
 * nonsense like Feb 30 silently and depend on time_t, and cmon's one time
 * type is int64 Unix nanoseconds, so the parser's job is to say exactly
 * which strings map into that range. */
#include "core/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEC_PER_DAY 86400LL

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * CMON_NS_PER_SEC + ts.tv_nsec;
}

int64_t cmon_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}
int64_t cmon_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any int64-safe year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse: a day count to year, month (1-12), day (1-31). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

char *cmon_rfc3339(int64_t unix_ns, char *out, size_t outlen)
{
    /* Floor division, so instants before 1970 keep a non-negative fraction;
     * every int64 lands in years 1677-2262, so the fields fit their widths. */
    int64_t sec = unix_ns / CMON_NS_PER_SEC, rem = unix_ns % CMON_NS_PER_SEC;
    if (rem < 0) {
        rem += CMON_NS_PER_SEC;
        sec -= 1;
    }
    int64_t days = sec / SEC_PER_DAY, sod = sec % SEC_PER_DAY;
    if (sod < 0) {
        sod += SEC_PER_DAY;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), (int)(rem / CMON_NS_PER_MS));
    return out;
}

static bool digits(const char **p, int n, int *val)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (**p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *val = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* "YYYY-MM-DD", a real calendar date. */
static bool parse_date(const char **p, int *y, int *mo, int *d)
{
    return digits(p, 4, y) && expect(p, '-') && digits(p, 2, mo) && expect(p, '-') &&
           digits(p, 2, d) && *mo >= 1 && *mo <= 12 && *d >= 1 && *d <= days_in_month(*y, *mo);
}

/* "hh:mm:ss[.f{1,9}]" into seconds of the day and nanoseconds.  Second 60
 * (a leap second) is rejected: Unix time has no leap seconds, cmon never
 * writes one, and folding it into :59 would make two inputs one instant. */
static bool parse_time(const char **p, int64_t *sod, int64_t *frac)
{
    int h, mi, se;
    if (!digits(p, 2, &h) || !expect(p, ':') || !digits(p, 2, &mi) || !expect(p, ':') ||
        !digits(p, 2, &se) || h > 23 || mi > 59 || se > 59)
        return false;
    *sod = h * 3600LL + mi * 60LL + se;
    *frac = 0;
    if (**p != '.')
        return true;
    (*p)++;
    int n = 0;
    for (int64_t scale = CMON_NS_PER_SEC; **p >= '0' && **p <= '9'; (*p)++, n++) {
        if (n == 9)
            return false; /* below a nanosecond: not representable */
        scale /= 10;
        *frac += (**p - '0') * scale;
    }
    return n > 0;
}

/* "Z" or "+hh:mm"/"-hh:mm" (at most 23:59) into seconds east of UTC. */
static bool parse_offset(const char **p, int64_t *offset)
{
    *offset = 0;
    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        return true;
    }
    if (**p != '+' && **p != '-')
        return false;
    int sign = **p == '-' ? -1 : 1, oh, om;
    (*p)++;
    if (!digits(p, 2, &oh) || !expect(p, ':') || !digits(p, 2, &om) || oh > 23 || om > 59)
        return false;
    *offset = sign * (oh * 3600LL + om * 60LL);
    return true;
}

int cmon_parse_rfc3339(const char *s, int64_t *unix_ns)
{
    const char *p = s;
    int y, mo, d;
    int64_t sod, frac, offset;
    if (!parse_date(&p, &y, &mo, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (!parse_time(&p, &sod, &frac) || !parse_offset(&p, &offset) || *p)
        return -1;
    /* Years 0000-9999 keep seconds far inside int64; only the scaling to
     * nanoseconds can leave it (before 1677-09-21, after 2262-04-11). */
    int64_t sec = days_from_civil(y, mo, d) * SEC_PER_DAY + sod - offset, ns;
    if (sec < 0 && frac > 0) { /* so the earliest instant does not overflow midway */
        sec += 1;
        frac -= CMON_NS_PER_SEC;
    }
    if (__builtin_mul_overflow(sec, CMON_NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac, &ns))
        return -1;
    *unix_ns = ns;
    return 0;
}
