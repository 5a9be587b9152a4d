/* test_model_state.c: the state rules of DESIGN section 4, row by row with
 * their boundaries, the reason text, and roll-up over mixed states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/state.h"

#define SEC 1000000000LL
#define NOW (1767323045LL * SEC)
#define NA -1.0 /* threshold not given / no RTT */

struct state_case {
    const char *what;
    enum cmon_protocol proto;
    double thr_pct, thr_rtt; /* NA: not given */
    double pct, rtt;         /* rtt NA: no successful check */
    const char *diag, *detail;
    enum cmon_state want;
    const char *reason;
};

static const struct state_case cases[] = {
    /* given checks-failed threshold 5 % */
    {"pct below 80%", CMON_PROTO_TCP, 5, NA, 3.9, 10, NULL, NULL, CMON_STATE_PASS, ""},
    {"pct exactly 80%", CMON_PROTO_TCP, 5, NA, 4, 10, NULL, NULL, CMON_STATE_PASS, ""},
    {"pct just above 80%", CMON_PROTO_TCP, 5, NA, 4.5, 10, "timeout", NULL, CMON_STATE_WARNING,
     "ChecksFailedPercent 4.5 > 4 (80% of 5); timeout"},
    {"pct exactly at threshold", CMON_PROTO_TCP, 5, NA, 5, 10, NULL, NULL, CMON_STATE_WARNING,
     "ChecksFailedPercent 5 > 4 (80% of 5)"},
    {"pct above threshold", CMON_PROTO_HTTP, 5, NA, 40, 10, "tls_expired", "notAfter 2026-01-02",
     CMON_STATE_FAIL, "ChecksFailedPercent 40 > 5; tls_expired (notAfter 2026-01-02)"},
    {"pct 100 is Fail even with threshold 100", CMON_PROTO_TCP, 100, NA, 100, NA,
     "connection_refused", NULL, CMON_STATE_FAIL,
     "ChecksFailedPercent 100 (every check failed); connection_refused"},
    /* a temporary DNS failure reads differently from a persistent one */
    {"dns_servfail is temporary", CMON_PROTO_HTTP, 5, NA, 100, NA, "dns_servfail",
     "SERVFAIL from 198.18.0.53", CMON_STATE_FAIL,
     "ChecksFailedPercent 100 > 5; dns_servfail (temporary: SERVFAIL from 198.18.0.53)"},
    {"dns_timeout is temporary", CMON_PROTO_TCP, 5, NA, 100, NA, "dns_timeout", NULL,
     CMON_STATE_FAIL, "ChecksFailedPercent 100 > 5; dns_timeout (temporary)"},
    {"dns_nxdomain is persistent", CMON_PROTO_TCP, 5, NA, 100, NA, "dns_nxdomain",
     "no such name", CMON_STATE_FAIL, "ChecksFailedPercent 100 > 5; dns_nxdomain (no such name)"},
    {"pct 100 without thresholds", CMON_PROTO_ICMP, NA, NA, 100, NA, "timeout", NULL,
     CMON_STATE_FAIL, "ChecksFailedPercent 100 (every check failed); timeout"},
    {"threshold 0: any failure fails", CMON_PROTO_TCP, 0, NA, 10, 1, NULL, NULL, CMON_STATE_FAIL,
     "ChecksFailedPercent 10 > 0"},
    {"threshold 0: no failure passes", CMON_PROTO_TCP, 0, NA, 0, 1, NULL, NULL, CMON_STATE_PASS,
     ""},
    /* given RTT threshold 200 ms */
    {"rtt exactly 80%", CMON_PROTO_TCP, NA, 200, 0, 160, NULL, NULL, CMON_STATE_PASS, ""},
    {"rtt above 80%", CMON_PROTO_TCP, NA, 200, 0, 160.5, NULL, NULL, CMON_STATE_WARNING,
     "RoundTripTimeMs 160.5 > 160 (80% of 200)"},
    {"rtt exactly at threshold", CMON_PROTO_TCP, NA, 200, 0, 200, NULL, NULL, CMON_STATE_WARNING,
     "RoundTripTimeMs 200 > 160 (80% of 200)"},
    {"rtt above threshold", CMON_PROTO_TCP, NA, 200, 0, 250, NULL, NULL, CMON_STATE_FAIL,
     "RoundTripTimeMs 250 > 200"},
    {"both breached", CMON_PROTO_TCP, 5, 200, 50, 250, "timeout", NULL, CMON_STATE_FAIL,
     "ChecksFailedPercent 50 > 5; RoundTripTimeMs 250 > 200; timeout"},
    /* automatic thresholds: 10 % and 750 ms (TCP/ICMP), exceeding them is Warning */
    {"auto pct at 10", CMON_PROTO_TCP, NA, NA, 10, 5, NULL, NULL, CMON_STATE_PASS, ""},
    {"auto pct above 10", CMON_PROTO_ICMP, NA, NA, 20, 5, "timeout", NULL, CMON_STATE_WARNING,
     "ChecksFailedPercent 20 > 10 (automatic threshold); timeout"},
    {"auto pct 90 is still Warning", CMON_PROTO_ICMP, NA, NA, 90, 5, NULL, NULL, CMON_STATE_WARNING,
     "ChecksFailedPercent 90 > 10 (automatic threshold)"},
    {"auto rtt at 750", CMON_PROTO_ICMP, NA, NA, 0, 750, NULL, NULL, CMON_STATE_PASS, ""},
    {"auto rtt above 750", CMON_PROTO_TCP, NA, NA, 0, 751, NULL, NULL, CMON_STATE_WARNING,
     "RoundTripTimeMs 751 > 750 (automatic threshold)"},
    {"no auto rtt for HTTP", CMON_PROTO_HTTP, NA, NA, 0, 5000, NULL, NULL, CMON_STATE_PASS, ""},
    /* only one threshold given: the other is automatic */
    {"pct given, auto rtt", CMON_PROTO_TCP, 5, NA, 0, 800, NULL, NULL, CMON_STATE_WARNING,
     "RoundTripTimeMs 800 > 750 (automatic threshold)"},
    {"rtt given, auto pct", CMON_PROTO_TCP, NA, 200, 30, 10, NULL, NULL, CMON_STATE_WARNING,
     "ChecksFailedPercent 30 > 10 (automatic threshold)"},
    {"rtt given, auto pct, rtt fails", CMON_PROTO_TCP, NA, 200, 30, 300, NULL, NULL,
     CMON_STATE_FAIL, "RoundTripTimeMs 300 > 200"},
    {"pass", CMON_PROTO_HTTP, 5, 200, 0, 12.3, NULL, NULL, CMON_STATE_PASS, ""},
    {"rounding in reason", CMON_PROTO_TCP, 5, NA, 100.0 / 3, 1, NULL, NULL, CMON_STATE_FAIL,
     "ChecksFailedPercent 33.33 > 5"},
};

