/* test_model_validate.c: every file in tests/data/monitors/invalid must fail
 * with exactly the problems (text and position) in its .expected file; every
 * file in tests/data/monitors/valid and docs/examples must pass. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/text.h"
#include "model/alert_rule.h"
#include "model/monitor.h"
#include "test_support.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names of a directory, sorted; caller frees. */
static size_t list_json(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

/* Parse dir/name; the problems formatted as cmon validate prints them. */
static enum cmon_err parse_file(const char *dir, const char *name, char **problems_text)
{
    char path[1024], base[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - 5), name);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    assert_non_null(text);
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    enum cmon_err rc = cmon_monitor_parse(text, len, base, &m, &probs);
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_puts(&b, "");
    for (size_t i = 0; i < probs.n; i++) {
        char line[1200];
        cmon_problem_format(&probs.items[i], name, line, sizeof line);
        cmon_buf_printf(&b, "%s\n", line);
    }
    *problems_text = cmon_buf_take(&b);
    if (rc == CMON_OK) {
        assert_non_null(m);
        assert_int_equal(probs.n, 0);
    } else {
        assert_null(m);
        assert_true(probs.n > 0);
    }
    cmon_monitor_free(m);
    cmon_problems_free(&probs);
    free(text);
    return rc;
}

static void test_invalid_corpus(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/monitors/invalid", test_source_dir());
    char **names;
    size_t n = list_json(dir, &names);
    assert_true(n >= 40); /* the issue asks for at least 40 */
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char *got;
        enum cmon_err rc = parse_file(dir, names[i], &got);
        char exp_path[1200];
        snprintf(exp_path, sizeof exp_path, "%s/%.*s.expected", dir, (int)(strlen(names[i]) - 5),
                 names[i]);
        char *want = test_read_file(exp_path, NULL);
        if (!want) {
            print_error("%s: no .expected file\n", names[i]);
            failures++;
        } else if (rc == CMON_OK || strcmp(got, want) != 0) {
            print_error("%s:\n  expected:\n%s  got:\n%s", names[i], want, got);
            failures++;
        }
        free(want);
        free(got);
        free(names[i]);
    }
    free(names);
    assert_int_equal(failures, 0);
}

static void check_valid_dir(const char *rel, size_t min_files)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", test_source_dir(), rel);
    char **names;
    size_t n = list_json(dir, &names);
    assert_true(n >= min_files);
    for (size_t i = 0; i < n; i++) {
        char *got;
        enum cmon_err rc = parse_file(dir, names[i], &got);
        if (rc != CMON_OK)
            print_error("%s/%s should be valid:\n%s", rel, names[i], got);
        assert_int_equal(rc, CMON_OK);
        free(got);
        free(names[i]);
    }
    free(names);
}

static void test_valid_corpus(void **state)
{
    (void)state;
    check_valid_dir("tests/data/monitors/valid", 2);
}

static void test_examples_valid(void **state)
{
    (void)state;
    check_valid_dir("docs/examples", 4);
}

/* A problem of every element of a list is reported, not only the first. */
static void test_all_problems_reported(void **state)
{
    (void)state;
    static const char text[] =
        "{\"name\":\"m\",\"endpoints\":[{\"name\":\"a\",\"type\":\"Agent\"},"
        "{\"name\":\"x\",\"address\":\"bad host!\"}],"
        "\"testConfigurations\":[{\"name\":\"c\",\"protocol\":\"Udp\"},"
        "{\"name\":\"d\",\"protocol\":\"Tcp\",\"tcpConfiguration\":{\"port\":0}}],"
        "\"testGroups\":[{\"name\":\"g\",\"sources\":[\"a\"],\"destinations\":[\"y\"],"
        "\"testConfigurations\":[\"c\"]}]}";
    struct cmon_monitor *m;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, strlen(text), NULL, &m, &probs), CMON_ERR_INVALID);
    assert_int_equal(probs.n, 4);
    assert_string_equal(probs.items[0].path, "endpoints[1].address");
    assert_string_equal(probs.items[1].path, "testConfigurations[0].protocol");
    assert_string_equal(probs.items[2].path, "testConfigurations[1].tcpConfiguration.port");
    assert_string_equal(probs.items[3].path, "testGroups[0].destinations[0]");
    assert_int_equal(probs.items[0].line, 1);
    char line[600];
    cmon_problem_format(&probs.items[3], "f.json", line, sizeof line);
    assert_string_equal(line,
                        "f.json:1:261: testGroups[0].destinations[0]: no endpoint named \"y\"");
    cmon_problems_free(&probs);
}

