/* test_exporter_config.c: blackbox.yml parsing for `cmon exporter` -- the
 * options cmon honours land in the module, blackbox's defaults apply, and
 * every refused or malformed input is an error naming FILE:LINE:COL, the
 * module and the option (exact messages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "core/addr.h"
#include "exporter/config.h"
#include "exporter/exporter_internal.h"

static void test_full_modules(void **state)
{
    (void)state;
    const char *y = "modules:\n"
                    "  http_2xx:\n"
                    "    prober: http\n"
                    "    timeout: 5s\n"
                    "    http:\n"
                    "      method: post\n"
                    "      valid_status_codes: [200, 204]\n"
                    "      headers:\n"
                    "        Host: example.test\n"
                    "        X-A: b c\n"
                    "      fail_if_not_ssl: true\n"
                    "      follow_redirects: false\n"
                    "      preferred_ip_protocol: ip4\n"
                    "      ip_protocol_fallback: false\n"
                    "      tls_config:\n"
                    "        ca_file: /tmp/ca.pem\n"
                    "        insecure_skip_verify: false\n"
                    "  tcp_connect:\n"
                    "    prober: tcp\n"
                    "  ping:\n"
                    "    prober: icmp\n"
                    "    timeout: 1m30s\n"
                    "    icmp: {preferred_ip_protocol: ip6, ttl: 9, payload_size: 1000}\n"
                    "  dns_mx:\n"
                    "    prober: dns\n"
                    "    dns:\n"
                    "      query_name: example.test\n"
                    "      query_type: mx\n"
                    "      query_class: IN\n"
                    "      recursion_desired: false\n"
                    "      valid_rcodes: [NOERROR, NXDOMAIN]\n"
                    "  dns_any: {prober: dns, dns: {query_name: a.test}}\n";
    struct exp_config cfg;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_config_parse(y, strlen(y), "bb.yml", &cfg, &eb), CMON_OK);
    assert_int_equal(cfg.n_modules, 5);
    const struct exp_module *h = exp_config_module(&cfg, "http_2xx");
    assert_non_null(h);
    assert_int_equal(h->prober, EXP_PROBER_HTTP);
    assert_int_equal(h->timeout_ms, 5000);
    assert_string_equal(h->http.method, "POST");
    assert_int_equal(h->http.n_valid, 2);
    assert_int_equal(h->http.valid[1].lo, 204);
    assert_int_equal(h->http.n_headers, 2);
    assert_string_equal(h->http.headers[0], "Host: example.test");
    assert_string_equal(h->http.headers[1], "X-A: b c");
    assert_true(h->http.fail_if_not_ssl);
    assert_false(h->http.fail_if_ssl);
    assert_int_equal(h->ip_pref, CMON_IP_V4);
    assert_false(h->ip_fallback);
    assert_string_equal(h->tls.ca_file, "/tmp/ca.pem");
    const struct exp_module *t = exp_config_module(&cfg, "tcp_connect");
    assert_int_equal(t->prober, EXP_PROBER_TCP);
    assert_int_equal(t->timeout_ms, 0);
    assert_int_equal(t->ip_pref, CMON_IP_V6); /* blackbox's default */
    assert_true(t->ip_fallback);
    const struct exp_module *p = exp_config_module(&cfg, "ping");
    assert_int_equal(p->timeout_ms, 90000);
    assert_int_equal(p->icmp_ttl, 9);
    assert_int_equal(p->icmp_payload_size, 1000);
    assert_null(exp_config_module(&cfg, "nope"));
    const struct exp_module *d = exp_config_module(&cfg, "dns_mx");
    assert_int_equal(d->prober, EXP_PROBER_DNS);
    assert_string_equal(d->dns.query_name, "example.test");
    assert_int_equal(d->dns.query_type, 15);
    assert_false(d->dns.recursion_desired);
    assert_int_equal(d->dns.n_valid_rcodes, 2);
    assert_int_equal(d->dns.valid_rcodes[1], 3);
    d = exp_config_module(&cfg, "dns_any");
    assert_int_equal(d->dns.query_type, 255); /* blackbox's default ANY */
    assert_true(d->dns.recursion_desired);
    assert_int_equal(d->dns.n_valid_rcodes, 0);
    exp_config_free(&cfg);
}

