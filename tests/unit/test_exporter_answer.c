/* test_exporter_answer.c: /probe in blackbox's terms without a socket --
 * blackbox's timeout rule, targets per prober, and the exact metrics written
 * for a given engine result (names, phases, the diagnostic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/answer.h"

static void test_timeout_rule(void **state)
{
    (void)state;
    uint32_t ms = 0;
    assert_true(exp_timeout_ms(NULL, 0, 0.5, &ms)); /* no header: 120 s - 0.5 */
    assert_int_equal(ms, 119500);
    assert_true(exp_timeout_ms("10", 5000, 0.5, &ms)); /* module shorter */
    assert_int_equal(ms, 5000);
    assert_true(exp_timeout_ms("3", 5000, 0.5, &ms)); /* scrape shorter */
    assert_int_equal(ms, 2500);
    assert_true(exp_timeout_ms("0", 2000, 0.5, &ms)); /* 0 counts as absent */
    assert_int_equal(ms, 2000);
    assert_true(exp_timeout_ms("0.2", 0, 0.5, &ms)); /* negative: the module's (none) */
    assert_int_equal(ms, 1);
    assert_false(exp_timeout_ms("ten", 0, 0.5, &ms));
}

static void test_prepare_targets(void **state)
{
    (void)state;
    struct exp_module m = {
        .name = "h", .prober = EXP_PROBER_HTTP, .ip_pref = CMON_IP_V6, .ip_fallback = true};
    struct exp_job job;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2:8080/x", 900, &job, &eb), CMON_OK);
    assert_string_equal(job.target.url, "http://198.18.1.2:8080/x");
    assert_int_equal(job.target.port, 8080);
    assert_int_equal(job.target.timeout_ms, 900);
    assert_false(job.target.ip_strict);
    assert_int_equal(job.spec.n_valid, 1); /* blackbox's 2xx */
    assert_int_equal(job.spec.valid[0].lo, 200);
    assert_int_equal(job.spec.valid[0].hi, 299);
    assert_null(job.spec.body);
    assert_true(job.spec.follow_redirects); /* blackbox's default */
    m.http.method = "POST";                 /* without a body: an empty one, as Go sends */
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2:8080/x", 900, &job, &eb), CMON_OK);
    assert_string_equal(job.spec.body, "");
    m.http.method = NULL;
    m.prober = EXP_PROBER_TCP;
    m.ip_fallback = false;
    assert_int_equal(exp_job_prepare(&m, "[fd00::2]:22", 900, &job, &eb), CMON_OK);
    assert_string_equal(job.target.host, "fd00::2");
    assert_int_equal(job.target.port, 22);
    assert_true(job.target.ip_strict);
    assert_int_not_equal(exp_job_prepare(&m, "198.18.1.2", 900, &job, &eb), CMON_OK);
    m.prober = EXP_PROBER_ICMP;
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2", 900, &job, &eb), CMON_OK);
    assert_int_equal(job.target.proto, CMON_PROTO_ICMP);
}

static void prepare(const struct exp_module *m, const char *target, struct exp_job *job)
{
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_job_prepare(m, target, 900, job, &eb), CMON_OK);
}

/* Render job and keep the sample lines only (no # HELP / # TYPE). */
static void render(const struct exp_module *m, struct exp_job *job, bool *ok, char *out, size_t cap)
{
    struct cmon_buf b;
    cmon_buf_init(&b);
    exp_answer_render(m, job, &b, ok);
    out[0] = '\0';
    for (const char *p = b.data ? b.data : ""; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (*p != '#')
            strncat(out, p, n < cap - strlen(out) - 1 ? n : cap - strlen(out) - 1);
        p += n;
    }
    cmon_buf_free(&b);
}