static struct cmon_state_input input_of(const struct state_case *c)
{
    struct cmon_state_input in = {0};
    in.protocol = c->proto;
    in.frequency_sec = 30;
    in.has_failed_pct_threshold = c->thr_pct != NA;
    in.failed_pct_threshold = c->thr_pct;
    in.has_rtt_threshold = c->thr_rtt != NA;
    in.rtt_threshold_ms = c->thr_rtt;
    in.has_result = true;
    in.last_result_ns = NOW - 10 * SEC;
    in.now_ns = NOW;
    in.checks_failed_pct = c->pct;
    in.has_rtt = c->rtt != NA;
    in.rtt_ms = c->rtt;
    in.diagnostic = c->diag;
    in.diag_detail = c->detail;
    return in;
}

static void test_state_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cmon_state_input in = input_of(&cases[i]);
        struct cmon_state_eval out;
        cmon_test_state_eval(&in, &out);
        if (out.state != cases[i].want || strcmp(out.reason, cases[i].reason) != 0) {
            print_error("case \"%s\": want %s \"%s\", got %s \"%s\"\n", cases[i].what,
                        cmon_state_name(cases[i].want), cases[i].reason, cmon_state_name(out.state),
                        out.reason);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_indeterminate_boundary(void **state)
{
    (void)state;
    struct state_case pass = {"", CMON_PROTO_TCP, 5, NA, 0, 1, NULL, NULL, CMON_STATE_PASS, ""};
    struct cmon_state_input in = input_of(&pass);
    struct cmon_state_eval out;
    /* frequency 30 s: stale after 2 x 30 + 30 = 90 s */
    in.last_result_ns = NOW - 90 * SEC;
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_PASS);
    in.last_result_ns = NOW - 90 * SEC - 1;
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_INDETERMINATE);
    assert_string_equal(out.reason, "no result for 90 s (expected every 30 s)");
    in.has_result = false;
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_INDETERMINATE);
    assert_string_equal(out.reason, "no result yet");
    in.has_result = true;
    in.last_result_ns = NOW;
    in.agent_stopped = true;
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_INDETERMINATE);
    assert_string_equal(out.reason, "agent_stopped (the source agent stopped reporting)");
}

static void test_not_running(void **state)
{
    (void)state;
    struct state_case failing = {"",   CMON_PROTO_TCP,  5, NA, 100, NA, "timeout",
                                 NULL, CMON_STATE_FAIL, ""};
    struct cmon_state_input in = input_of(&failing);
    struct cmon_state_eval out;
    in.not_running = true;
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_NOT_RUNNING);
    assert_string_equal(out.reason, "test group disabled");
    in.not_running_reason = "monitor stopped";
    in.agent_stopped = true; /* not running wins over everything */
    cmon_test_state_eval(&in, &out);
    assert_int_equal(out.state, CMON_STATE_NOT_RUNNING);
    assert_string_equal(out.reason, "monitor stopped");
}

