/* alert_rule.h: the alert rule and action group model (docs/alerts.md) -- the
 * typed rows the API, the store, the evaluator and monitor files share: parse
 * and validate from JSON with "path: message" problems (line:col when the
 * text is at hand), and back to JSON; the one table of signals, operators,
 * aggregations and frequencies that validation and the dashboard's rule form
 * (GET /api/v1/alertSignals) both read.
 * Pure: no I/O, no clock.  A rule or action group owns every string and array
 * it points to; free it with its _free function (lists: _list_free).
 * Thread-safe (no state). */
#ifndef CMON_MODEL_ALERT_RULE_H
#define CMON_MODEL_ALERT_RULE_H

#include <stdbool.h>

#include "model/dims.h"
#include <stddef.h>

#include "core/err.h"
#include "model/monitor.h"
#include "model/state.h"

enum cmon_alert_kind { CMON_ALERT_KIND_METRIC, CMON_ALERT_KIND_STATE };

enum cmon_alert_metric { CMON_METRIC_CHECKS_FAILED_PCT, CMON_METRIC_RTT_MS };

enum cmon_alert_op { CMON_OP_GT, CMON_OP_GE, CMON_OP_LT, CMON_OP_LE };

enum cmon_alert_agg { CMON_AGG_AVG, CMON_AGG_MIN, CMON_AGG_MAX };

/* What a state rule watches: each test, each test group, or each monitor. */
enum cmon_alert_scope { CMON_SCOPE_TEST, CMON_SCOPE_TEST_GROUP, CMON_SCOPE_MONITOR };

/* Dimensions, in label order: the one list of model/dims.h (the metrics
 * API's and /metrics' too).  A rule names one by its seed name
 * ("SourceAddress") or its alert name ("source"); labels and the JSON
 * written back use cmon_alert_dim_name(). */
#define cmon_alert_dim cmon_dim

#define CMON_DIM_EACH "*"
/* The rule name of the synthetic alert that names a suppressed agent
 * (src/alert/eval.h); reserved, no rule may use it. */
#define CMON_ALERT_AGENT_RULE "AgentUnavailable"
#define CMON_RULE_DEFAULT_WINDOW_SEC 300
#define CMON_RULE_DEFAULT_FREQUENCY_SEC 60
#define CMON_RULE_DEFAULT_SEVERITY 2
#define CMON_RULE_MAX_ACTION_GROUPS 20

struct cmon_alert_rule {
    char *name;
    /* The monitor whose file holds this rule, which manages it (applied and
     * deleted with it; the alerts API refuses to change it alone); NULL for a
     * rule of the alerts API.  Written back as "managedBy": {"monitor": M},
     * a read-only field the parser ignores. */
    char *monitor;
    char *description;      /* NULL when not given */
    bool enabled;
    enum cmon_alert_kind kind;
    /* dims[d]: NULL = not filtered and not split (the series are combined),
     * "*" = one alert per distinct value, else only series with this value. */
    char *dims[CMON_DIM__COUNT];
    int evaluation_frequency_sec;
    int severity;           /* 0 (critical) .. 4 (verbose) */
    int for_evaluations;    /* consecutive breaching evaluations before firing */
    char **action_groups;
    size_t n_action_groups;
    /* metric rules */
    enum cmon_alert_metric metric;
    enum cmon_alert_op op;
    double threshold;
    enum cmon_alert_agg aggregation;
    int window_sec;
    /* state rules */
    enum cmon_alert_scope scope;
    unsigned states;        /* bit (1u << enum cmon_state) per watched state */
};

struct cmon_alert_webhook {
    char *url;
    char *secret;           /* NULL: the request is not signed */
};

struct cmon_alert_am {
    char *url;              /* base URL; the sender appends /api/v2/alerts */
};

struct cmon_alert_exec {
    char **argv;            /* NULL-terminated */
    size_t argc;
    int timeout_sec;
};

struct cmon_action_group {
    char *name;
    struct cmon_alert_webhook *webhooks;
    size_t n_webhooks;
    struct cmon_alert_am *alertmanagers;
    size_t n_alertmanagers;
    struct cmon_alert_exec *execs;
    size_t n_execs;
};

/* Parse and validate a rule from JSON text: on CMON_OK *out is a new rule; on
 * CMON_ERR_INVALID / CMON_ERR_PARSE every problem is in probs (with line:col)
 * and *out is NULL.  Never prints. */
