/* test_alert_rule.c: alert rules and action groups -- valid ones parse with
 * their defaults and round-trip through JSON; invalid ones fail with exactly
 * the expected "line:col: path: message" problems. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/alert_rule.h"
#include "core/text.h"
#include "test_support.h"

/* Every problem of text as one string, one per line; the return code. */
static enum cmon_err rule_problems(const char *text, char **out, bool group)
{
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    struct cmon_action_group *g = NULL;
    enum cmon_err rc = group ? cmon_action_group_parse(text, strlen(text), &g, &probs)
                             : cmon_alert_rule_parse(text, strlen(text), &r, &probs);
    struct cmon_buf b;
    cmon_buf_init(&b);
    cmon_buf_puts(&b, "");
    for (size_t i = 0; i < probs.n; i++) {
        char line[1200];
        cmon_problem_format(&probs.items[i], NULL, line, sizeof line);
        cmon_buf_printf(&b, "%s\n", line);
    }
    *out = cmon_buf_take(&b);
    if (rc == CMON_OK)
        assert_true(r || g);
    else
        assert_true(!r && !g && probs.n > 0);
    cmon_alert_rule_free(r);
    cmon_action_group_free(g);
    cmon_problems_free(&probs);
    return rc;
}

struct bad_case {
    const char *text;
    const char *want;
};

static const struct bad_case bad_rules[] = {
    {"[1]", "1:1: an alert rule must be a JSON object\n"},
    {"{\"name\": \"r\", ", "1:14: invalid JSON: string or '}' expected near end of file\n"},
    {"{\"name\":\"r\",\"metric\":\"ChecksFailedPercent\",\"operator\":\"GreaterThan\","
     "\"threshold\":5,\"name\":\"x\"}",
     "1:88: invalid JSON: duplicate object key near '\"name\"'\n"},
    {"{\"kind\": \"metric\"}",
     "1:1: missing required field \"name\"\n"
     "1:1: missing required field \"metric\"\n"
     "1:1: missing required field \"operator\"\n"
     "1:1: missing required field \"threshold\"\n"},
    {"{\"name\": \"r 1\", \"metric\": \"ChecksFailedPercnt\", \"operator\": \">\",\n"
     " \"threshold\": 150, \"aggregation\": \"Avg\", \"windowSizeSec\": 10}",
     "1:10: name: rule name \"r 1\" must be 1-80 characters of letters, digits, '.', '_' or "
     "'-', not starting with '.' or '-'\n"
     "1:27: metric: unknown metric \"ChecksFailedPercnt\" (did you mean "
     "\"ChecksFailedPercent\"?); use one of \"ChecksFailedPercent\", \"RoundTripTimeMs\", "
     "\"ProbesFailedPercent\", \"AverageRoundtripMs\"\n"
     "1:61: operator: unknown operator \">\"; use one of \"GreaterThan\", "
     "\"GreaterThanOrEqual\", \"LessThan\", \"LessThanOrEqual\"\n"
     "2:35: aggregation: unknown aggregation \"Avg\"; use one of \"Average\", \"Minimum\", "
     "\"Maximum\"\n"
     "2:59: windowSizeSec: must be between 30 and 86400, got 10\n"},
    {"{\"name\": \"r\", \"metric\": \"RoundTripTimeMs\", \"operator\": \"LessThan\",\n"
     " \"threshold\": \"fast\", \"severity\": 5, \"forEvaluations\": 0, \"treshold\": 1}",
     "2:15: threshold: must be a number, not a string\n"
     "2:35: severity: must be between 0 and 4, got 5\n"
     "2:56: forEvaluations: must be between 1 and 100, got 0\n"
     "2:59: treshold: unknown field \"treshold\" (did you mean \"threshold\"?)\n"},
    {"{\"name\": \"r\", \"metric\": \"RoundTripTimeMs\", \"operator\": \"GreaterThan\",\n"
     " \"threshold\": -1, \"windowSizeSec\": 60, \"evaluationFrequencySec\": 120}",
     "2:15: threshold: RoundTripTimeMs threshold must not be negative, got -1\n"
     "2:66: evaluationFrequencySec: must not exceed windowSizeSec (60), got 120\n"},
    {"{\"name\": \"r\", \"kind\": \"state\", \"scope\": \"group\", \"states\": [\"Fail\", \"Bad\", 3],\n"
     " \"threshold\": 5}",
     "1:41: scope: unknown scope \"group\"; use one of \"test\", \"testGroup\", \"monitor\"\n"
     "1:69: states[1]: unknown state \"Bad\"; use one of \"Fail\", \"Warning\", \"Indeterminate\"\n"
     "1:76: states[2]: must be a state name\n"
     "2:2: threshold: \"threshold\" applies to metric rules only (this rule's kind is "
     "\"state\")\n"},
    {"{\"name\": \"r\", \"kind\": \"state\", \"states\": []}",
     "1:1: missing required field \"scope\"\n"
     "1:42: states: must name at least one state\n"},
    {"{\"name\": \"r\", \"kind\": \"alarm\", \"threshold\": 1}",
     "1:23: kind: unknown kind \"alarm\"; use one of \"metric\", \"state\"\n"},
    {"{\"name\": \"r\", \"metric\": \"ChecksFailedPercent\", \"operator\": \"GreaterThan\",\n"
     " \"threshold\": 5, \"scope\": \"test\",\n"
     " \"dimensions\": {\"monitor\": \"\", \"protocol\": \"https\", \"dest\": \"x\", \"source\": 7},\n"
     " \"actionGroups\": [\"ops\", \"ops\", 1]}",
     "2:18: scope: \"scope\" applies to state rules only (this rule's kind is \"metric\")\n"
     "3:28: dimensions.monitor: must be 1-80 characters: a name, or \"*\" for each value\n"
     "3:44: dimensions.protocol: unknown protocol \"https\" (did you mean \"Http\"?); use one "
     "of \"Icmp\", \"Tcp\", \"Http\"\n"
     "3:53: dimensions.dest: unknown field \"dest\"\n"
     "3:76: dimensions.source: must be a string, not an integer\n"
     "4:26: actionGroups[1]: action group \"ops\" is listed twice\n"
     "4:33: actionGroups[2]: must be an action group name\n"},
};

