/* test_probe_diag.c: the one table from concrete failures to diagnostic codes,
 * and destination strings -> protocol/host/port (probe/target.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ares.h>
#include <errno.h>
#include <string.h>

#include "core/addr.h"
#include "probe/diagnostics.h"
#include "probe/target.h"

#define ICMP(t, c) (((t) << 8) | (c))

static void test_errno_map(void **state)
{
    (void)state;
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, ECONNREFUSED), CMON_DIAG_CONNECTION_REFUSED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, ETIMEDOUT), CMON_DIAG_TIMEOUT);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, EHOSTUNREACH), CMON_DIAG_HOST_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, ENETUNREACH), CMON_DIAG_NET_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, EPERM), CMON_DIAG_PERMISSION_DENIED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, EACCES), CMON_DIAG_PERMISSION_DENIED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, EMFILE), CMON_DIAG_SOCKET_ERROR);
    /* anything unknown from a socket call is a socket_error */
    assert_int_equal(probe_diag_map(PROBE_DIAG_ERRNO, EXDEV), CMON_DIAG_SOCKET_ERROR);
}

static void test_icmp_map(void **state)
{
    (void)state;
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 0)), CMON_DIAG_NET_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 1)), CMON_DIAG_HOST_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 2)), CMON_DIAG_ICMP_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 3)), CMON_DIAG_CONNECTION_REFUSED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 9)), CMON_DIAG_ADMIN_PROHIBITED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 10)), CMON_DIAG_ADMIN_PROHIBITED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 13)), CMON_DIAG_ADMIN_PROHIBITED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(11, 0)), CMON_DIAG_HOST_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(3, 4)), CMON_DIAG_ICMP_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(1, 0)), CMON_DIAG_NET_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(1, 1)), CMON_DIAG_ADMIN_PROHIBITED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(1, 3)), CMON_DIAG_HOST_UNREACHABLE);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(1, 4)), CMON_DIAG_CONNECTION_REFUSED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(1, 6)), CMON_DIAG_ADMIN_PROHIBITED);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP6, ICMP(3, 0)), CMON_DIAG_HOST_UNREACHABLE);
    /* the same numbers mean different things per family */
    assert_int_equal(probe_diag_map(PROBE_DIAG_ICMP4, ICMP(1, 1)), CMON_DIAG_ICMP_UNREACHABLE);
}

static void test_ares_map(void **state)
{
    (void)state;
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_ENOTFOUND), CMON_DIAG_DNS_NXDOMAIN);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_ENODATA), CMON_DIAG_NO_ADDRESS);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_ESERVFAIL), CMON_DIAG_DNS_SERVFAIL);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_EREFUSED), CMON_DIAG_DNS_SERVFAIL);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_ECONNREFUSED), CMON_DIAG_DNS_SERVFAIL);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_ETIMEOUT), CMON_DIAG_DNS_TIMEOUT);
    assert_int_equal(probe_diag_map(PROBE_DIAG_ARES, ARES_EBADNAME), CMON_DIAG_URL_INVALID);
    assert_true(cmon_diag_is_temporary(probe_diag_map(PROBE_DIAG_ARES, ARES_ETIMEOUT)));
    assert_false(cmon_diag_is_temporary(probe_diag_map(PROBE_DIAG_ARES, ARES_ENOTFOUND)));
    /* the detail says what the server answered: not "Could not contact DNS
     * servers" for a server that answered SERVFAIL or REFUSED */
    assert_string_equal(probe_dns_status_text(ARES_ESERVFAIL), "the DNS server answered SERVFAIL");
    assert_non_null(strstr(probe_dns_status_text(ARES_ECONNREFUSED), "REFUSED"));
    assert_null(strstr(probe_dns_status_text(ARES_ECONNREFUSED), "Could not contact"));
}

static void test_catalogue_complete(void **state)
{
    (void)state;
    for (int d = 1; d < CMON_DIAG__COUNT; d++) {
        const char *code = cmon_diag_code((enum cmon_diag)d);
        enum cmon_diag back;
        assert_true(code[0] != '\0');
        assert_true(cmon_diag_from_code(code, &back));
        assert_int_equal(back, d);
        assert_true(strlen(cmon_diag_explain((enum cmon_diag)d)) > 10);
    }
}

static void parse_ok(const char *arg, int proto, int port, enum cmon_protocol want_proto,
                     const char *want_host, int want_port)
{
    struct probe_target_buf tb;
    struct cmon_errbuf eb;
    assert_int_equal(probe_target_parse(arg, proto, port, &tb, &eb), CMON_OK);
    assert_int_equal(tb.proto, want_proto);
    assert_string_equal(tb.host, want_host);
    assert_int_equal(tb.port, want_port);
}

static void parse_bad(const char *arg, int proto, int port, const char *msg_part)
{
    struct probe_target_buf tb;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(probe_target_parse(arg, proto, port, &tb, &eb), CMON_ERR_INVALID);
    if (!strstr(eb.msg, msg_part))
        fail_msg("'%s': message '%s' lacks '%s'", arg, eb.msg, msg_part);
}