enum cmon_err cmon_alert_rule_parse(const char *text, size_t len, struct cmon_alert_rule **out,
                                    struct cmon_problems *probs);
/* The same from a parsed value (problems carry no position).  The API uses
 * this when the rule is one member of a larger body; prefix ("" or e.g.
 * "alertRules[2]") starts every problem path. */
enum cmon_err cmon_alert_rule_from_json(const struct json_t *j, const char *prefix,
                                        struct cmon_alert_rule **out,
                                        struct cmon_problems *probs);
/* Every field, defaults filled in; a new reference (NULL on allocation failure). */
struct json_t *cmon_alert_rule_to_json(const struct cmon_alert_rule *r);
void cmon_alert_rule_free(struct cmon_alert_rule *r);

enum cmon_err cmon_action_group_parse(const char *text, size_t len,
                                      struct cmon_action_group **out,
                                      struct cmon_problems *probs);
enum cmon_err cmon_action_group_from_json(const struct json_t *j, const char *prefix,
                                          struct cmon_action_group **out,
                                          struct cmon_problems *probs);
struct json_t *cmon_action_group_to_json(const struct cmon_action_group *g);
void cmon_action_group_free(struct cmon_action_group *g);

/* Owned lists, in name order as the store returns them. */
struct cmon_alert_rule_list {
    struct cmon_alert_rule **items;
    size_t n;
    /* names of stored rules that no longer validate (skipped, for a warning) */
    char **invalid;
    size_t n_invalid;
};
struct cmon_action_group_list {
    struct cmon_action_group **items;
    size_t n;
    char **invalid;
    size_t n_invalid;
};
void cmon_alert_rule_list_free(struct cmon_alert_rule_list *l);
void cmon_action_group_list_free(struct cmon_action_group_list *l);
/* Append (taking ownership; NULL item: record name as invalid).  false when
 * out of memory (item is then freed). */
bool cmon_alert_rule_list_add(struct cmon_alert_rule_list *l, struct cmon_alert_rule *item,
                              const char *name);
bool cmon_action_group_list_add(struct cmon_action_group_list *l, struct cmon_action_group *item,
                                const char *name);
const struct cmon_alert_rule *cmon_alert_rule_find(const struct cmon_alert_rule_list *l,
                                                   const char *name);
const struct cmon_action_group *cmon_action_group_find(const struct cmon_action_group_list *l,
                                                       const char *name);

/* JSON text of the rule or group (every default, compact; rules without
 * managedBy: the owner is the store's column), as the store keeps it; NULL
 * when out of memory.  The caller frees it. */
char *cmon_alert_rule_dumps(const struct cmon_alert_rule *r);
char *cmon_action_group_dumps(const struct cmon_action_group *g);
/* Back from that text: NULL when it no longer validates or memory ran out. */
struct cmon_alert_rule *cmon_alert_rule_loads(const char *text);
struct cmon_action_group *cmon_action_group_loads(const char *text);

/* The choices of a rule form, from the table validation uses:
 * {"signals": [{"name", "unit", "kind", "aggregations", "thresholdMin",
 * "thresholdMax", "legacyNames"}], "operators": [{"name", "symbol"}],
 * "aggregations", "windowSizeSec": {"min", "max", "default", "common"},
 * "evaluationFrequencySec": {...}, "severity": {"names" (by value),
 * "default"}, "kinds", "scopes", "states"}.
 * A new reference (NULL when out of memory). */
struct json_t *cmon_alert_signals_json(void);

const char *cmon_alert_dim_name(enum cmon_alert_dim d);      /* "monitor", "testGroup", ... */
const char *cmon_alert_metric_name(enum cmon_alert_metric m); /* "ChecksFailedPercent", ... */
const char *cmon_alert_op_name(enum cmon_alert_op op);        /* "GreaterThan", ... */
const char *cmon_alert_op_symbol(enum cmon_alert_op op);      /* ">", ">=", "<", "<=" */
const char *cmon_alert_agg_name(enum cmon_alert_agg a);       /* "Average", ... */
const char *cmon_alert_scope_name(enum cmon_alert_scope s);   /* "test", ... */
/* Canonical and legacy names ("ProbesFailedPercent", "AverageRoundtripMs"),
 * case-insensitive. */
bool cmon_alert_metric_parse(const char *s, enum cmon_alert_metric *out);

#endif