static const struct bad_case bad_rules2[] = {
    {"{\"name\": \"AgentUnavailable\", \"kind\": \"state\", \"scope\": \"monitor\"}",
     "1:10: name: rule name \"AgentUnavailable\" is reserved for cmon's agent alerts\n"},
    {"{\"name\": \"r\", \"metric\": \"ChecksFailedPercent\", \"operator\": \"GreaterThan\", "
     "\"threshold\": 150}",
     "1:88: threshold: ChecksFailedPercent threshold must be between 0 and 100, got 150\n"},
};

static const struct bad_case bad_groups[] = {
    {"{\"name\": \"ops\"}",
     "1:1: an action group needs at least one of \"webhooks\", \"alertmanagers\", \"exec\"\n"},
    {"{\"name\": \"ops\", \"webhooks\": [{\"url\": \"ftp://x\", \"secret\": \"\"}, 5, {}],\n"
     " \"alertmanagers\": [{\"url\": \"http://127.0.0.1:9093\", \"api\": 2}],\n"
     " \"exec\": [{\"command\": []}, {\"command\": [\"\", 1], \"timeoutSec\": 0}]}",
     "1:38: webhooks[0].url: scheme must be http or https\n"
     "1:59: webhooks[0].secret: must not be empty (leave it out to send unsigned requests)\n"
     "1:64: webhooks[1]: must be an object\n"
     "1:67: webhooks[2]: missing required field \"url\"\n"
     "2:53: alertmanagers[0].api: unknown field \"api\"\n"
     "3:23: exec[0].command: must list the program and its arguments (1-64 strings)\n"
     "3:41: exec[1].command[0]: the program must not be empty\n"
     "3:45: exec[1].command[1]: must be a string\n"
     "3:63: exec[1].timeoutSec: must be between 1 and 300, got 0\n"},
};

static void check_cases(const struct bad_case *cases, size_t n, bool group)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char *got;
        enum cmon_err rc = rule_problems(cases[i].text, &got, group);
        if (rc == CMON_OK || strcmp(got, cases[i].want) != 0) {
            fprintf(stderr, "case %zu: %s\n--- want\n%s--- got\n%s", i, cases[i].text, cases[i].want,
                        got);
            failures++;
        }
        free(got);
    }
    assert_int_equal(failures, 0);
}

static void test_invalid_rules(void **state)
{
    (void)state;
    check_cases(bad_rules, sizeof bad_rules / sizeof bad_rules[0], false);
    check_cases(bad_rules2, sizeof bad_rules2 / sizeof bad_rules2[0], false);
}

static void test_invalid_groups(void **state)
{
    (void)state;
    check_cases(bad_groups, sizeof bad_groups / sizeof bad_groups[0], true);
}

