/* test_pg_text.c: the numbers PostgreSQL's ingest sends as text (pg_i64,
 * pg_dbl) read back exactly: the short decimal path and the 17-digit one
 * each give the very double they were given, over RTTs made from whole
 * nanoseconds, percentages, and values that need every digit.  No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"

static void check_dbl(double v)
{
    char buf[32];
    const char *s = pg_dbl(buf, true, v);
    assert_non_null(s);
    char *end;
    double back = strtod(s, &end);
    assert_int_equal(*end, '\0');
    if (back != v) /* cmocka prints numbers as integers: say which */
        fail_msg("%.17g printed as '%s' reads back as %.17g", v, s, back);
}

static void test_dbl_exact(void **state)
{
    (void)state;
    static const double fixed[] = {0, 1, -1, 0.1, 0.2, 0.3, 100, 30, 33.333333333333336,
                                   0.000001, 0.0000015, -0.5, 999999999.999999, 1e9, 1e300,
                                   -1e-300, 5e-324, 0.30000000000000004, 1.0 / 3, 2.5e-7};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_dbl(fixed[i]);
    /* RTTs as the probes make them: whole nanoseconds to milliseconds */
    for (int64_t ns = 1; ns < 5000000000LL; ns = ns * 3 + 7)
        check_dbl((double)ns / 1e6);
    /* percentages of checks failed and averages */
    for (int failed = 0; failed <= 30; failed++)
        for (int total = 1; total <= 30; total++)
            check_dbl(100.0 * failed / total);
    srand(7);
    for (int i = 0; i < 20000; i++)
        check_dbl(((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 24 - 12));
}

static void test_dbl_short_and_null(void **state)
{
    (void)state;
    char buf[32];
    assert_null(pg_dbl(buf, false, 1.5));
    assert_string_equal(pg_dbl(buf, true, 0.2), "0.2");
    assert_string_equal(pg_dbl(buf, true, 30), "30");
    assert_string_equal(pg_dbl(buf, true, -0.000005), "-0.000005");
    assert_string_equal(pg_dbl(buf, true, 1234.5), "1234.5");
    assert_string_equal(pg_dbl(buf, true, (double)123456789 / 1e6), "123.456789");
}

static void test_i64(void **state)
{
    (void)state;
    char buf[24];
    assert_string_equal(pg_i64(buf, 0), "0");
    assert_string_equal(pg_i64(buf, -42), "-42");
    assert_string_equal(pg_i64(buf, INT64_MAX), "9223372036854775807");
    assert_string_equal(pg_i64(buf, INT64_MIN), "-9223372036854775808");
    assert_string_equal(pg_i64(buf, 1764770000123456789LL), "1764770000123456789");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dbl_exact),
        cmocka_unit_test(test_dbl_short_and_null),
        cmocka_unit_test(test_i64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
