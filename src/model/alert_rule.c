/* alert_rule.c: parse and validate alert rules (metric and state kinds) from JSON,
 * reporting every problem as "path: message" in the monitor validator's
 * style (it reuses src/model/validate.h), and write them back as JSON with
 * every default filled in.  Action groups live in alert_action.c. */
#include "model/alert_rule.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/alert_rule_internal.h"
#include "model/validate.h"

static const char *const rule_fields[] = {"name", "description", "enabled", "kind", "metric",
    "dimensions", "operator", "threshold", "aggregation", "windowSizeSec",
    "evaluationFrequencySec", "severity", "forEvaluations", "scope", "states", "actionGroups",
    NULL};
/* written back for people, ignored when read (the owner is the store's) */
static const char *const rule_readonly[] = {"managedBy", NULL};
static const char *const metric_only[] = {"metric", "operator", "threshold", "aggregation",
                                          "windowSizeSec", NULL};
static const char *const state_only[] = {"scope", "states", NULL};
static const char *const kind_names[] = {"metric", "state", NULL};
/* current, then legacy: index % 2 is the metric */
static const char *const metric_names[] = {"ChecksFailedPercent", "RoundTripTimeMs",
                                           "ProbesFailedPercent", "AverageRoundtripMs", NULL};
/* The cloud's alert rules name metrics "ChecksFailedPercent(Preview)": the
 * same metric. */
#define PREVIEW_SUFFIX "(Preview)"
static const char *const op_names[] = {"GreaterThan", "GreaterThanOrEqual", "LessThan",
                                       "LessThanOrEqual", NULL};
static const char *const op_symbols[] = {">", ">=", "<", "<="};
/* What each metric measures and the thresholds it allows: validation and the
 * rule form (cmon_alert_signals_json) read this one table. */
static const struct {
    const char *unit;
    double min, max; /* max < min: no upper bound */
} signal_info[] = {
    [CMON_METRIC_CHECKS_FAILED_PCT] = {"%", 0, 100},
    [CMON_METRIC_RTT_MS] = {"ms", 0, -1},
};
/* the aggregation windows and evaluation frequencies a rule may use, and the
 * common ones a form offers */
#define WINDOW_MIN_SEC 30
#define WINDOW_MAX_SEC 86400
#define FREQUENCY_MIN_SEC 10
#define FREQUENCY_MAX_SEC 3600
static const int common_windows[] = {60, 300, 900, 1800, 3600, 21600, 43200, 86400};
static const int common_frequencies[] = {60, 300, 900, 1800, 3600};
/* severity 0..4, by value */
static const char *const severity_names[] = {"critical", "error", "warning", "informational",
                                             "verbose", NULL};
static const char *const agg_names[] = {"Average", "Minimum", "Maximum", NULL};
static const char *const scope_names[] = {"test", "testGroup", "monitor", NULL};
static const char *const protocol_names[] = {"Icmp", "Tcp", "Http", NULL};
static const char *const watchable_states[] = {"Fail", "Warning", "Indeterminate", NULL};

const char *cmon_alert_dim_name(enum cmon_alert_dim d) { return cmon_dim_info(d)->alert; }
const char *cmon_alert_metric_name(enum cmon_alert_metric m) { return metric_names[m]; }
const char *cmon_alert_op_name(enum cmon_alert_op op) { return op_names[op]; }
const char *cmon_alert_op_symbol(enum cmon_alert_op op) { return op_symbols[op]; }
const char *cmon_alert_agg_name(enum cmon_alert_agg a) { return agg_names[a]; }
const char *cmon_alert_scope_name(enum cmon_alert_scope s) { return scope_names[s]; }

/* The length of s without a trailing "(Preview)". */
static size_t metric_stem(const char *s)
{
    size_t n = strlen(s), k = strlen(PREVIEW_SUFFIX);
    return n > k && strcasecmp(s + n - k, PREVIEW_SUFFIX) == 0 ? n - k : n;
}