static struct cmon_alert_rule *parse_ok(const char *text)
{
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    enum cmon_err rc = cmon_alert_rule_parse(text, strlen(text), &r, &probs);
    if (rc != CMON_OK)
        print_error("unexpected problem: %s: %s\n", probs.items[0].path, probs.items[0].message);
    assert_int_equal(rc, CMON_OK);
    cmon_problems_free(&probs);
    return r;
}

static void test_metric_defaults_and_legacy(void **state)
{
    (void)state;
    struct cmon_alert_rule *r = parse_ok(
        "{\"name\": \"loss\", \"metric\": \"probesfailedpercent\", \"operator\": \"GreaterThan\","
        " \"threshold\": 5, \"dimensions\": {\"monitor\": \"web\", \"destination\": \"*\","
        " \"protocol\": \"tcp\"}, \"actionGroups\": [\"ops\"]}");
    assert_int_equal(r->kind, CMON_ALERT_KIND_METRIC);
    assert_int_equal(r->metric, CMON_METRIC_CHECKS_FAILED_PCT);
    assert_int_equal(r->op, CMON_OP_GT);
    assert_true(r->threshold == 5.0);
    assert_int_equal(r->aggregation, CMON_AGG_AVG);
    assert_int_equal(r->window_sec, 300);
    assert_int_equal(r->evaluation_frequency_sec, 60);
    assert_int_equal(r->severity, 2);
    assert_int_equal(r->for_evaluations, 1);
    assert_true(r->enabled);
    assert_string_equal(r->dims[CMON_DIM_MONITOR], "web");
    assert_string_equal(r->dims[CMON_DIM_DESTINATION], "*");
    assert_string_equal(r->dims[CMON_DIM_PROTOCOL], "Tcp");
    assert_null(r->dims[CMON_DIM_SOURCE]);
    assert_int_equal(r->n_action_groups, 1);
    json_t *j = cmon_alert_rule_to_json(r);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        s, "{\"actionGroups\":[\"ops\"],\"aggregation\":\"Average\",\"dimensions\":{\"destination\":"
           "\"*\",\"monitor\":\"web\",\"protocol\":\"Tcp\"},\"enabled\":true,"
           "\"evaluationFrequencySec\":60,\"forEvaluations\":1,\"kind\":\"metric\",\"metric\":"
           "\"ChecksFailedPercent\",\"name\":\"loss\",\"operator\":\"GreaterThan\",\"severity\":2,"
           "\"threshold\":5.0,\"windowSizeSec\":300}");
    /* the JSON form parses back to the same rule */
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r2 = NULL;
    assert_int_equal(cmon_alert_rule_from_json(j, "", &r2, &probs), CMON_OK);
    json_t *j2 = cmon_alert_rule_to_json(r2);
    assert_true(json_equal(j, j2));
    json_decref(j2);
    cmon_alert_rule_free(r2);
    free(s);
    json_decref(j);
    cmon_alert_rule_free(r);

    r = parse_ok("{\"name\": \"rtt\", \"metric\": \"AverageRoundtripMs\", \"operator\": "
                 "\"GreaterThanOrEqual\", \"threshold\": 250.5, \"aggregation\": \"Maximum\"}");
    assert_int_equal(r->metric, CMON_METRIC_RTT_MS);
    assert_int_equal(r->op, CMON_OP_GE);
    assert_int_equal(r->aggregation, CMON_AGG_MAX);
    cmon_alert_rule_free(r);
}

/* The metrics API's dimension names (model/dims.h) and the cloud's metric
 * spellings: the same rule as the short names; labels keep the short names. */
