/* test_model_result.c: round result JSON -- exact encoding, round trip, and
 * strict rejection of malformed agent input with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/result.h"

static struct cmon_round_result sample(void)
{
    struct cmon_round_result r = {0};
    strcpy(r.test_id, "0123456789abcdef");
    r.start_ns = 1767323045678000000LL;
    r.checks_total = 10;
    r.checks_failed = 4;
    r.has_rtt = true;
    r.rtt_min_ms = 1.5;
    r.rtt_avg_ms = 2.25;
    r.rtt_max_ms = 4;
    r.rtt_jitter_ms = 0.5;
    r.diagnostic = CMON_DIAG_TLS_EXPIRED;
    strcpy(r.detail, "notAfter 2026-01-02");
    r.http_status = 200;
    r.dns_ms = -1;
    r.connect_ms = 0.75;
    r.tls_ms = 3;
    r.first_byte_ms = -1;
    return r;
}

static void test_encode_exact(void **state)
{
    (void)state;
    struct cmon_round_result r = sample();
    json_t *j = cmon_round_to_json(&r);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        s, "{\"checksFailed\":4,\"checksTotal\":10,\"detail\":\"notAfter 2026-01-02\","
           "\"diagnostic\":\"tls_expired\",\"httpStatus\":200,"
           "\"phases\":{\"connectMs\":0.75,\"tlsMs\":3.0},"
           "\"rtt\":{\"avg\":2.25,\"jitter\":0.5,\"max\":4.0,\"min\":1.5},"
           "\"startNs\":1767323045678000000,\"startTime\":\"2026-01-02T03:04:05.678Z\","
           "\"testId\":\"0123456789abcdef\"}");
    free(s);
    struct cmon_round_result back;
    struct cmon_errbuf eb;
    assert_int_equal(cmon_round_from_json(j, &back, &eb), CMON_OK);
    assert_memory_equal(&back, &r, sizeof r);
    assert_true(cmon_round_failed_pct(&back) == 40.0);
    json_decref(j);
}

static void expect_reject(const char *text, const char *message)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    struct cmon_round_result r;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(cmon_round_from_json(j, &r, &eb), CMON_ERR_INVALID);
    assert_string_equal(eb.msg, message);
    json_decref(j);
}

#define OK_HEAD "{\"testId\":\"0123456789abcdef\",\"startTime\":\"2026-01-02T03:04:05Z\","

static void test_reject(void **state)
{
    (void)state;
    expect_reject("[]", "a result must be an object");
    expect_reject(OK_HEAD "\"checksTotal\":1,\"checksFailed\":1,\"bogus\":1}",
                  "bogus: unknown field");
    expect_reject("{\"testId\":\"XYZ\",\"startTime\":\"2026-01-02T03:04:05Z\","
                  "\"checksTotal\":1,\"checksFailed\":1}",
                  "testId: must be 16 lowercase hex characters");
    expect_reject("{\"testId\":\"0123456789abcdef\",\"startTime\":\"yesterday\","
                  "\"checksTotal\":1,\"checksFailed\":1}",
                  "startTime: must be an RFC 3339 time");
    expect_reject(OK_HEAD "\"checksTotal\":0,\"checksFailed\":0}",
                  "checksTotal: must be an integer 1-1000");
    expect_reject(OK_HEAD "\"checksTotal\":2,\"checksFailed\":3}",
                  "checksFailed: must be an integer 0-checksTotal");
    expect_reject(OK_HEAD "\"checksTotal\":2,\"checksFailed\":1}",
                  "rtt: required when a check succeeded");
    expect_reject(OK_HEAD "\"checksTotal\":2,\"checksFailed\":1,"
                          "\"rtt\":{\"min\":3,\"avg\":2,\"max\":4,\"jitter\":0}}",
                  "rtt: min <= avg <= max does not hold");
    expect_reject(OK_HEAD "\"checksTotal\":2,\"checksFailed\":1,"
                          "\"rtt\":{\"min\":-1,\"avg\":2,\"max\":4,\"jitter\":0}}",
                  "rtt.min: must be a number of ms, 0-3600000");
    expect_reject(OK_HEAD "\"checksTotal\":1,\"checksFailed\":1,\"diagnostic\":\"gremlins\"}",
                  "diagnostic: not a code of the catalogue");
    expect_reject(OK_HEAD "\"checksTotal\":1,\"checksFailed\":1,\"httpStatus\":99}",
                  "httpStatus: must be an integer 100-599");
    expect_reject(OK_HEAD "\"checksTotal\":1,\"checksFailed\":1,\"phases\":{\"dnsMs\":\"1\"}}",
                  "phases.dnsMs: must be a number of ms, 0-3600000");
}

static void test_diag_catalogue(void **state)
{
    (void)state;
    /* every code round-trips and has an explanation */
    for (int d = 1; d < CMON_DIAG__COUNT; d++) {
        enum cmon_diag back;
        assert_true(strlen(cmon_diag_code((enum cmon_diag)d)) > 0);
        assert_true(cmon_diag_from_code(cmon_diag_code((enum cmon_diag)d), &back));
        assert_int_equal(back, d);
        assert_true(strlen(cmon_diag_explain((enum cmon_diag)d)) > 10);
    }
    assert_true(cmon_diag_is_temporary(CMON_DIAG_DNS_SERVFAIL));
    assert_false(cmon_diag_is_temporary(CMON_DIAG_DNS_NXDOMAIN));
}