bool cmon_alert_metric_parse(const char *s, enum cmon_alert_metric *out)
{
    size_t n = metric_stem(s);
    for (int i = 0; metric_names[i]; i++) {
        if (strlen(metric_names[i]) == n && strncasecmp(s, metric_names[i], n) == 0) {
            /* legacy names (2, 3) alias the current ones (0, 1) */
            *out = (enum cmon_alert_metric)(i % 2);
            return true;
        }
    }
    return false;
}

void cmon_alert_rule_free(struct cmon_alert_rule *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->monitor);
    free(r->description);
    for (int d = 0; d < CMON_DIM__COUNT; d++)
        free(r->dims[d]);
    alert_strv_free(r->action_groups, r->n_action_groups);
    free(r);
}

/* A string field that must be one of choices; -1 when absent or wrong. */
static int get_choice(struct vctx *v, const json_t *obj, const char *base, const char *key,
                      const char *what, const char *const *choices, bool required)
{
    const char *s = vget_string(v, obj, base, key, required);
    if (!s)
        return -1;
    char p[512];
    vpath_key(p, sizeof p, base, key);
    return vchoice(v, p, what, s, choices);
}

static void parse_dimensions(struct vctx *v, const json_t *obj, const char *base,
                             struct cmon_alert_rule *r)
{
    const json_t *dims = vget(v, obj, base, "dimensions", JSON_OBJECT, false);
    if (!dims)
        return;
    char dp[512], p[512];
    vpath_key(dp, sizeof dp, base, "dimensions");
    vcheck_fields(v, dims, dp, cmon_dim_names(), NULL);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)dims, key, val) {
        int d = cmon_dim_lookup(key);
        const char *s = d >= 0 ? vget_string(v, dims, dp, key, false) : NULL;
        if (!s)
            continue;
        vpath_key(p, sizeof p, dp, key);
        if (r->dims[d]) {
            vproblem(v, p, false, "names the dimension %s a second time", cmon_dim_info(d)->name);
            continue;
        }
        if (!s[0] || strlen(s) > 80) {
            vproblem(v, p, false, "must be 1-80 characters: a name, or \"*\" for each value");
            continue;
        }
        if (d == CMON_DIM_PROTOCOL && strcmp(s, CMON_DIM_EACH) != 0) {
            int k = vchoice(v, p, "protocol", s, protocol_names);
            if (k >= 0)
                r->dims[d] = vstrdup(v, protocol_names[k]);
            continue;
        }
        r->dims[d] = vstrdup(v, s);
    }
}

static void parse_action_refs(struct vctx *v, const json_t *obj, const char *base,
                              struct cmon_alert_rule *r)
{
    const json_t *arr = vget(v, obj, base, "actionGroups", JSON_ARRAY, false);
    if (!arr)
        return;
    char p[512], ip[512];
    vpath_key(p, sizeof p, base, "actionGroups");
    if (json_array_size(arr) > CMON_RULE_MAX_ACTION_GROUPS) {
        vproblem(v, p, false, "at most %d action groups", CMON_RULE_MAX_ACTION_GROUPS);
        return;
    }
    r->action_groups = calloc(json_array_size(arr) + 1, sizeof *r->action_groups);
    if (!r->action_groups) {
        v->oom = true;
        return;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        vpath_idx(ip, sizeof ip, p, i);
        const char *s = json_string_value(it);
        if (!s || !cmon_monitor_name_valid(s)) {
            vproblem(v, ip, false, "must be an action group name");
            continue;
        }
        for (size_t k = 0; k < r->n_action_groups; k++) {
            if (strcmp(r->action_groups[k], s) == 0) {
                vproblem(v, ip, false, "action group \"%s\" is listed twice", s);
                s = NULL;
                break;
            }
        }
        if (s)
            r->action_groups[r->n_action_groups++] = vstrdup(v, s);
    }
}