static void test_seed_dimensions(void **state)
{
    (void)state;
    struct cmon_alert_rule *r = parse_ok(
        "{\"name\": \"seed\", \"metric\": \"ChecksFailedPercent(Preview)\", \"operator\":"
        " \"GreaterThan\", \"threshold\": 5, \"dimensions\": {\"ConnectionMonitorResourceId\":"
        " \"web\", \"SourceAddress\": \"10.192.64.56\", \"Region\": \"*\", \"DestinationPort\":"
        " \"443\", \"SourceResourceId\": \"*\", \"TestId\": \"*\"}}");
    assert_int_equal(r->metric, CMON_METRIC_CHECKS_FAILED_PCT);
    assert_string_equal(r->dims[CMON_DIM_MONITOR], "web");
    assert_string_equal(r->dims[CMON_DIM_SOURCE_ADDRESS], "10.192.64.56");
    assert_string_equal(r->dims[CMON_DIM_REGION], "*");
    assert_string_equal(r->dims[CMON_DIM_DEST_PORT], "443");
    assert_string_equal(r->dims[CMON_DIM_SOURCE_RESOURCE_ID], "*");
    assert_string_equal(r->dims[CMON_DIM_TEST_ID], "*");
    json_t *j = cmon_alert_rule_to_json(r);
    char *s = json_dumps(json_object_get(j, "dimensions"), JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"DestinationPort\":\"443\",\"Region\":\"*\",\"SourceAddress\":"
                           "\"10.192.64.56\",\"SourceResourceId\":\"*\",\"TestId\":\"*\","
                           "\"monitor\":\"web\"}");
    assert_string_equal(json_string_value(json_object_get(j, "metric")), "ChecksFailedPercent");
    free(s);
    json_decref(j);
    cmon_alert_rule_free(r);
    r = parse_ok("{\"name\": \"rtt\", \"metric\": \"roundtriptimems(preview)\", \"operator\":"
                 " \"GreaterThan\", \"threshold\": 5}");
    assert_int_equal(r->metric, CMON_METRIC_RTT_MS);
    cmon_alert_rule_free(r);
    char *got;
    assert_int_equal(rule_problems("{\"name\": \"r\", \"metric\": \"RoundTripTimeMs\", \"operator\":"
                                   " \">\", \"threshold\": 5, \"dimensions\": {\"SourceAdress\": \"x\","
                                   " \"source\": \"a\", \"SourceName\": \"b\"}}",
                                   &got, false),
                     CMON_ERR_INVALID);
    assert_non_null(strstr(got, "dimensions.SourceAdress: unknown field \"SourceAdress\" (did you "
                                "mean \"SourceAddress\"?)"));
    assert_non_null(strstr(got, "dimensions.SourceName: names the dimension SourceName a second time"));
    free(got);
}

static void test_state_rule(void **state)
{
    (void)state;
    struct cmon_alert_rule *r = parse_ok(
        "{\"name\": \"grp\", \"kind\": \"state\", \"scope\": \"testGroup\", \"states\": "
        "[\"Fail\", \"warning\"], \"forEvaluations\": 3, \"severity\": 1}");
    assert_int_equal(r->kind, CMON_ALERT_KIND_STATE);
    assert_int_equal(r->scope, CMON_SCOPE_TEST_GROUP);
    assert_int_equal(r->states, (1u << CMON_STATE_FAIL) | (1u << CMON_STATE_WARNING));
    assert_int_equal(r->for_evaluations, 3);
    json_t *j = cmon_alert_rule_to_json(r);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"actionGroups\":[],\"dimensions\":{},\"enabled\":true,"
                           "\"evaluationFrequencySec\":60,\"forEvaluations\":3,\"kind\":\"state\","
                           "\"name\":\"grp\",\"scope\":\"testGroup\",\"severity\":1,\"states\":"
                           "[\"Fail\",\"Warning\"]}");
    free(s);
    json_decref(j);
    cmon_alert_rule_free(r);
    /* states default to Fail */
    r = parse_ok("{\"name\": \"t\", \"kind\": \"state\", \"scope\": \"test\"}");
    assert_int_equal(r->states, 1u << CMON_STATE_FAIL);
    cmon_alert_rule_free(r);
}

static void test_action_group_roundtrip(void **state)
{
    (void)state;
    const char *text =
        "{\"name\": \"ops\", \"webhooks\": [{\"url\": \"https://hooks.example/x\", \"secret\": "
        "\"s3\"}], \"alertmanagers\": [{\"url\": \"http://127.0.0.1:9093\"}], \"exec\": "
        "[{\"command\": [\"/bin/sh\", \"-c\", \"cat\"]}]}";
    struct cmon_problems probs = {0};
    struct cmon_action_group *g = NULL;
    assert_int_equal(cmon_action_group_parse(text, strlen(text), &g, &probs), CMON_OK);
    assert_int_equal(g->n_webhooks, 1);
    assert_string_equal(g->webhooks[0].secret, "s3");
    assert_int_equal(g->n_execs, 1);
    assert_int_equal(g->execs[0].argc, 3);
    assert_null(g->execs[0].argv[3]);
    assert_int_equal(g->execs[0].timeout_sec, 10);
    json_t *j = cmon_action_group_to_json(g);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"alertmanagers\":[{\"url\":\"http://127.0.0.1:9093\"}],\"exec\":"
                           "[{\"command\":[\"/bin/sh\",\"-c\",\"cat\"],\"timeoutSec\":10}],"
                           "\"name\":\"ops\",\"webhooks\":[{\"secret\":\"s3\",\"url\":"
                           "\"https://hooks.example/x\"}]}");
    free(s);
    json_decref(j);
    cmon_action_group_free(g);
}