/* The options the HTTP engine learned for the exporter: body, redirects,
 * versions, TLS without verification or with another name, credentials as
 * headers, and regexps compiled at load. */
static void test_http_options(void **state)
{
    (void)state;
    const char *y = "modules:\n"
                    "  post:\n"
                    "    prober: http\n"
                    "    http:\n"
                    "      method: POST\n"
                    "      body: '{\"a\": 1}'\n"
                    "      valid_http_versions: [HTTP/1.1, HTTP/2.0]\n"
                    "      no_follow_redirects: true\n"
                    "      basic_auth: {username: u, password: p}\n"
                    "      fail_if_body_matches_regexp: ['err(or)?', '^$']\n"
                    "      fail_if_body_not_matches_regexp: ['ok']\n"
                    "      tls_config: {insecure_skip_verify: true, server_name: www.test}\n"
                    "  follow:\n"
                    "    prober: http\n"
                    "    http: {bearer_token: t0k}\n";
    struct exp_config cfg;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_config_parse(y, strlen(y), "bb.yml", &cfg, &eb), CMON_OK);
    const struct exp_module *m = exp_config_module(&cfg, "post");
    assert_string_equal(m->http.body, "{\"a\": 1}");
    assert_int_equal(m->http.versions, EXP_HTTP_VERSION_BIT(11) | EXP_HTTP_VERSION_BIT(20));
    assert_true(m->http.no_follow);
    assert_int_equal(m->http.n_headers, 1);
    assert_string_equal(m->http.headers[0], "Authorization: Basic dTpw"); /* base64("u:p") */
    assert_int_equal(m->http.n_body_match, 2);
    assert_string_equal(m->http.body_match[0].text, "err(or)?");
    assert_int_equal(regexec(&m->http.body_match[0].re, "an erro", 0, NULL, 0), 0);
    assert_int_equal(m->http.n_body_not_match, 1);
    assert_true(m->tls.insecure);
    assert_string_equal(m->tls.server_name, "www.test");
    m = exp_config_module(&cfg, "follow");
    assert_false(m->http.no_follow); /* blackbox follows by default */
    assert_string_equal(m->http.headers[0], "Authorization: Bearer t0k");
    assert_null(m->http.body);
    exp_config_free(&cfg);
}

static void test_tcp_options(void **state)
{
    (void)state;
    const char *y = "modules:\n"
                    "  smtp_starttls:\n"
                    "    prober: tcp\n"
                    "    tcp:\n"
                    "      query_response:\n"
                    "        - expect: '^220 '\n"
                    "        - send: 'EHLO cmon'\n"
                    "        - {expect: '^250 STARTTLS', send: STARTTLS}\n"
                    "        - {expect: '^220', starttls: true}\n"
                    "      tls_config: {ca_file: /ca.pem, server_name: mail.test}\n"
                    "  tls: {prober: tcp, tcp: {tls: true}}\n";
    struct exp_config cfg;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_config_parse(y, strlen(y), "bb.yml", &cfg, &eb), CMON_OK);
    const struct exp_module *m = exp_config_module(&cfg, "smtp_starttls");
    assert_int_equal(m->tcp.n_steps, 4);
    assert_string_equal(m->tcp.steps[0].expect.text, "^220 ");
    assert_null(m->tcp.steps[0].send);
    assert_null(m->tcp.steps[1].expect.text);
    assert_string_equal(m->tcp.steps[1].send, "EHLO cmon");
    assert_string_equal(m->tcp.steps[2].send, "STARTTLS");
    assert_true(m->tcp.steps[3].starttls);
    assert_false(m->tcp.steps[2].starttls);
    assert_false(m->tcp.tls);
    assert_string_equal(m->tls.ca_file, "/ca.pem");
    assert_string_equal(m->tls.server_name, "mail.test");
    assert_true(exp_config_module(&cfg, "tls")->tcp.tls);
    exp_config_free(&cfg);
}