/* Report fields that belong to the other kind of rule. */
static void check_kind_fields(struct vctx *v, const json_t *obj, const char *base,
                              enum cmon_alert_kind kind)
{
    const char *const *foreign = kind == CMON_ALERT_KIND_METRIC ? state_only : metric_only;
    char p[512];
    for (size_t i = 0; foreign[i]; i++) {
        if (!json_object_get(obj, foreign[i]))
            continue;
        vpath_key(p, sizeof p, base, foreign[i]);
        vproblem(v, p, true, "\"%s\" applies to %s rules only (this rule's kind is \"%s\")",
                 foreign[i], kind == CMON_ALERT_KIND_METRIC ? "state" : "metric",
                 kind_names[kind]);
    }
}

static void parse_metric_rule(struct vctx *v, const json_t *obj, const char *base,
                              struct cmon_alert_rule *r)
{
    const char *m = json_string_value(json_object_get(obj, "metric"));
    bool have_metric = m && metric_stem(m) < strlen(m) && cmon_alert_metric_parse(m, &r->metric);
    int k = have_metric ? 0 : get_choice(v, obj, base, "metric", "metric", metric_names, true);
    if (!have_metric && (have_metric = k >= 0))
        r->metric = (enum cmon_alert_metric)(k % 2);
    k = get_choice(v, obj, base, "operator", "operator", op_names, true);
    if (k >= 0)
        r->op = (enum cmon_alert_op)k;
    k = get_choice(v, obj, base, "aggregation", "aggregation", agg_names, false);
    if (k >= 0)
        r->aggregation = (enum cmon_alert_agg)k;
    long x;
    if (vget_int(v, obj, base, "windowSizeSec", WINDOW_MIN_SEC, WINDOW_MAX_SEC, &x))
        r->window_sec = (int)x;
    char p[512];
    vpath_key(p, sizeof p, base, "threshold");
    if (!json_object_get(obj, "threshold")) {
        vproblem(v, base, false, "missing required field \"threshold\"");
    } else if (vget_number(v, obj, base, "threshold", &r->threshold) && have_metric) {
        double lo = signal_info[r->metric].min, hi = signal_info[r->metric].max;
        const char *signal = metric_names[r->metric];
        if (hi >= lo && (r->threshold < lo || r->threshold > hi))
            vproblem(v, p, false, "%s threshold must be between %g and %g, got %g", signal, lo, hi,
                     r->threshold);
        else if (hi < lo && r->threshold < lo) /* every signal's minimum is 0 */
            vproblem(v, p, false, "%s threshold must not be negative, got %g", signal,
                     r->threshold);
    }
}

static void parse_state_rule(struct vctx *v, const json_t *obj, const char *base,
                             struct cmon_alert_rule *r)
{
    int k = get_choice(v, obj, base, "scope", "scope", scope_names, true);
    if (k >= 0)
        r->scope = (enum cmon_alert_scope)k;
    r->states = 1u << CMON_STATE_FAIL;
    const json_t *arr = vget(v, obj, base, "states", JSON_ARRAY, false);
    if (!arr)
        return;
    char p[512], ip[512];
    vpath_key(p, sizeof p, base, "states");
    if (json_array_size(arr) == 0) {
        vproblem(v, p, false, "must name at least one state");
        return;
    }
    r->states = 0;
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it) {
        vpath_idx(ip, sizeof ip, p, i);
        if (!json_is_string(it)) {
            vproblem(v, ip, false, "must be a state name");
            continue;
        }
        k = vchoice(v, ip, "state", json_string_value(it), watchable_states);
        enum cmon_state st;
        if (k >= 0 && cmon_state_parse(watchable_states[k], &st))
            r->states |= 1u << st;
    }
}

static void parse_rule_common(struct vctx *v, const json_t *obj, const char *base,
                              struct cmon_alert_rule *r)
{
    const char *name = vget_string(v, obj, base, "name", true);
    if (name) {
        char p[512];
        vpath_key(p, sizeof p, base, "name");
        vcheck_name(v, p, "rule", name);
    }
    if (name && strcmp(name, CMON_ALERT_AGENT_RULE) == 0) {
        char p[512];
        vpath_key(p, sizeof p, base, "name");
        vproblem(v, p, false, "rule name \"%s\" is reserved for cmon's agent alerts", name);
    }
    r->name = vstrdup(v, name);
    r->description = vstrdup(v, vget_string(v, obj, base, "description", false));
    vget_bool(v, obj, base, "enabled", &r->enabled);
    long x;
    if (vget_int(v, obj, base, "evaluationFrequencySec", FREQUENCY_MIN_SEC, FREQUENCY_MAX_SEC, &x))
        r->evaluation_frequency_sec = (int)x;
    if (vget_int(v, obj, base, "severity", 0, 4, &x)) /* severity_names */
        r->severity = (int)x;
    if (vget_int(v, obj, base, "forEvaluations", 1, 100, &x))
        r->for_evaluations = (int)x;
    parse_dimensions(v, obj, base, r);
    parse_action_refs(v, obj, base, r);
}