static void test_from_json_prefix(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s, s:s}", "name", "x", "metric", "Loss");
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *r = NULL;
    assert_int_equal(cmon_alert_rule_from_json(j, "alertRules[2]", &r, &probs),
                     CMON_ERR_INVALID);
    assert_null(r);
    assert_int_equal(probs.n, 3);
    char line[1000];
    cmon_problem_format(&probs.items[1], NULL, line, sizeof line);
    assert_string_equal(line, "alertRules[2]: missing required field \"operator\"");
    cmon_problem_format(&probs.items[2], NULL, line, sizeof line);
    assert_string_equal(line, "alertRules[2]: missing required field \"threshold\"");
    cmon_problem_format(&probs.items[0], NULL, line, sizeof line);
    assert_string_equal(line, "alertRules[2].metric: unknown metric \"Loss\"; use one of "
                              "\"ChecksFailedPercent\", \"RoundTripTimeMs\", "
                              "\"ProbesFailedPercent\", \"AverageRoundtripMs\"");
    cmon_problems_free(&probs);
    json_decref(j);
}

/* The default rules documented in docs/alerts.md are valid rules. */
static void test_documented_defaults(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/alerts.md", test_source_dir());
    char *doc = test_read_file(path, NULL);
    assert_non_null(doc);
    const char *sec = strstr(doc, "## Default rules");
    assert_non_null(sec);
    const char *start = strstr(sec, "```json\n");
    assert_non_null(start);
    start += 8;
    const char *end = strstr(start, "```");
    assert_non_null(end);
    json_error_t err;
    json_t *arr = json_loadb(start, (size_t)(end - start), 0, &err);
    if (!arr)
        fail_msg("default rules JSON: %s", err.text);
    assert_int_equal(json_array_size(arr), 4);
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        struct cmon_problems probs = {0};
        struct cmon_alert_rule *r = NULL;
        if (cmon_alert_rule_from_json(it, "", &r, &probs) != CMON_OK)
            fail_msg("default rule %zu: %s: %s", i, probs.items[0].path, probs.items[0].message);
        cmon_alert_rule_free(r);
    }
    json_decref(arr);
    free(doc);
}

/* The table the rule form is served (GET /api/v1/alertSignals) is the one
 * validation applies: each signal's threshold bounds, the window and
 * frequency ranges, the operators and aggregations. */
