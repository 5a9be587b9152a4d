/* test_http_parse.c: the HTTP edge's pure parsing (server/http_parse.h) --
 * path segments and route patterns, paging parameters, the raw-URI NUL
 * check, and the open-mode Host, Origin and Content-Type rules, with the
 * inputs an attacker would try (rebinding names, look-alike origins,
 * text/plain forms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "server/http_parse.h"

static void test_split_and_match(void **state)
{
    (void)state;
    char buf[64];
    const char *seg[4];
    size_t n;
    assert_true(http_split_path("tests/abc/paths/", buf, sizeof buf, seg, 4, &n));
    assert_int_equal(n, 3);
    assert_string_equal(seg[1], "abc");
    assert_true(http_pattern_match(seg, n, "tests/*/paths"));
    assert_false(http_pattern_match(seg, n, "tests/*"));
    assert_false(http_pattern_match(seg, n, "tests/*/paths/x"));
    assert_false(http_pattern_match(seg, n, "tests/*/path"));
    assert_false(http_split_path("a//b", buf, sizeof buf, seg, 4, &n));
    assert_false(http_split_path("", buf, sizeof buf, seg, 4, &n));
    assert_false(http_split_path("/", buf, sizeof buf, seg, 4, &n));
    assert_false(http_split_path("a/b/c/d/e", buf, sizeof buf, seg, 4, &n));
    char big[100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(http_split_path(big, buf, sizeof buf, seg, 4, &n));
}

static void test_page(void **state)
{
    (void)state;
    size_t l, o;
    assert_int_equal(http_parse_page(NULL, NULL, &l, &o), HTTP_PAGE_OK);
    assert_int_equal(l, 100);
    assert_int_equal(http_parse_page("1000", "25", &l, &o), HTTP_PAGE_OK);
    assert_int_equal(o, 25);
    assert_int_equal(http_parse_page("0", NULL, &l, &o), HTTP_PAGE_BAD_LIMIT);
    assert_int_equal(http_parse_page("1001", NULL, &l, &o), HTTP_PAGE_BAD_LIMIT);
    assert_int_equal(http_parse_page("-1", NULL, &l, &o), HTTP_PAGE_BAD_LIMIT);
    assert_int_equal(http_parse_page(" 5", NULL, &l, &o), HTTP_PAGE_BAD_LIMIT);
    assert_int_equal(http_parse_page(NULL, "x", &l, &o), HTTP_PAGE_BAD_CURSOR);
    assert_int_equal(http_parse_page(NULL, "99999999999999999999999", &l, &o),
                     HTTP_PAGE_BAD_CURSOR);
}

static void test_nul(void **state)
{
    (void)state;
    assert_true(http_uri_has_nul("/ui/app.js%00.html"));
    assert_true(http_uri_has_nul("/api/v1/tests?q=a%00b"));
    assert_false(http_uri_has_nul("/api/v1/tests?q=100%25"));
    assert_false(http_uri_has_nul("/x%0"));
    assert_false(http_uri_has_nul(NULL));
}

static void test_host(void **state)
{
    (void)state;
    const char *allowed[] = {"cmon.example"};
    const char *ok[] = {"localhost", "LOCALHOST:8080", "localhost.:1", "127.0.0.1:8080",
                        "127.9.9.9", "[::1]:8080",     "[::1]",        "app.localhost:80"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(http_host_allowed(ok[i], true, allowed, 0));
    const char *bad[] = {"evil.example:8080",
                         "127.0.0.1.evil.example",
                         "localhost.evil",
                         "128.0.0.1",
                         "::1",
                         "[::2]:80",
                         "localhost:0",
                         "localhost:99999",
                         "localhost:80x",
                         "",
                         "0x7f.1",
                         "local host"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(http_host_allowed(bad[i], true, allowed, 0));
    assert_true(http_host_allowed("Cmon.Example:443", true, allowed, 1));
    assert_false(http_host_allowed("localhost", false, allowed, 1));
    assert_false(http_host_allowed(NULL, true, allowed, 1));
}

static void test_origin(void **state)
{
    (void)state;
    assert_true(http_origin_matches("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(http_origin_matches("http://localhost", "localhost:80"));
    assert_true(http_origin_matches("https://LocalHost", "localhost:443"));
    assert_false(http_origin_matches("http://localhost:8081", "localhost:8080"));
    assert_true(http_origin_matches("https://localhost:8080", "localhost:8080"));
    assert_true(http_origin_matches("https://cmon.example.net", "cmon.example.net")); /* proxy */
    assert_false(http_origin_matches("https://cmon.example.net", "cmon.example.net:80"));
    assert_false(http_origin_matches("ftp://localhost", "localhost"));
    assert_false(http_origin_matches("http://evil.example", "localhost"));
    assert_false(http_origin_matches("null", "localhost"));
    assert_false(http_origin_matches("http://localhost.evil.example", "localhost"));
    assert_false(http_origin_matches("http://localhost", NULL));
}

static void test_content_type(void **state)
{
    (void)state;
    assert_true(http_content_type_is_json("application/json"));
    assert_true(http_content_type_is_json("Application/JSON; charset=utf-8"));
    assert_true(http_content_type_is_json(" application/json ;x=y"));
    assert_false(http_content_type_is_json("text/plain"));
    assert_false(http_content_type_is_json("application/jsonx"));
    assert_false(http_content_type_is_json("application/x-www-form-urlencoded"));
    assert_false(http_content_type_is_json("multipart/form-data; boundary=application/json"));
    assert_false(http_content_type_is_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_and_match),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