static void test_rollup(void **state)
{
    (void)state;
    enum cmon_state P = CMON_STATE_PASS, W = CMON_STATE_WARNING, F = CMON_STATE_FAIL,
                    I = CMON_STATE_INDETERMINATE, N = CMON_STATE_NOT_RUNNING;
    const enum cmon_state all_pass[] = {P, P, P}, pw[] = {P, W, P}, pwf[] = {W, F, P},
                          pi[] = {P, I}, iw[] = {I, W}, nn[] = {N, N}, np[] = {N, P}, ni[] = {N, I},
                          fin[] = {N, I, F};
    assert_int_equal(cmon_state_rollup(all_pass, 3), P);
    assert_int_equal(cmon_state_rollup(pw, 3), W);
    assert_int_equal(cmon_state_rollup(pwf, 3), F);
    assert_int_equal(cmon_state_rollup(pi, 2), I);
    assert_int_equal(cmon_state_rollup(iw, 2), W);
    assert_int_equal(cmon_state_rollup(nn, 2), N);
    assert_int_equal(cmon_state_rollup(np, 2), P);
    assert_int_equal(cmon_state_rollup(ni, 2), I);
    assert_int_equal(cmon_state_rollup(fin, 3), F);
    assert_int_equal(cmon_state_rollup(NULL, 0), N);
}

/* The text people read for a configuration's thresholds: the automatic RTT
 * threshold only for TCP and ICMP, the automatic checks-failed one whenever
 * none is given (also beside a given RTT threshold). */
static void test_threshold_text(void **state)
{
    (void)state;
    static const struct {
        enum cmon_protocol proto;
        bool has_f, has_r;
        double f, r;
        const char *want;
    } tcases[] = {
        {CMON_PROTO_HTTP, false, false, 0, 0, "automatic: Warning above 10 % checks failed"},
        {CMON_PROTO_TCP, false, false, 0, 0,
         "automatic: Warning above 10 % checks failed or 750 ms RTT"},
        {CMON_PROTO_ICMP, false, false, 0, 0,
         "automatic: Warning above 10 % checks failed or 750 ms RTT"},
        {CMON_PROTO_HTTP, false, true, 0, 300,
         "RTT \u2264 300 ms; automatic: Warning above 10 % checks failed"},
        {CMON_PROTO_TCP, true, false, 5, 0,
         "checks failed \u2264 5 %; automatic: Warning above 750 ms RTT"},
        {CMON_PROTO_HTTP, true, false, 5, 0, "checks failed \u2264 5 %"},
        {CMON_PROTO_TCP, true, true, 2.5, 500, "checks failed \u2264 2.5 %, RTT \u2264 500 ms"},
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        struct cmon_test_config c = {.protocol = tcases[i].proto,
                                     .has_failed_pct_threshold = tcases[i].has_f,
                                     .failed_pct_threshold = tcases[i].f,
                                     .has_rtt_threshold = tcases[i].has_r,
                                     .rtt_threshold_ms = tcases[i].r};
        char text[200];
        cmon_threshold_text(&c, text, sizeof text);
        assert_string_equal(text, tcases[i].want);
    }
}

static void test_names(void **state)
{
    (void)state;
    enum cmon_state s;
    assert_string_equal(cmon_state_name(CMON_STATE_NOT_RUNNING), "Not Running");
    assert_string_equal(cmon_state_key(CMON_STATE_NOT_RUNNING), "NotRunning");
    assert_string_equal(cmon_state_key(CMON_STATE_FAIL), "Fail");
    assert_true(cmon_state_parse("NotRunning", &s) && s == CMON_STATE_NOT_RUNNING);
    assert_true(cmon_state_parse("Not Running", &s) && s == CMON_STATE_NOT_RUNNING);
    assert_true(cmon_state_parse("not_running", &s) && s == CMON_STATE_NOT_RUNNING);
    assert_true(cmon_state_parse("fail", &s) && s == CMON_STATE_FAIL);
    assert_true(cmon_state_parse("Indeterminate", &s) && s == CMON_STATE_INDETERMINATE);
    assert_false(cmon_state_parse("broken", &s));
    /* numbering is the Prometheus gauge's */
    assert_int_equal(CMON_STATE_INDETERMINATE, 0);
    assert_int_equal(CMON_STATE_PASS, 1);
    assert_int_equal(CMON_STATE_WARNING, 2);
    assert_int_equal(CMON_STATE_FAIL, 3);
    assert_int_equal(CMON_STATE_NOT_RUNNING, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_table),    cmocka_unit_test(test_indeterminate_boundary),
        cmocka_unit_test(test_not_running),    cmocka_unit_test(test_rollup),
        cmocka_unit_test(test_threshold_text), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
