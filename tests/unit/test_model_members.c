/* test_model_members.c: compound sources in the model -- address ranges
 * (core/addr.h), which agents a scope selects (cmon_endpoint_has_agent),
 * which members' rounds count (one frequency of the newest, the latest per
 * agent) and how they combine (all checks, the worst member). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "model/members.h"
#include "model/monitor.h"

#define SEC 1000000000LL
#define T0 (1767323045LL * SEC)

static void test_cidr(void **state)
{
    (void)state;
    struct cmon_cidr c;
    assert_true(cmon_cidr_parse("198.18.8.0/21", &c));
    assert_true(cmon_cidr_has(&c, "198.18.8.1"));
    assert_true(cmon_cidr_has(&c, "198.18.15.255"));
    assert_false(cmon_cidr_has(&c, "198.18.16.0"));
    assert_false(cmon_cidr_has(&c, "198.18.7.255"));
    assert_false(cmon_cidr_has(&c, "2001:db8::1"));
    assert_false(cmon_cidr_has(&c, "agent-a"));
    assert_true(cmon_cidr_parse("10.192.64.56", &c)); /* one address */
    assert_true(cmon_cidr_has(&c, "10.192.64.56"));
    assert_false(cmon_cidr_has(&c, "10.192.64.57"));
    assert_true(cmon_cidr_parse("2001:db8::/32", &c));
    assert_true(cmon_cidr_has(&c, "2001:db8:ffff::1"));
    assert_false(cmon_cidr_has(&c, "2001:db9::1"));
    assert_true(cmon_cidr_parse("0.0.0.0/0", &c));
    assert_true(cmon_cidr_has(&c, "203.0.113.9"));
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "/8", "10.0.0/8", "::/129", "x", "10.0.0.0/8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cmon_cidr_parse(bad[i], &c));
}

static void test_scope_members(void **state)
{
    (void)state;
    struct cmon_cidr inc, exc;
    assert_true(cmon_cidr_parse("198.18.8.0/21", &inc));
    assert_true(cmon_cidr_parse("198.18.13.2", &exc));
    struct cmon_endpoint ep = {.type = CMON_EP_AGENT, .compound = true, .address = "grp",
                               .include = &inc, .n_include = 1, .exclude = &exc,
                               .n_exclude = 1};
    const char *a[] = {"10.0.0.1", "198.18.11.2"}, *c[] = {"198.18.13.2"}, *x[] = {"203.0.113.1"};
    assert_true(cmon_endpoint_has_agent(&ep, "agent-a", a, 2)); /* any address counts */
    assert_false(cmon_endpoint_has_agent(&ep, "agent-c", c, 1)); /* excluded */
    assert_false(cmon_endpoint_has_agent(&ep, "agent-x", x, 1)); /* outside */
    assert_false(cmon_endpoint_has_agent(&ep, "grp", NULL, 0));  /* not by name */
    ep.n_exclude = 0;
    assert_true(cmon_endpoint_has_agent(&ep, "agent-c", c, 1));
    /* a one-agent endpoint: by name, whatever the addresses */
    char *names[] = {"agent-b"};
    struct cmon_endpoint one = {.type = CMON_EP_AGENT, .address = "agent-b", .agents = names,
                                .n_agents = 1};
    assert_true(cmon_endpoint_has_agent(&one, "agent-b", NULL, 0));
    assert_false(cmon_endpoint_has_agent(&one, "agent-a", a, 2));
    struct cmon_endpoint ext = {.type = CMON_EP_EXTERNAL, .address = "198.18.11.2"};
    assert_false(cmon_endpoint_has_agent(&ext, "agent-a", a, 2));
}

static struct cmon_round_result round_at(int64_t start, uint32_t total, uint32_t failed,
                                         double rtt)
{
    struct cmon_round_result r = {.start_ns = start, .checks_total = total,
                                  .checks_failed = failed, .has_rtt = failed < total,
                                  .rtt_avg_ms = rtt};
    return r;
}

static void test_pick_and_fold(void **state)
{
    (void)state;
    struct cmon_round_result r[] = {
        round_at(T0, 10, 0, 2.0),            /* a, superseded */
        round_at(T0 + 30 * SEC, 10, 0, 4.0), /* a, latest */
        round_at(T0 + 31 * SEC, 10, 1, 10.0), /* b */
        round_at(T0 + 29 * SEC, 10, 10, 0),   /* c: all failed */
        round_at(T0 - 5 * SEC, 10, 0, 1.0),   /* d: older than one frequency */
    };
    struct cmon_member_round m[] = {{"a", &r[0]}, {"a", &r[1]}, {"b", &r[2]}, {"c", &r[3]},
                                    {"d", &r[4]}};
    size_t n = cmon_members_pick(m, 5, 30);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].agent, "a");
    assert_true(m[0].r == &r[1]);
    assert_string_equal(m[1].agent, "b");
    assert_string_equal(m[2].agent, "c");
    struct cmon_members_fold f;
    cmon_members_fold(m, n, &f);
    assert_int_equal(f.latest_ns, T0 + 31 * SEC);
    /* 11 of 30 checks failed; RTT over the 19 successful checks */
    assert_true(f.checks_failed_pct > 36.66 && f.checks_failed_pct < 36.67);
    assert_true(f.has_rtt);
    double want = (10 * 4.0 + 9 * 10.0) / 19;
    assert_true(f.rtt_ms > want - 1e-9 && f.rtt_ms < want + 1e-9);
    assert_int_equal(f.worst, 2); /* c */
    /* all members failing: no RTT */
    struct cmon_member_round only_c = {"c", &r[3]};
    cmon_members_fold(&only_c, 1, &f);
    assert_false(f.has_rtt);
    assert_true(f.checks_failed_pct == 100.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_scope_members),
        cmocka_unit_test(test_pick_and_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