static void test_name_from_file_or_missing(void **state)
{
    (void)state;
    static const char text[] =
        "{\"endpoints\":[{\"name\":\"a\",\"type\":\"Agent\"},{\"name\":\"b\",\"address\":\"::1\"}],"
        "\"testConfigurations\":[{\"name\":\"c\",\"protocol\":\"Icmp\"}],"
        "\"testGroups\":[{\"name\":\"g\",\"sources\":[\"a\"],\"destinations\":[\"b\"],"
        "\"testConfigurations\":[\"c\"]}]}";
    struct cmon_monitor *m;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, strlen(text), "web", &m, &probs), CMON_OK);
    assert_string_equal(m->name, "web");
    assert_int_equal(m->configs[0].checks_per_round, 10);
    assert_int_equal(m->configs[0].timeout_ms, 2000);
    assert_int_equal(m->configs[0].frequency_sec, 60);
    assert_true(m->configs[0].traceroute);
    cmon_monitor_free(m);
    assert_int_equal(cmon_monitor_parse(text, strlen(text), NULL, &m, &probs), CMON_ERR_INVALID);
    assert_int_equal(probs.n, 1);
    assert_string_equal(probs.items[0].message, "missing required field \"name\"");
    cmon_problems_free(&probs);
    assert_int_equal(cmon_monitor_parse(text, strlen(text), "bad name", &m, &probs),
                     CMON_ERR_INVALID);
    cmon_problems_free(&probs);
}

static void test_status_ranges_and_defaults(void **state)
{
    (void)state;
    static const char text[] =
        "{\"name\":\"m\",\"endpoints\":[{\"name\":\"a\",\"type\":\"Agent\"},"
        "{\"name\":\"b\",\"address\":\"http://h.test:8080/x?y=1\"}],"
        "\"testConfigurations\":[{\"name\":\"c\",\"protocol\":\"Http\",\"httpConfiguration\":"
        "{\"validStatusCodeRanges\":[\"2xx\",\"301-304\",\"418\"],\"method\":\"post\"}},"
        "{\"name\":\"d\",\"protocol\":\"Http\"}],"
        "\"testGroups\":[{\"name\":\"g\",\"sources\":[\"a\"],\"destinations\":[\"b\"],"
        "\"testConfigurations\":[\"c\",\"d\"]}]}";
    struct cmon_monitor *m;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, strlen(text), NULL, &m, &probs), CMON_OK);
    const struct cmon_test_config *c = &m->configs[0], *d = &m->configs[1];
    assert_string_equal(c->method, "POST");
    assert_string_equal(d->method, "GET");
    assert_int_equal(c->checks_per_round, 3);
    assert_int_equal(c->timeout_ms, 10000);
    assert_true(cmon_status_valid(c, 200) && cmon_status_valid(c, 299));
    assert_true(cmon_status_valid(c, 301) && cmon_status_valid(c, 304));
    assert_true(cmon_status_valid(c, 418));
    assert_false(cmon_status_valid(c, 300) || cmon_status_valid(c, 305));
    assert_false(cmon_status_valid(c, 503));
    assert_true(cmon_status_valid(d, 200) && cmon_status_valid(d, 399)); /* default 200-399 */
    assert_false(cmon_status_valid(d, 199) || cmon_status_valid(d, 400));
    struct cmon_test *t;
    size_t n;
    assert_int_equal(cmon_monitor_expand(m, &t, &n), CMON_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].target, "http://h.test:8080/x?y=1");
    assert_int_equal(t[0].port, 8080);
    cmon_tests_free(t, n);
    cmon_monitor_free(m);
}

/* The one table of per-protocol names and defaults (DESIGN 3), which the
 * validator, the scheduler and the probes all read. */