static void test_render_http_failure(void **state)
{
    (void)state;
    struct exp_module m = {.name = "h", .prober = EXP_PROBER_HTTP};
    struct exp_job job;
    prepare(&m, "http://198.18.1.2:81/", &job);
    job.res = (struct probe_check_result){.diag = CMON_DIAG_HTTP_STATUS,
                                          .address = "198.18.1.2",
                                          .http_status = 503,
                                          .dns_ms = -1,
                                          .connect_ms = 1,
                                          .tls_ms = -1,
                                          .first_byte_ms = 2};
    job.detail.content_length = 5; /* what the engine reports with the answer */
    job.detail.body_bytes = 5;
    job.detail.last_modified_unix = -1;
    job.duration_s = 0.004;
    bool ok = true;
    char got[4096];
    render(&m, &job, &ok, got, sizeof got);
    assert_false(ok);
    assert_string_equal(got, "probe_dns_lookup_time_seconds 0\n"
                             "probe_ip_protocol 4\n"
                             "probe_ip_addr_hash 4117619926\n" /* FNV-1a of 198.18.1.2 */
                             "probe_http_duration_seconds{phase=\"resolve\"} 0\n"
                             "probe_http_duration_seconds{phase=\"connect\"} 0.001\n"
                             "probe_http_duration_seconds{phase=\"tls\"} 0\n"
                             "probe_http_duration_seconds{phase=\"processing\"} 0.002\n"
                             "probe_http_duration_seconds{phase=\"transfer\"} 0.001\n"
                             "probe_http_status_code 503\n"
                             "probe_http_content_length 5\n"
                             "probe_http_uncompressed_body_length 5\n"
                             "probe_http_ssl 0\n"
                             "probe_http_redirects 0\n"
                             "probe_http_version 0\n"
                             "probe_failed_due_to_regex 0\n"
                             "probe_duration_seconds 0.004\n"
                             "probe_success 0\n"
                             "cmon_probe_diagnostic{code=\"http_status\"} 1\n");
}

static void test_render_fail_if_not_ssl(void **state)
{
    (void)state;
    struct exp_module m = {.name = "h", .prober = EXP_PROBER_HTTP};
    m.http.fail_if_not_ssl = true;
    struct exp_job job;
    prepare(&m, "http://198.18.1.2/", &job);
    job.res = (struct probe_check_result){.ok = true, .address = "198.18.1.2", .http_status = 200};
    bool ok = true;
    char got[4096];
    render(&m, &job, &ok, got, sizeof got);
    assert_false(ok);
}

/* Body regexps judge the captured body (NUL bytes included); a failure is
 * probe_failed_due_to_regex 1 with http_error; valid_http_versions after. */