static void test_target_infer(void **state)
{
    (void)state;
    parse_ok("https://shop.example/health", -1, 0, CMON_PROTO_HTTP, "shop.example", 443);
    parse_ok("http://198.18.1.2:8080/x?y=1", -1, 0, CMON_PROTO_HTTP, "198.18.1.2", 8080);
    parse_ok("http://[fd00:c30:1::2]/", -1, 0, CMON_PROTO_HTTP, "fd00:c30:1::2", 80);
    parse_ok("db.example:5432", -1, 0, CMON_PROTO_TCP, "db.example", 5432);
    parse_ok("[2001:db8::5]:443", -1, 0, CMON_PROTO_TCP, "2001:db8::5", 443);
    parse_ok("2001:db8::5", -1, 0, CMON_PROTO_ICMP, "2001:db8::5", 0);
    parse_ok("[2001:db8::5]", -1, 0, CMON_PROTO_ICMP, "2001:db8::5", 0);
    parse_ok("host", -1, 0, CMON_PROTO_ICMP, "host", 0);
    parse_ok("host", CMON_PROTO_TCP, 22, CMON_PROTO_TCP, "host", 22);
    parse_ok("host:80", -1, 8080, CMON_PROTO_TCP, "host", 8080);
    struct probe_target_buf tb;
    struct cmon_errbuf eb;
    assert_int_equal(probe_target_parse("fd00::2", CMON_PROTO_HTTP, 8080, &tb, &eb), CMON_OK);
    assert_string_equal(tb.url, "http://[fd00::2]:8080/");
    assert_int_equal(probe_target_parse("web", CMON_PROTO_HTTP, 0, &tb, &eb), CMON_OK);
    assert_string_equal(tb.url, "http://web/");
    assert_int_equal(tb.port, 80);
}

/* A URL the monitor validation takes is one the scheduler can build, and
 * the other way round (before, the scheduler parsed with libcurl's CURLU,
 * which takes credentials and refuses other things than core/addr). */
static void test_url_one_parser(void **state)
{
    (void)state;
    const char *urls[] = {"http://h/",         "HTTPS://H:8443/x?y",  "http://u:p@h/",
                          "http://h:0/",       "http://[::1]:8080/",  "http://[::1/",
                          "http://300.1.1.1/", "http://h_1.example/", "http://-h/",
                          "http://h:65536/",   "https://198.18.1.2",  "http://h:/"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct cmon_url u;
        struct cmon_errbuf eb;
        char host[256];
        uint16_t port;
        bool valid = cmon_url_parse(urls[i], &u, &eb) == CMON_OK;
        bool built = probe_url_host(urls[i], host, sizeof host, &port, &eb) == CMON_OK;
        if (valid != built)
            fail_msg("%s: validation says %d, the scheduler %d", urls[i], valid, built);
        if (built && (strcmp(host, u.host) != 0 || port == 0))
            fail_msg("%s: host %s port %u", urls[i], host, port);
    }
}

static void test_target_errors(void **state)
{
    (void)state;
    parse_bad("host", CMON_PROTO_TCP, 0, "needs a port");
    parse_bad("host:22", CMON_PROTO_ICMP, 0, "ICMP has no port");
    parse_bad("host:0", -1, 0, "1..65535");
    parse_bad("host:70000", -1, 0, "1..65535");
    parse_bad("host:", -1, 0, "1..65535");
    parse_bad("host:22x", -1, 0, "1..65535");
    parse_bad("[::1", -1, 0, "[IPv6]:port");
    parse_bad("[::1]x", -1, 0, "[IPv6]:port");
    parse_bad("", -1, 0, "empty");
    parse_bad("https://h/", CMON_PROTO_TCP, 0, "--protocol http");
    parse_bad("ftp://h/", -1, 0, "only http");
    parse_bad("https://h/", -1, 8443, "in the URL");
    parse_bad("http://h:99999/", -1, 0, "URL port must be 1-65535");
}

static void test_protocol_names(void **state)
{
    (void)state;
    enum cmon_protocol p;
    assert_true(probe_protocol_parse("TCP", &p));
    assert_int_equal(p, CMON_PROTO_TCP);
    assert_true(probe_protocol_parse("Http", &p));
    assert_int_equal(p, CMON_PROTO_HTTP);
    assert_false(probe_protocol_parse("udp", &p));
    assert_string_equal(cmon_protocol_name(CMON_PROTO_ICMP), "Icmp");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errno_map),      cmocka_unit_test(test_icmp_map),
        cmocka_unit_test(test_ares_map),       cmocka_unit_test(test_catalogue_complete),
        cmocka_unit_test(test_target_infer),   cmocka_unit_test(test_target_errors),
        cmocka_unit_test(test_url_one_parser),
        cmocka_unit_test(test_protocol_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
