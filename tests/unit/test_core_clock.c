/* test_core_clock.c: the RFC 3339 parser and formatter at their edges: the
 * first and last instants int64 nanoseconds hold and one ns beyond each, the
 * calendar's and the clock's invalid fields, and formatting of any int64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <jansson.h>

#include "core/clock.h"
#include "model/result.h"

#define SENTINEL 4242

struct parse_case {
    const char *in;
    int rc;
    int64_t ns; /* when rc == 0 */
};

static void check_cases(const struct parse_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t ns = SENTINEL;
        int rc = cmon_parse_rfc3339(c[i].in, &ns);
        if (rc != c[i].rc || (rc == 0 && ns != c[i].ns) || (rc != 0 && ns != SENTINEL))
            fail_msg("\"%s\": rc %d ns %lld, want rc %d ns %lld", c[i].in, rc, (long long)ns,
                     c[i].rc, (long long)(c[i].rc == 0 ? c[i].ns : SENTINEL));
    }
}

static void test_parse_int64_bounds(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"1677-09-21T00:12:43.145224192Z", 0, INT64_MIN},
        {"1677-09-21T00:12:43.145224191Z", -1, 0},
        {"1677-09-21T00:12:43Z", -1, 0},
        {"1677-09-21T01:12:43.145224192+01:00", 0, INT64_MIN},
        {"1677-09-21T00:12:43.145224191-00:00", -1, 0},
        {"2262-04-11T23:47:16.854775807Z", 0, INT64_MAX},
        {"2262-04-11T23:47:16.854775808Z", -1, 0},
        {"2262-04-11T23:47:17Z", -1, 0},
        {"2262-04-12T00:47:16.854775807+01:00", 0, INT64_MAX},
        {"2262-04-11T23:47:16.854775808+00:00", -1, 0},
        /* the review's examples: far years used to overflow in the scaling */
        {"0000-01-01T00:00:00Z", -1, 0},
        {"1000-01-01T00:00:00Z", -1, 0},
        {"9999-12-31T23:59:59.999999999Z", -1, 0},
        {"9999-12-31T23:59:59.999999999-23:59", -1, 0},
        {"1969-12-31T23:59:59.999999999Z", 0, -1},
        {"1970-01-01T00:00:00.000000001Z", 0, 1},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_parse_rejects_malformed(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"2026-13-01T00:00:00Z", -1, 0},
        {"2026-00-01T00:00:00Z", -1, 0},
        {"2026-01-32T00:00:00Z", -1, 0},
        {"2026-01-00T00:00:00Z", -1, 0},
        {"2026-02-29T00:00:00Z", -1, 0},
        {"2026-02-30T00:00:00Z", -1, 0},
        {"2026-04-31T00:00:00Z", -1, 0},
        {"1900-02-29T00:00:00Z", -1, 0},
        {"2026-01-02T24:00:00Z", -1, 0},
        {"2026-01-02T23:60:00Z", -1, 0},
        {"2016-12-31T23:59:60Z", -1, 0},
        {"2026-01-02T03:04:05+24:00", -1, 0},
        {"2026-01-02T03:04:05+23:60", -1, 0},
        {"2026-01-02T03:04:05.1234567891Z", -1, 0},
        {"2026-01-02T03:04:05.Z", -1, 0},
        {"2026-01-02T03:04:05Zjunk", -1, 0},
        {"2026-01-02T03:04:05+01:00 ", -1, 0},
        {"2026-01-02T03:04:05", -1, 0},
        {"2026-01-02", -1, 0},
        {"+2026-01-02T03:04:05Z", -1, 0},
        {"2026-1-02T03:04:05Z", -1, 0},
        {"2026-01-02X03:04:05Z", -1, 0},
        {"2026-01-02T03:04:05+0100", -1, 0},
        {"", -1, 0},
        {"2026-01-02T03:04:0\xd9Z", -1, 0},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_parse_accepts(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        {"2024-02-29T00:00:00Z", 0, 1709164800000000000LL},
        {"2000-02-29T00:00:00Z", 0, 951782400000000000LL},
        {"2026-01-02t03:04:05.678z", 0, 1767323045678000000LL},
        {"2026-01-02 03:04:05.678Z", 0, 1767323045678000000LL},
        {"2026-01-02T03:04:05.123456789Z", 0, 1767323045123456789LL},
        {"2026-01-02T03:04:05.1Z", 0, 1767323045100000000LL},
        {"2026-01-02T03:04:05.678-23:59", 0, 1767323045678000000LL + 86340 * CMON_NS_PER_SEC},
        {"2026-01-02T03:04:05.678+23:59", 0, 1767323045678000000LL - 86340 * CMON_NS_PER_SEC},
        {"1900-03-01T00:00:00Z", 0, -2203891200LL * CMON_NS_PER_SEC},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_format_any_int64(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(cmon_rfc3339(INT64_MIN, buf, sizeof buf), "1677-09-21T00:12:43.145Z");
    assert_string_equal(cmon_rfc3339(INT64_MAX, buf, sizeof buf), "2262-04-11T23:47:16.854Z");
    assert_string_equal(cmon_rfc3339(-1, buf, sizeof buf), "1969-12-31T23:59:59.999Z");
    assert_string_equal(cmon_rfc3339(951782400000000000LL, buf, sizeof buf),
                        "2000-02-29T00:00:00.000Z");
    char small[11];
    assert_string_equal(cmon_rfc3339(0, small, sizeof small), "1970-01-01");
}

/* Formatting then parsing gives the instant back, truncated to the ms. */
static void test_round_trip(void **state)
{
    (void)state;
    /* INT64_MIN's ms floor is before int64: its "...43.145Z" is rejected */
    static const int64_t ns[] = {
        INT64_MIN + CMON_NS_PER_MS, -1, 0, 1, 1767323045678999999LL, INT64_MAX - 1, INT64_MAX,
        -2203891200123456789LL};
    int64_t back;
    char buf[32];
    assert_int_equal(cmon_parse_rfc3339(cmon_rfc3339(INT64_MIN, buf, sizeof buf), &back), -1);
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int64_t want = ns[i] - ((ns[i] % CMON_NS_PER_MS + CMON_NS_PER_MS) % CMON_NS_PER_MS);
        assert_int_equal(cmon_parse_rfc3339(cmon_rfc3339(ns[i], buf, sizeof buf), &back), 0);
        assert_int_equal(back, want);
    }
}