void vparse_alert_rule(struct vctx *v, const json_t *obj, const char *base,
                       struct cmon_alert_rule *r)
{
    *r = (struct cmon_alert_rule){.enabled = true,
                                  .evaluation_frequency_sec = CMON_RULE_DEFAULT_FREQUENCY_SEC,
                                  .severity = CMON_RULE_DEFAULT_SEVERITY,
                                  .for_evaluations = 1,
                                  .window_sec = CMON_RULE_DEFAULT_WINDOW_SEC};
    if (!json_is_object(obj)) {
        vproblem(v, base, false, "an alert rule must be a JSON object");
        return;
    }
    vcheck_fields(v, obj, base, rule_fields, rule_readonly);
    /* kind defaults to "metric" */
    int k = get_choice(v, obj, base, "kind", "kind", kind_names, false);
    bool kind_bad = k < 0 && json_object_get(obj, "kind");
    r->kind = k == 1 ? CMON_ALERT_KIND_STATE : CMON_ALERT_KIND_METRIC;
    parse_rule_common(v, obj, base, r);
    if (kind_bad)
        return; /* unknown kind: the kind-specific fields would only add noise */
    check_kind_fields(v, obj, base, r->kind);
    if (r->kind == CMON_ALERT_KIND_METRIC) {
        parse_metric_rule(v, obj, base, r);
        if (r->evaluation_frequency_sec > r->window_sec) {
            char p[512];
            vpath_key(p, sizeof p, base, "evaluationFrequencySec");
            vproblem(v, p, false, "must not exceed windowSizeSec (%d), got %d", r->window_sec,
                     r->evaluation_frequency_sec);
        }
    } else {
        parse_state_rule(v, obj, base, r);
    }
}

static void parse_rule(struct vctx *v, const json_t *obj, const char *base, void *out)
{
    vparse_alert_rule(v, obj, base, out);
}

static void rule_free_void(void *r) { cmon_alert_rule_free(r); }

enum cmon_err cmon_alert_rule_from_json(const json_t *j, const char *prefix,
                                        struct cmon_alert_rule **out,
                                        struct cmon_problems *probs)
{
    void *obj = NULL;
    enum cmon_err rc = alert_parse_value(j, prefix, probs, sizeof **out, &obj, parse_rule,
                                         rule_free_void);
    *out = obj;
    return rc;
}

enum cmon_err cmon_alert_rule_parse(const char *text, size_t len, struct cmon_alert_rule **out,
                                    struct cmon_problems *probs)
{
    void *obj = NULL;
    enum cmon_err rc = alert_parse_text(text, len, probs, sizeof **out, &obj, parse_rule,
                                        rule_free_void);
    *out = obj;
    return rc;
}

static json_t *dims_to_json(const struct cmon_alert_rule *r)
{
    json_t *o = json_object();
    for (int d = 0; o && d < CMON_DIM__COUNT; d++) {
        if (r->dims[d])
            json_object_set_new(o, cmon_alert_dim_name(d), json_string(r->dims[d]));
    }
    return o;
}

static json_t *states_to_json(unsigned states)
{
    json_t *a = json_array();
    for (int i = 0; a && watchable_states[i]; i++) {
        enum cmon_state st;
        if (cmon_state_parse(watchable_states[i], &st) && (states & (1u << st)))
            json_array_append_new(a, json_string(watchable_states[i]));
    }
    return a;
}