static void test_protocol_table(void **state)
{
    (void)state;
    static const struct {
        enum cmon_protocol p;
        const char *name;
        int checks, timeout_ms;
    } want[] = {{CMON_PROTO_ICMP, "Icmp", 10, 2000},
                {CMON_PROTO_TCP, "Tcp", 10, 2000},
                {CMON_PROTO_HTTP, "Http", 3, 10000}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(cmon_protocol_name(want[i].p), want[i].name);
        assert_string_equal(cmon_protocol_names[want[i].p], want[i].name);
        assert_int_equal(cmon_protocol_defaults(want[i].p)->checks_per_round, want[i].checks);
        assert_int_equal(cmon_protocol_defaults(want[i].p)->timeout_ms, want[i].timeout_ms);
    }
    assert_null(cmon_protocol_names[3]);
    assert_string_equal(cmon_protocol_name((enum cmon_protocol)7), "?");
    assert_int_equal(cmon_protocol_defaults((enum cmon_protocol)7)->timeout_ms, 2000);
}

static bool only_ops_known(void *arg, const char *name)
{
    (void)arg;
    return strcmp(name, "ops") == 0;
}

/* A monitor file's alertRules: parsed with the monitor, managed by it,
 * watching it; renamed with it; unknown action groups placed in the file. */
static void test_monitor_alert_rules(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/monitors/valid/with_alert_rules.json",
             test_source_dir());
    size_t len = 0;
    char *text = test_read_file(path, &len);
    assert_non_null(text);
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    assert_int_equal(cmon_monitor_parse(text, len, NULL, &m, &probs), CMON_OK);
    assert_int_equal(m->n_alert_rules, 2);
    const struct cmon_alert_rule *loss = m->alert_rules[0];
    assert_string_equal(loss->name, "web-loss");
    assert_string_equal(loss->monitor, "web");
    assert_string_equal(loss->dims[CMON_DIM_MONITOR], "web"); /* the default */
    assert_string_equal(loss->dims[CMON_DIM_DESTINATION], "*");
    assert_float_equal(loss->threshold, 20, 0);
    assert_int_equal(m->alert_rules[1]->kind, CMON_ALERT_KIND_STATE);
    /* the URL's name wins: the rules follow */
    assert_int_equal(cmon_monitor_rename(m, "w2"), CMON_OK);
    assert_string_equal(m->name, "w2");
    assert_string_equal(m->alert_rules[0]->monitor, "w2");
    assert_string_equal(m->alert_rules[0]->dims[CMON_DIM_MONITOR], "w2");
    assert_string_equal(m->alert_rules[1]->dims[CMON_DIM_MONITOR], "w2");
    /* an action group the server does not know: at its line:column */
    assert_int_equal(cmon_monitor_check_action_groups(text, len, m, only_ops_known, NULL, &probs),
                     CMON_OK);
    cmon_monitor_free(m);
    const char *named =
        "{\"name\": \"n\", \"endpoints\": [{\"name\": \"me\", \"type\": \"Agent\"},"
        " {\"name\": \"lo\", \"address\": \"127.0.0.1\"}],\n"
        " \"testConfigurations\": [{\"name\": \"p\", \"protocol\": \"Icmp\"}],\n"
        " \"testGroups\": [{\"name\": \"g\", \"sources\": [\"me\"],"
        " \"destinations\": [\"lo\"], \"testConfigurations\": [\"p\"]}],\n"
        " \"alertRules\": [{\"name\": \"s\", \"kind\": \"state\", \"scope\": \"test\","
        "\n   \"actionGroups\": [\"ops\", \"nope\"]}]}";
    assert_int_equal(cmon_monitor_parse(named, strlen(named), NULL, &m, &probs), CMON_OK);
    assert_int_equal(
        cmon_monitor_check_action_groups(named, strlen(named), m, only_ops_known, NULL, &probs),
        CMON_ERR_INVALID);
    assert_int_equal(probs.n, 1);
    char line[600];
    cmon_problem_format(&probs.items[0], "n.json", line, sizeof line);
    assert_string_equal(line, "n.json:5:28: alertRules[0].actionGroups[1]: unknown action group "
                              "\"nope\"; create it first (PUT /api/v1/actionGroups/nope)");
    cmon_problems_free(&probs);
    cmon_monitor_free(m);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_corpus),
        cmocka_unit_test(test_valid_corpus),
        cmocka_unit_test(test_examples_valid),
        cmocka_unit_test(test_all_problems_reported),
        cmocka_unit_test(test_name_from_file_or_missing),
        cmocka_unit_test(test_status_ranges_and_defaults),
        cmocka_unit_test(test_protocol_table),
        cmocka_unit_test(test_monitor_alert_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