/* An agent's result body with a time int64 cannot hold never overflows (it
 * used to in the parser: an abort under UBSan).  One past 2262 is taken as
 * "as late as can be" so the server's clock window refuses that round by
 * name (agent_rounds.c); one before 1678 or not a date is an error. */
static void test_result_body_far_time(void **state)
{
    (void)state;
    json_t *late = json_pack("{s:s, s:s, s:i, s:i}", "testId", "0123456789abcdef", "startTime",
                             "9999-12-31T23:59:59Z", "checksTotal", 1, "checksFailed", 1);
    struct cmon_round_result lr;
    struct cmon_errbuf leb;
    assert_int_equal(cmon_round_from_json(late, &lr, &leb), CMON_OK);
    assert_true(lr.start_ns == INT64_MAX);
    json_decref(late);
    static const char *times[] = {"1000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "testId", "0123456789abcdef", "startTime",
                              times[i], "checksTotal", 1, "checksFailed", 0);
        struct cmon_round_result r;
        struct cmon_errbuf eb;
        assert_int_equal(cmon_round_from_json(j, &r, &eb), CMON_ERR_INVALID);
        assert_non_null(strstr(eb.msg, "startTime"));
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int64_bounds), cmocka_unit_test(test_parse_rejects_malformed),
        cmocka_unit_test(test_parse_accepts),      cmocka_unit_test(test_format_any_int64),
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_result_body_far_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
