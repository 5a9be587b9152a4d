/* test_log.c: the logfmt writer (core/log.h) keeps one event on one line
 * whatever a value holds: quoted values are escaped, bare ones are quoted
 * when they need it, and other conversions print as printf would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* The line written for one call, without "ts=... level=... " and the newline. */
static void logged(char *out, size_t cap, const char *value)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, p[1], NULL);
    cmon_info(&log, "m\"sg\n", "q=\"%s\" bare=%s n=%zu neg=%lld o=%04o cut=%.3s pct=%d%%", value,
              value, (size_t)42, -7LL, 0755u, "abcdef", 5);
    close(p[1]);
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(strchr(buf, '\n') - buf, n - 1); /* one line */
    const char *msg = strstr(buf, " msg=");
    assert_non_null(msg);
    snprintf(out, cap, "%.*s", (int)(n - 1 - (msg + 1 - buf)), msg + 1);
}

static void test_plain(void **state)
{
    (void)state;
    char line[1024];
    logged(line, sizeof line, "1.0");
    assert_string_equal(line, "msg=\"m\\\"sg\\n\" q=\"1.0\" bare=1.0 n=42 neg=-7 o=0755 cut=abc "
                              "pct=5%");
}

static void test_forgery(void **state)
{
    (void)state;
    char line[1024];
    logged(line, sizeof line, "1.0\nts=x level=error msg=\"forged\" \\ \x01");
    assert_string_equal(line,
                        "msg=\"m\\\"sg\\n\" q=\"1.0\\nts=x level=error msg=\\\"forged\\\" \\\\ "
                        "\\x01\" bare=\"1.0\\nts=x level=error msg=\\\"forged\\\" \\\\ \\x01\" "
                        "n=42 neg=-7 o=0755 cut=abc pct=5%");
    logged(line, sizeof line, "a b=c");
    assert_non_null(strstr(line, " bare=\"a b=c\" "));
    logged(line, sizeof line, "");
    assert_non_null(strstr(line, " bare=\"\" "));
    logged(line, sizeof line, "tab\there\rcr\x7f");
    assert_non_null(strstr(line, " bare=\"tab\\there\\rcr\\x7f\" "));
    logged(line, sizeof line, "say \"hi\"");
    assert_non_null(strstr(line, " bare=\"say \\\"hi\\\"\" "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_forgery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
