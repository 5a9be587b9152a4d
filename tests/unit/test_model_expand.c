/* test_model_expand.c: the seed's expansion (3 sources x 2 destinations x 2
 * configurations = 12 tests in source-major order) and stable test ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model/monitor.h"

static const char seed[] =
    "{\"name\": \"seed\", \"properties\": {"
    " \"endpoints\": ["
    "  {\"name\": \"A\", \"type\": \"Agent\"}, {\"name\": \"B\", \"type\": \"Agent\"},"
    "  {\"name\": \"C\", \"type\": \"Agent\"},"
    "  {\"name\": \"D\", \"address\": \"198.18.1.2\"}, {\"name\": \"E\", \"address\": \"e.test\"}],"
    " \"testConfigurations\": ["
    "  {\"name\": \"1\", \"protocol\": \"Tcp\", \"tcpConfiguration\": {\"port\": 80}},"
    "  {\"name\": \"2\", \"protocol\": \"Icmp\"}],"
    " \"testGroups\": [{\"name\": \"g\", \"sources\": [\"A\", \"B\", \"C\"],"
    "  \"destinations\": [\"D\", \"E\"], \"testConfigurations\": [\"1\", \"2\"]}]}}";

/* The same monitor with every object's keys in another order. */
static const char seed_reordered[] =
    "{\"properties\": {"
    " \"testGroups\": [{\"testConfigurations\": [\"1\", \"2\"], \"destinations\": [\"D\", \"E\"],"
    "  \"sources\": [\"A\", \"B\", \"C\"], \"name\": \"g\"}],"
    " \"testConfigurations\": ["
    "  {\"tcpConfiguration\": {\"port\": 80}, \"protocol\": \"Tcp\", \"name\": \"1\"},"
    "  {\"protocol\": \"Icmp\", \"name\": \"2\"}],"
    " \"endpoints\": ["
    "  {\"type\": \"Agent\", \"name\": \"A\"}, {\"type\": \"Agent\", \"name\": \"B\"},"
    "  {\"type\": \"Agent\", \"name\": \"C\"},"
    "  {\"address\": \"198.18.1.2\", \"name\": \"D\"}, {\"address\": \"e.test\", \"name\": "
    "\"E\"}]},"
    " \"name\": \"seed\"}";

static void expand(const char *text, struct cmon_monitor **m, struct cmon_test **t, size_t *n)
{
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, strlen(text), NULL, m, &probs), CMON_OK);
    assert_int_equal(cmon_monitor_expand(*m, t, n), CMON_OK);
}

static void test_seed_order(void **state)
{
    (void)state;
    static const char *const want[12] = {"A-D-1", "A-D-2", "A-E-1", "A-E-2", "B-D-1", "B-D-2",
                                         "B-E-1", "B-E-2", "C-D-1", "C-D-2", "C-E-1", "C-E-2"};
    struct cmon_monitor *m;
    struct cmon_test *t;
    size_t n;
    expand(seed, &m, &t, &n);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) {
        char got[32];
        snprintf(got, sizeof got, "%s-%s-%s", m->endpoints[t[i].source].name,
                 m->endpoints[t[i].destination].name, m->configs[t[i].config].name);
        assert_string_equal(got, want[i]);
        assert_int_equal(t[i].number, (int)i + 1);
        assert_int_equal(strlen(t[i].id), CMON_TEST_ID_LEN);
    }
    assert_string_equal(t[0].target, "198.18.1.2");
    assert_int_equal(t[0].port, 80);
    assert_int_equal(t[0].protocol, CMON_PROTO_TCP);
    assert_string_equal(t[3].target, "e.test");
    assert_int_equal(t[3].port, 0);
    assert_int_equal(t[3].protocol, CMON_PROTO_ICMP);
    /* every id distinct */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(t[i].id, t[k].id);
    cmon_tests_free(t, n);
    cmon_monitor_free(m);
}