static void test_render_body_regexps(void **state)
{
    (void)state;
    struct exp_module m = {.name = "h", .prober = EXP_PROBER_HTTP};
    struct exp_regex bad = {.text = "down"}, good = {.text = "^ok"};
    assert_int_equal(regcomp(&bad.re, bad.text, REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regcomp(&good.re, good.text, REG_EXTENDED | REG_NOSUB), 0);
    m.http.body_match = &bad;
    m.http.n_body_match = 1;
    m.http.body_not_match = &good;
    m.http.n_body_not_match = 1;
    m.http.versions = EXP_HTTP_VERSION_BIT(11);
    const struct {
        const char *body;
        size_t len;
        int version;
        bool ok, regex;
    } cases[] = {
        {"ok\n", 3, 11, true, false},
        {"ok\0down\n", 8, 11, false, true}, /* after a NUL byte still counts */
        {"not ok\n", 7, 11, false, true},
        {"ok\n", 3, 20, false, false}, /* HTTP/2.0 not in [HTTP/1.1] */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct exp_job job;
        prepare(&m, "http://198.18.1.2/", &job);
        assert_ptr_equal(job.detail.body, &job.body);
        cmon_buf_append(&job.body, cases[i].body, cases[i].len);
        job.res = (struct probe_check_result){.ok = true, .address = "198.18.1.2",
                                              .http_status = 200,
                                              .http_version = cases[i].version};
        bool ok = !cases[i].ok;
        char got[4096];
        render(&m, &job, &ok, got, sizeof got);
        assert_int_equal(ok, cases[i].ok);
        assert_non_null(strstr(got, cases[i].regex ? "probe_failed_due_to_regex 1\n"
                                                   : "probe_failed_due_to_regex 0\n"));
        assert_int_equal(job.res.diag, cases[i].ok ? CMON_DIAG_NONE : CMON_DIAG_HTTP_ERROR);
        cmon_buf_free(&job.body);
    }
    regfree(&bad.re);
    regfree(&good.re);
}

static void test_render_icmp_v6(void **state)
{
    (void)state;
    struct exp_module m = {.name = "i", .prober = EXP_PROBER_ICMP};
    struct exp_job job;
    prepare(&m, "fd00:c30:1::2", &job);
    job.res = (struct probe_check_result){
        .ok = true, .address = "fd00:c30:1::2", .rtt_ms = 0.25, .dns_ms = -1};
    job.duration_s = 0.001;
    bool ok = false;
    char got[4096];
    render(&m, &job, &ok, got, sizeof got);
    assert_true(ok);
    assert_non_null(strstr(got, "probe_ip_protocol 6\n"));
    assert_non_null(strstr(got, "probe_icmp_duration_seconds{phase=\"rtt\"} 0.00025\n"));
    assert_null(strstr(got, "cmon_probe_diagnostic"));
    assert_non_null(strstr(got, "probe_success 1\n"));
}

static void test_dns(void **state)
{
    (void)state;
    struct exp_module m = {.name = "d", .prober = EXP_PROBER_DNS};
    m.dns = (struct exp_dns){.query_name = "ok.test", .query_type = 1, .recursion_desired = true};
    struct exp_job job;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2", 900, &job, &eb), CMON_OK);
    assert_true(job.dns);
    assert_int_equal(job.tb.port, 53);
    assert_string_equal(job.dns_name, "ok.test");
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2:5353", 900, &job, &eb), CMON_OK);
    assert_int_equal(job.tb.port, 5353);
    assert_int_equal(exp_job_prepare(&m, "[fd00::2]:54", 900, &job, &eb), CMON_OK);
    assert_string_equal(job.tb.host, "fd00::2");
    assert_int_equal(job.tb.port, 54);
    assert_int_equal(exp_job_prepare(&m, "fd00::2", 900, &job, &eb), CMON_OK);
    assert_int_equal(job.tb.port, 53);
    assert_int_equal(exp_job_prepare(&m, "ns.test", 900, &job, &eb), CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "the dns prober's target must be the DNS server's IP address");
    /* an answer with NXDOMAIN fails the default valid_rcodes (NOERROR) */
    assert_int_equal(exp_job_prepare(&m, "198.18.1.2", 900, &job, &eb), CMON_OK);
    job.res = (struct probe_check_result){.ok = true, .address = "198.18.1.2", .rtt_ms = 2};
    job.dns_ans = (struct exp_dns_answer){.got = true, .rcode = 3, .authority = 1};
    job.duration_s = 0.002;
    bool ok = true;
    char got[4096];
    render(&m, &job, &ok, got, sizeof got);
    assert_false(ok);
    assert_string_equal(got, "probe_dns_lookup_time_seconds 0\n"
                             "probe_ip_protocol 4\n"
                             "probe_ip_addr_hash 4117619926\n"
                             "probe_dns_duration_seconds{phase=\"resolve\"} 0\n"
                             "probe_dns_duration_seconds{phase=\"connect\"} 0\n"
                             "probe_dns_duration_seconds{phase=\"request\"} 0.002\n"
                             "probe_dns_answer_rrs 0\n"
                             "probe_dns_authority_rrs 1\n"
                             "probe_dns_additional_rrs 0\n"
                             "probe_dns_query_succeeded 1\n"
                             "probe_duration_seconds 0.002\n"
                             "probe_success 0\n"
                             "cmon_probe_diagnostic{code=\"dns_nxdomain\"} 1\n");
    m.dns.valid_rcodes[0] = 3; /* valid_rcodes: [NXDOMAIN] */
    m.dns.n_valid_rcodes = 1;
    job.res = (struct probe_check_result){.ok = true, .address = "198.18.1.2"};
    render(&m, &job, &ok, got, sizeof got);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_rule),        cmocka_unit_test(test_prepare_targets),
        cmocka_unit_test(test_render_http_failure), cmocka_unit_test(test_render_fail_if_not_ssl),
        cmocka_unit_test(test_render_body_regexps),
        cmocka_unit_test(test_render_icmp_v6),      cmocka_unit_test(test_dns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