/* The clock window of DESIGN 9, at its edges and at int64's ends. */
static void test_window(void **state)
{
    (void)state;
    const int64_t now = 1767323045678000000LL, day = 86400LL * 1000000000LL;
    assert_true(cmon_round_in_window(now, now, 30 * day));
    assert_true(cmon_round_in_window(now + CMON_ROUND_MAX_AHEAD_NS, now, 30 * day));
    assert_false(cmon_round_in_window(now + CMON_ROUND_MAX_AHEAD_NS + 1, now, 30 * day));
    assert_false(cmon_round_in_window(INT64_MAX, now, 30 * day));
    assert_true(cmon_round_in_window(now - 30 * day, now, 30 * day));
    assert_false(cmon_round_in_window(now - 30 * day - 1, now, 30 * day));
    assert_false(cmon_round_in_window(INT64_MIN, now, 30 * day));
    assert_true(cmon_round_in_window(1, now, INT64_MAX));
}

/* A year past int64 ns decodes as INT64_MAX (refused), never wrapped into
 * a plausible time. */
static void test_far_year(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"testId\":\"0123456789abcdef\",\"startTime\":"
                           "\"2300-01-01T00:00:00Z\",\"checksTotal\":1,\"checksFailed\":1}",
                           0, NULL);
    struct cmon_round_result r;
    struct cmon_errbuf eb;
    assert_int_equal(cmon_round_from_json(j, &r, &eb), CMON_OK);
    assert_true(r.start_ns == INT64_MAX);
    json_decref(j);
}

/* An avg a rounding error past max (three checks of 0.1 ms: 0.3 / 3) is
 * taken and held at max; one past it by more is refused.  Before, the
 * server refused the round and the agent dropped it (a lost round). */
static void test_rtt_rounding(void **state)
{
    (void)state;
    json_t *j = json_loads(OK_HEAD "\"checksTotal\":3,\"checksFailed\":0,"
                                   "\"rtt\":{\"min\":0.1,\"avg\":0.10000000000000002,"
                                   "\"max\":0.1,\"jitter\":0}}",
                           0, NULL);
    struct cmon_round_result r;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(cmon_round_from_json(j, &r, &eb), CMON_OK);
    assert_true(r.rtt_avg_ms == 0.1);
    json_decref(j);
    expect_reject(OK_HEAD "\"checksTotal\":3,\"checksFailed\":0,"
                          "\"rtt\":{\"min\":0.1,\"avg\":0.1000001,\"max\":0.1,\"jitter\":0}}",
                  "rtt: min <= avg <= max does not hold");
    double sum = 0.1 + 0.1 + 0.1;
    assert_true(sum / 3 > 0.1); /* the rounding this guards against */
    assert_true(cmon_rtt_mean(sum, 3, 0.1, 0.1) == 0.1);
    assert_true(cmon_rtt_mean(6, 3, 1, 3) == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_exact),   cmocka_unit_test(test_reject),
        cmocka_unit_test(test_diag_catalogue), cmocka_unit_test(test_window),
        cmocka_unit_test(test_far_year),       cmocka_unit_test(test_rtt_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
