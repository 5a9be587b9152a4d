/* fuzz_time.c: libFuzzer target for the RFC 3339 parser and formatter.
 * Checks the properties callers rely on, aborting when one breaks:
 *   - parsing any bytes is defined (no overflow) and fails or gives an int64;
 *   - parse(format(x)) == x truncated to the ms, for the parsed value and for
 *     the first 8 input bytes taken as a raw int64 (any instant at all). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Formatting truncates to the ms; parsing that back gives the truncated
 * instant, or fails when truncation left int64 (the first partial ms). */
static void check_round_trip(int64_t ns)
{
    char buf[32];
    int64_t back = 0, want;
    cmon_rfc3339(ns, buf, sizeof buf);
    if (strlen(buf) != 24) {
        fprintf(stderr, "format %lld: \"%s\" is not 24 characters\n", (long long)ns, buf);
        abort();
    }
    int rc = cmon_parse_rfc3339(buf, &back);
    int64_t rem = (ns % CMON_NS_PER_MS + CMON_NS_PER_MS) % CMON_NS_PER_MS;
    bool fits = !__builtin_sub_overflow(ns, rem, &want);
    if (fits ? rc != 0 || back != want : rc == 0) {
        fprintf(stderr, "round trip %lld -> \"%s\" -> rc %d, %lld\n", (long long)ns, buf, rc,
                (long long)back);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ns;
    if (cmon_parse_rfc3339(s, &ns) == 0)
        check_round_trip(ns);
    free(s);
    if (size >= sizeof ns) {
        memcpy(&ns, data, sizeof ns);
        check_round_trip(ns);
    }
    return 0;
}
