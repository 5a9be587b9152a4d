/* test_core.c: error text, RFC 3339 round trips, log formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/nofile.h"
#include "core/text.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(cmon_strerror(CMON_OK), "success");
    assert_string_equal(cmon_strerror(CMON_ERR_NOMEM), "out of memory");
    assert_string_equal(cmon_strerror((enum cmon_err)999), "unknown error");
    struct cmon_errbuf eb;
    assert_int_equal(cmon_fail(&eb, CMON_ERR_IO, "open %s", "x"), CMON_ERR_IO);
    assert_string_equal(eb.msg, "open x");
    assert_int_equal(cmon_fail(NULL, CMON_ERR_IO, "ignored"), CMON_ERR_IO);
}

static void test_rfc3339(void **state)
{
    (void)state;
    char buf[40];
    assert_string_equal(cmon_rfc3339(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(cmon_rfc3339(1767323045678000000LL, buf, sizeof buf),
                        "2026-01-02T03:04:05.678Z");
    int64_t ns;
    assert_int_equal(cmon_parse_rfc3339("2026-01-02T03:04:05.678Z", &ns), 0);
    assert_int_equal(ns, 1767323045678000000LL);
    assert_int_equal(cmon_parse_rfc3339("2026-01-02T04:04:05.678+01:00", &ns), 0);
    assert_int_equal(ns, 1767323045678000000LL);
    assert_int_equal(cmon_parse_rfc3339("2026-01-02T03:04:05Z", &ns), 0);
    assert_int_equal(ns, 1767323045000000000LL);
    assert_int_equal(cmon_parse_rfc3339("2026-13-02T03:04:05Z", &ns), -1);
    assert_int_equal(cmon_parse_rfc3339("2026-01-02T03:04:05", &ns), -1);
    assert_int_equal(cmon_parse_rfc3339("2026-01-02T03:04:05Zjunk", &ns), -1);
    assert_int_equal(cmon_parse_rfc3339("", &ns), -1);
}

static void test_prom_label(void **state)
{
    (void)state;
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_prom_label(&b, "a", "plain");
    cmon_buf_prom_label(&b, ",b", "q\"uo\\te\nd\"");
    cmon_buf_prom_label(&b, ",c", "");
    assert_false(b.oom);
    assert_string_equal(b.data, "a=\"plain\",b=\"q\\\"uo\\\\te\\nd\\\"\",c=\"\"");
    cmon_buf_free(&b);
}

static void test_log_logfmt(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, fds[1], "server");
    cmon_debug(&log, "hidden", "%s", "");
    cmon_info(&log, "say \"hi\"", "port=%d", 8080);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, " level=info component=server msg=\"say \\\"hi\\\"\" port=8080\n"));
    assert_null(strstr(buf, "hidden"));
    enum cmon_log_level lvl;
    assert_int_equal(cmon_log_level_parse("WARN", &lvl), 0);
    assert_int_equal(lvl, CMON_LOG_WARN);
    assert_int_equal(cmon_log_level_parse("loud", &lvl), -1);
    close(fds[0]);
    close(fds[1]);
}

/* The descriptor budget: headroom off the top, or half when that would
 * leave less than the headroom; raising never lowers the soft limit. */
static void test_fd_budget(void **state)
{
    (void)state;
    assert_int_equal(cmon_fd_budget(65536, 512), 65024);
    assert_int_equal(cmon_fd_budget(1025, 512), 513);
    assert_int_equal(cmon_fd_budget(1024, 512), 512);
    assert_int_equal(cmon_fd_budget(100, 512), 50);
    assert_int_equal(cmon_fd_budget(0, 512), 0);
    uint64_t before = cmon_nofile_soft();
    assert_true(cmon_nofile_raise() >= before);
    assert_int_equal(cmon_nofile_soft(), cmon_nofile_raise());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_log_logfmt),
        cmocka_unit_test(test_prom_label),
        cmocka_unit_test(test_fd_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