json_t *cmon_alert_rule_to_json(const struct cmon_alert_rule *r)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:o, s:i, s:i, s:i, s:o}", "name", r->name, "kind",
                          kind_names[r->kind], "enabled", r->enabled, "dimensions",
                          dims_to_json(r), "evaluationFrequencySec",
                          r->evaluation_frequency_sec, "severity", r->severity, "forEvaluations",
                          r->for_evaluations, "actionGroups",
                          alert_strv_to_json(r->action_groups, r->n_action_groups));
    if (!o)
        return NULL;
    if (r->description)
        json_object_set_new(o, "description", json_string(r->description));
    if (r->monitor)
        json_object_set_new(o, "managedBy", json_pack("{s:s}", "monitor", r->monitor));
    if (r->kind == CMON_ALERT_KIND_METRIC) {
        json_object_set_new(o, "metric", json_string(metric_names[r->metric]));
        json_object_set_new(o, "operator", json_string(op_names[r->op]));
        json_object_set_new(o, "threshold", json_real(r->threshold));
        json_object_set_new(o, "aggregation", json_string(agg_names[r->aggregation]));
        json_object_set_new(o, "windowSizeSec", json_integer(r->window_sec));
    } else {
        json_object_set_new(o, "scope", json_string(scope_names[r->scope]));
        json_object_set_new(o, "states", states_to_json(r->states));
    }
    return o;
}

char *cmon_alert_rule_dumps(const struct cmon_alert_rule *r)
{
    json_t *j = cmon_alert_rule_to_json(r);
    json_object_del(j, "managedBy"); /* the store keeps the manager in its own column */
    return alert_dumps(j);
}

struct cmon_alert_rule *cmon_alert_rule_loads(const char *text)
{
    return alert_loads(text, sizeof(struct cmon_alert_rule), parse_rule, rule_free_void);
}

static json_t *int_list(const int *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *names_json(const char *const *names)
{
    json_t *a = json_array();
    for (size_t i = 0; a && names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *signal_json(enum cmon_alert_metric m)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:f, s:o, s:[s]}", "name", metric_names[m], "unit",
                          signal_info[m].unit, "aggregations", names_json(agg_names),
                          "thresholdMin", signal_info[m].min, "thresholdMax",
                          signal_info[m].max >= signal_info[m].min ? json_real(signal_info[m].max)
                                                                   : json_null(),
                          "legacyNames", metric_names[m + 2]);
    return o;
}

json_t *cmon_alert_signals_json(void)
{
    json_t *signals = json_array(), *ops = json_array();
    for (int m = CMON_METRIC_CHECKS_FAILED_PCT; signals && m <= CMON_METRIC_RTT_MS; m++)
        json_array_append_new(signals, signal_json((enum cmon_alert_metric)m));
    for (int i = 0; ops && op_names[i]; i++)
        json_array_append_new(ops, json_pack("{s:s, s:s}", "name", op_names[i], "symbol",
                                             op_symbols[i]));
    return json_pack(
        "{s:o, s:o, s:o, s:{s:i, s:i, s:i, s:o}, s:{s:i, s:i, s:i, s:o}, s:{s:o, s:i},"
        " s:o, s:o, s:o}",
        "signals", signals, "operators", ops, "aggregations", names_json(agg_names),
        "windowSizeSec", "min", WINDOW_MIN_SEC, "max", WINDOW_MAX_SEC, "default",
        CMON_RULE_DEFAULT_WINDOW_SEC, "common",
        int_list(common_windows, sizeof common_windows / sizeof *common_windows),
        "evaluationFrequencySec", "min", FREQUENCY_MIN_SEC, "max", FREQUENCY_MAX_SEC, "default",
        CMON_RULE_DEFAULT_FREQUENCY_SEC, "common",
        int_list(common_frequencies, sizeof common_frequencies / sizeof *common_frequencies),
        "severity", "names", names_json(severity_names), "default", CMON_RULE_DEFAULT_SEVERITY,
        "kinds",
        names_json(kind_names), "scopes", names_json(scope_names), "states",
        names_json(watchable_states));
}