static void expect_error(const char *yaml, const char *msg)
{
    struct exp_config cfg;
    struct cmon_errbuf eb = {{0}};
    assert_int_not_equal(exp_config_parse(yaml, strlen(yaml), "bb.yml", &cfg, &eb), CMON_OK);
    assert_string_equal(eb.msg, msg);
    assert_int_equal(cfg.n_modules, 0);
    assert_null(cfg.modules);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("modules:\n  x:\n    prober: foo\n",
                 "bb.yml:3:13: module 'x': unknown prober 'foo' (cmon exporter runs http, tcp, "
                 "icmp and dns)");
    expect_error("modules:\n  x:\n    prober: grpc\n",
                 "bb.yml:3:13: module 'x': prober 'grpc' is not supported by cmon exporter (it "
                 "runs http, tcp, icmp and dns; see docs/exporter.md)");
    expect_error("modules:\n  x:\n    prober: dns\n",
                 "bb.yml:2:3: module 'x': dns.query_name is missing (the dns prober needs a name "
                 "to ask for)");
    expect_error("modules:\n  x:\n    prober: dns\n    dns:\n      query_name: a.test\n"
                 "      valid_rcodes: [NOERROR, BOGUS]\n",
                 "bb.yml:6:31: module 'x': dns.valid_rcodes: 'BOGUS' is not an rcode (NOERROR, "
                 "NXDOMAIN, ...)");
    expect_error("modules:\n  x:\n    prober: dns\n    dns:\n      query_name: a.test\n"
                 "      transport_protocol: tcp\n",
                 "bb.yml:6:27: module 'x': dns.transport_protocol 'tcp' is not supported (only "
                 "udp)");
    expect_error("modules:\n  x:\n    prober: dns\n    dns:\n      query_name: a.test\n"
                 "      validate_answer_rrs: {fail_if_matches_regexp: ['.*']}\n",
                 "bb.yml:6:7: module 'x': option 'dns.validate_answer_rrs' is not supported by "
                 "cmon exporter: cmon's DNS probe reads only the answer's header");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      fail_if_body_matches_regexp: "
                 "['ok', '(']\n",
                 "bb.yml:5:43: module 'x': http.fail_if_body_matches_regexp: '(' is not a POSIX "
                 "extended regular expression: Unmatched ( or \\(");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      valid_http_versions: [HTTP/2]\n",
                 "bb.yml:5:29: module 'x': http.valid_http_versions: 'HTTP/2' never matches "
                 "(blackbox compares the answer's HTTP/1.0, HTTP/1.1, HTTP/2.0 or HTTP/3.0)");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      basic_auth: {usrname: a}\n",
                 "bb.yml:5:20: module 'x': unknown option 'http.basic_auth.usrname' (did you mean "
                 "'username'?)");
    expect_error("modules:\n  x:\n    prober: tcp\n    tcp:\n      query_response:\n"
                 "        - expect: '^SSH('\n",
                 "bb.yml:6:19: module 'x': tcp.query_response.expect: '^SSH(' is not a POSIX "
                 "extended regular expression: Unmatched ( or \\(");
    expect_error("modules:\n  x:\n    prober: tcp\n    tcp:\n      query_response:\n"
                 "        - {expect: a, sned: b}\n",
                 "bb.yml:6:23: module 'x': tcp.query_response: unknown key 'sned' (expect, send, "
                 "starttls)");
    expect_error("modules:\n  x:\n    prober: tcp\n    tcp:\n      tls_config: {key_file: k}\n",
                 "bb.yml:5:20: module 'x': option 'tcp.tls_config.key_file' is not supported by "
                 "cmon exporter: client certificates are not supported");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      methd: GET\n",
                 "bb.yml:5:7: module 'x': unknown option 'http.methd' (did you mean 'method'?)");
    expect_error("modules:\n  x:\n    prober: http\n    tcp: {}\n",
                 "bb.yml:4:5: module 'x': section 'tcp' does not belong to prober http");
    expect_error("modules:\n  x:\n    timeout: 5s\n",
                 "bb.yml:2:3: module 'x': 'prober' is missing (http, tcp, icmp or dns)");
    expect_error("modules:\n  x:\n    prober: http\n    timeout: 5 seconds\n",
                 "bb.yml:4:14: module 'x': timeout '5 seconds' is not a duration like 5s or "
                 "500ms");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      valid_status_codes: [2xx]\n",
                 "bb.yml:5:28: module 'x': http.valid_status_codes: '2xx' is not a status code "
                 "(100-599)");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      tls_config:\n"
                 "        cert_file: /tmp/c.pem\n",
                 "bb.yml:6:9: module 'x': option 'http.tls_config.cert_file' is not supported by "
                 "cmon exporter: client certificates are not supported");
    expect_error("modules:\n  x:\n    prober: http\n    http:\n      tls_config:\n"
                 "        server_name: 'a b'\n",
                 "bb.yml:6:22: module 'x': http.tls_config.server_name 'a b' is not a host name");
    expect_error("modules:\n  x:\n    prober: http\n  x:\n    prober: tcp\n",
                 "bb.yml:4:3: module 'x' is defined twice");
    expect_error("modules:\n  x: [\n", "bb.yml:3:1: not valid YAML: did not find expected node "
                                       "content while parsing a flow node");
    expect_error("modulez:\n  x: {}\n", "bb.yml:1:1: unknown top-level key 'modulez' (only "
                                        "'modules')");
    expect_error("", "bb.yml:1:1: the file is empty (it needs 'modules:')");
    expect_error("modules:\n  x:\n    prober: icmp\n    icmp:\n      ttl: 256\n",
                 "bb.yml:5:12: module 'x': icmp.ttl must be a number from 1 to 255, not '256'");
    expect_error("modules:\n  x:\n    prober: icmp\n    icmp:\n      dont_fragment: true\n",
                 "bb.yml:5:7: module 'x': option 'icmp.dont_fragment' is not supported by cmon "
                 "exporter: cmon lets the kernel decide on fragmentation");
}