static void test_ids_stable(void **state)
{
    (void)state;
    struct cmon_monitor *m1, *m2, *m3;
    struct cmon_test *t1, *t2, *t3;
    size_t n1, n2, n3;
    expand(seed, &m1, &t1, &n1);
    expand(seed, &m2, &t2, &n2);
    expand(seed_reordered, &m3, &t3, &n3);
    assert_int_equal(n1, 12);
    assert_int_equal(n2, 12);
    assert_int_equal(n3, 12);
    for (size_t i = 0; i < n1; i++) {
        assert_string_equal(t1[i].id, t2[i].id);
        assert_string_equal(t1[i].id, t3[i].id);
    }
    /* the id is the hash of the five names, nothing else */
    char id[CMON_TEST_ID_LEN + 1];
    cmon_test_id("seed", "g", "A", "D", "1", id);
    assert_string_equal(id, t1[0].id);
    /* names are separated: ("ab","c") and ("a","bc") differ */
    char x[CMON_TEST_ID_LEN + 1], y[CMON_TEST_ID_LEN + 1];
    cmon_test_id("m", "ab", "c", "d", "e", x);
    cmon_test_id("m", "a", "bc", "d", "e", y);
    assert_string_not_equal(x, y);
    /* a pinned value: changing the hash would re-key every stored result */
    cmon_test_id("seed", "g", "A", "D", "1", id);
    assert_string_equal(id, "d5d008fb8de8cd7a");
    /* every id of the seed, as stores hold them since the first release */
    static const char *const stored[12] = {
        "d5d008fb8de8cd7a", "d5c608fb8de078f5", "004808f0447bb21b", "004408f04477c944",
        "d975c24dcabc42ed", "d97fc24dcac49772", "5c07c24f442c084c", "5c0bc24f442ff123",
        "70852eb4f055c634", "70872eb4f056490b", "99b52ea9a5d08235", "99bf2ea9a5d8d6ba"};
    for (size_t i = 0; i < n1; i++)
        assert_string_equal(t1[i].id, stored[i]);
    cmon_test_id("", "", "", "", "", id);
    assert_string_equal(id, "ac3fdc08a1c002aa");
    cmon_tests_free(t1, n1);
    cmon_tests_free(t2, n2);
    cmon_tests_free(t3, n3);
    cmon_monitor_free(m1);
    cmon_monitor_free(m2);
    cmon_monitor_free(m3);
}

static void test_http_targets(void **state)
{
    (void)state;
    static const char text[] =
        "{\"name\":\"h\",\"endpoints\":[{\"name\":\"a\",\"type\":\"Agent\"},"
        "{\"name\":\"u\",\"address\":\"https://shop.test/health\"},"
        "{\"name\":\"h\",\"address\":\"shop.test\"},{\"name\":\"v6\",\"address\":\"::1\"}],"
        "\"testConfigurations\":["
        "{\"name\":\"plain\",\"protocol\":\"Http\"},"
        "{\"name\":\"tls\",\"protocol\":\"Http\",\"httpConfiguration\":{\"preferHTTPS\":true,"
        "\"path\":\"/p\"}},"
        "{\"name\":\"p8\",\"protocol\":\"Http\",\"httpConfiguration\":{\"port\":8443}}],"
        "\"testGroups\":[{\"name\":\"g\",\"sources\":[\"a\"],\"destinations\":[\"u\",\"h\",\"v6\"],"
        "\"testConfigurations\":[\"plain\",\"tls\",\"p8\"]}]}";
    static const char *const want[9][2] = {{"https://shop.test/health", "443"},
                                           {"https://shop.test/p", "443"},
                                           {"https://shop.test:8443/health", "8443"},
                                           {"http://shop.test/", "80"},
                                           {"https://shop.test/p", "443"},
                                           {"http://shop.test:8443/", "8443"},
                                           {"http://[::1]/", "80"},
                                           {"https://[::1]/p", "443"},
                                           {"http://[::1]:8443/", "8443"}};
    struct cmon_monitor *m;
    struct cmon_test *t;
    size_t n;
    expand(text, &m, &t, &n);
    assert_int_equal(n, 9);
    for (size_t i = 0; i < n; i++) {
        char port[8];
        snprintf(port, sizeof port, "%d", t[i].port);
        assert_string_equal(t[i].target, want[i][0]);
        assert_string_equal(port, want[i][1]);
    }
    cmon_tests_free(t, n);
    cmon_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_order),
        cmocka_unit_test(test_ids_stable),
        cmocka_unit_test(test_http_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