static void test_signals_table_is_validation(void **state)
{
    (void)state;
    json_t *t = cmon_alert_signals_json();
    assert_non_null(t);
    char buf[600];
    size_t i;
    json_t *sig;
    json_array_foreach(json_object_get(t, "signals"), i, sig)
    {
        const char *name = json_string_value(json_object_get(sig, "name"));
        json_t *max = json_object_get(sig, "thresholdMax");
        double lo = json_number_value(json_object_get(sig, "thresholdMin"));
        struct cmon_alert_rule *r;
        snprintf(buf, sizeof buf,
                 "{\"name\":\"r\",\"metric\":\"%s\",\"operator\":\"GreaterThan\",\"threshold\":%g}",
                 name, lo);
        assert_non_null(r = cmon_alert_rule_loads(buf));
        cmon_alert_rule_free(r);
        snprintf(buf, sizeof buf,
                 "{\"name\":\"r\",\"metric\":\"%s\",\"operator\":\"GreaterThan\",\"threshold\":%g}",
                 name, lo - 1);
        assert_null(cmon_alert_rule_loads(buf));
        double above = json_is_null(max) ? 1e12 : json_number_value(max) + 1;
        snprintf(buf, sizeof buf,
                 "{\"name\":\"r\",\"metric\":\"%s\",\"operator\":\"GreaterThan\",\"threshold\":%g}",
                 name, above);
        r = cmon_alert_rule_loads(buf);
        assert_true(json_is_null(max) ? r != NULL : r == NULL);
        cmon_alert_rule_free(r);
        /* every aggregation the signal lists is accepted */
        size_t k;
        json_t *agg;
        json_array_foreach(json_object_get(sig, "aggregations"), k, agg)
        {
            snprintf(buf, sizeof buf,
                     "{\"name\":\"r\",\"metric\":\"%s\",\"operator\":\"LessThan\",\"threshold\":1,"
                     "\"aggregation\":\"%s\"}",
                     name, json_string_value(agg));
            assert_non_null(r = cmon_alert_rule_loads(buf));
            cmon_alert_rule_free(r);
        }
    }
    assert_int_equal(i, 2);
    json_t *op;
    json_array_foreach(json_object_get(t, "operators"), i, op)
    {
        snprintf(
            buf, sizeof buf,
            "{\"name\":\"r\",\"metric\":\"RoundTripTimeMs\",\"operator\":\"%s\",\"threshold\":1}",
            json_string_value(json_object_get(op, "name")));
        struct cmon_alert_rule *r = cmon_alert_rule_loads(buf);
        assert_non_null(r);
        assert_string_equal(cmon_alert_op_symbol(r->op),
                            json_string_value(json_object_get(op, "symbol")));
        cmon_alert_rule_free(r);
    }
    static const char *const ranges[] = {"windowSizeSec", "evaluationFrequencySec"};
    for (size_t k = 0; k < 2; k++) {
        json_t *rg = json_object_get(t, ranges[k]);
        json_int_t lo = json_integer_value(json_object_get(rg, "min"));
        json_int_t hi = json_integer_value(json_object_get(rg, "max"));
        json_int_t v[] = {lo - 1, lo, hi, hi + 1};
        for (size_t x = 0; x < 4; x++) {
            /* the other range kept valid: window 86400 holds any frequency */
            snprintf(buf, sizeof buf,
                     "{\"name\":\"r\",\"metric\":\"RoundTripTimeMs\",\"operator\":\"LessThan\","
                     "\"threshold\":1,\"%s\":%lld%s}",
                     ranges[k], (long long)v[x],
                     k ? ",\"windowSizeSec\":86400" : ",\"evaluationFrequencySec\":10");
            struct cmon_alert_rule *r = cmon_alert_rule_loads(buf);
            assert_true((x == 1 || x == 2) == (r != NULL));
            cmon_alert_rule_free(r);
        }
    }
    json_decref(t);
}

/* The store's text of a rule round-trips; the manager is not in it (the
 * store keeps it in its own column), but the API's JSON shows it. */
static void test_rule_text_and_manager(void **state)
{
    (void)state;
    struct cmon_alert_rule *r =
        cmon_alert_rule_loads("{\"name\":\"r\",\"kind\":\"state\",\"scope\":\"monitor\","
                              "\"dimensions\":{\"monitor\":\"m\"},"
                              "\"managedBy\":{\"monitor\":\"ignored\"}}");
    assert_non_null(r);
    assert_null(r->monitor); /* managedBy is read-only */
    assert_non_null(r->monitor = strdup("m"));
    char *text = cmon_alert_rule_dumps(r);
    assert_null(strstr(text, "managedBy"));
    struct cmon_alert_rule *back = cmon_alert_rule_loads(text);
    assert_non_null(back);
    char *again = cmon_alert_rule_dumps(back);
    assert_string_equal(text, again);
    json_t *j = cmon_alert_rule_to_json(r);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "managedBy"), "monitor")), "m");
    json_decref(j);
    assert_null(cmon_alert_rule_loads("{\"name\":\"r\"}"));
    struct cmon_alert_rule_list l = {0};
    assert_true(cmon_alert_rule_list_add(&l, back, "r"));
    assert_true(cmon_alert_rule_list_add(&l, NULL, "broken"));
    assert_int_equal(l.n, 1);
    assert_int_equal(l.n_invalid, 1);
    assert_string_equal(l.invalid[0], "broken");
    assert_ptr_equal(cmon_alert_rule_find(&l, "r"), back);
    assert_null(cmon_alert_rule_find(&l, "x"));
    cmon_alert_rule_list_free(&l);
    free(text);
    free(again);
    cmon_alert_rule_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_rules),
        cmocka_unit_test(test_invalid_groups),
        cmocka_unit_test(test_metric_defaults_and_legacy),
        cmocka_unit_test(test_seed_dimensions),
        cmocka_unit_test(test_state_rule),
        cmocka_unit_test(test_action_group_roundtrip),
        cmocka_unit_test(test_from_json_prefix),
        cmocka_unit_test(test_documented_defaults),
        cmocka_unit_test(test_signals_table_is_validation),
        cmocka_unit_test(test_rule_text_and_manager),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