static void test_durations(void **state)
{
    (void)state;
    uint32_t ms = 0;
    assert_true(exp_duration_parse("1.5s", &ms));
    assert_int_equal(ms, 1500);
    assert_true(exp_duration_parse("250ms", &ms));
    assert_int_equal(ms, 250);
    assert_true(exp_duration_parse("1h", &ms));
    assert_int_equal(ms, 3600000);
    assert_false(exp_duration_parse("5", &ms));
    assert_false(exp_duration_parse("-1s", &ms));
    assert_false(exp_duration_parse("s", &ms));
    assert_false(exp_duration_parse("", &ms));
    assert_false(exp_duration_parse("48h", &ms));
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct exp_config cfg;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(exp_config_load("/nonexistent/bb.yml", &cfg, &eb), CMON_ERR_IO);
    assert_string_equal(eb.msg, "/nonexistent/bb.yml: No such file or directory");
}

/* --web.listen-address in blackbox's spelling: ":PORT" is every address */
static void test_listen_address(void **state)
{
    (void)state;
    struct cmon_listen la;
    struct cmon_errbuf eb = {{0}};
    assert_int_equal(cmon_listen_parse(":9115", &la, &eb), CMON_OK);
    assert_true(la.any);
    assert_false(la.loopback);
    assert_string_equal(la.host, "");
    assert_int_equal(la.port, 9115);
    assert_int_equal(cmon_listen_parse("127.0.0.1:9116", &la, &eb), CMON_OK);
    assert_false(la.any);
    assert_true(la.loopback);
    assert_int_equal(la.sa.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&la.sa)->sin_port), 9116);
    assert_int_equal(cmon_listen_parse("[::1]:9117", &la, &eb), CMON_OK);
    assert_int_equal(la.sa.ss_family, AF_INET6);
    assert_true(la.loopback);
    assert_string_equal(la.host, "::1");
    assert_int_equal(cmon_listen_parse("9115", &la, &eb), CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "listen address '9115' is not HOST:PORT or :PORT");
    assert_int_equal(cmon_listen_parse(":0", &la, &eb), CMON_ERR_INVALID);
    assert_int_equal(cmon_listen_parse("127.0.0.1:http", &la, &eb), CMON_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_modules),   cmocka_unit_test(test_http_options),
        cmocka_unit_test(test_tcp_options),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_durations),      cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_listen_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
