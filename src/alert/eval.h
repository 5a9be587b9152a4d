/* eval.h: the alert evaluator -- a pure function of (rules, series snapshot,
 * previous alert instances, time) that returns the new instances and the
 * transitions to notify (docs/alerts.md has the semantics).
 * No clock reads, no I/O, no globals; thread-safe.  Inputs are borrowed for
 * the call only; the output owns everything it points to (cmon_alert_eval_free).
 *
 * The server keeps rules, series and the previous output in its store and
 * calls cmon_alert_evaluate() each evaluation period (say every 10 s):
 *   in.prev = last call's out.items; in.prev_eval_ns = last call's now_ns;
 *   for each out.transitions[i]: notify out.items[t.instance]'s action groups. */
#ifndef CMON_ALERT_EVAL_H
#define CMON_ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/alert_rule.h"
#include "core/err.h"
#include "model/state.h"

struct cmon_alert_sample {
    int64_t t_ns;           /* round start, Unix ns */
    double value;
};

/* One series: one test as run by one agent.  dims[] are the test's monitor,
 * test group, source endpoint, destination, configuration and protocol
 * ("Http"/"Tcp"/"Icmp"), indexed by enum cmon_alert_dim. */
struct cmon_alert_series {
    const char *dims[CMON_DIM__COUNT];
    const char *agent;                  /* source agent name */
    bool agent_stopped;                 /* silent for 3 heartbeats (DESIGN 7) */
    enum cmon_state state;              /* current test state */
    const char *diagnostic;             /* dominant diagnostic code, NULL/"" when none */
    /* samples of the rule windows (older ones are ignored), any order */
    const struct cmon_alert_sample *failed_pct;
    size_t n_failed_pct;
    const struct cmon_alert_sample *rtt_ms; /* only rounds with a successful check */
    size_t n_rtt_ms;
};

enum cmon_alert_state { CMON_ALERT_PENDING, CMON_ALERT_FIRING, CMON_ALERT_RESOLVED };

struct cmon_alert_label {
    char *name, *value;
};

/* One alert: one rule x one series key. */
struct cmon_alert_instance {
    char *key;              /* dedup key: rule{label="value",...} in label order */
    char *rule;             /* rule name, or CMON_ALERT_AGENT_RULE */
    struct cmon_alert_label *labels; /* alertname first, then the dimensions / agent */
    size_t n_labels;
    enum cmon_alert_state state;
    int severity;
    int breaches;           /* consecutive breaching evaluations */
    double value;           /* latest evaluated value (state rules: enum cmon_state) */
    double fired_value;     /* the value when it fired */
    int64_t pending_ns;     /* first breach of this episode */
    int64_t fired_ns;       /* 0 while pending */
    int64_t resolved_ns;    /* 0 unless resolved */
    int64_t last_eval_ns;
    char *summary;          /* "ChecksFailedPercent Average 40 > 5 (window 300s)" */
    char **action_groups;   /* copied from the rule(s) */
    size_t n_action_groups;
    /* the monitors of the series behind it, sorted (as of the latest breach),
     * so alerts can be filtered by monitor whatever the rule's dimensions */
    char **monitors;
    size_t n_monitors;
};

enum cmon_alert_transition_kind { CMON_ALERT_FIRED, CMON_ALERT_RESOLVED_NOW };

struct cmon_alert_transition {
    enum cmon_alert_transition_kind kind;
    size_t instance;        /* index into cmon_alert_eval_out.items */
};

struct cmon_alert_eval_in {
    const struct cmon_alert_rule *const *rules;
    size_t n_rules;
    const struct cmon_alert_series *series;
    size_t n_series;
    const struct cmon_alert_instance *prev; /* the previous call's items */
    size_t n_prev;
    int64_t prev_eval_ns;   /* the previous call's now_ns, 0 on the first call */
    int64_t now_ns;
};

/* items: every pending and firing instance, plus those resolved by this call
 * (state RESOLVED; they are not carried into the next call). */
struct cmon_alert_eval_out {
    struct cmon_alert_instance *items;
    size_t n_items;
    struct cmon_alert_transition *transitions;
    size_t n_transitions;
};

/* CMON_OK, or CMON_ERR_NOMEM (out is then empty). */
enum cmon_err cmon_alert_evaluate(const struct cmon_alert_eval_in *in,
                                  struct cmon_alert_eval_out *out);
void cmon_alert_eval_free(struct cmon_alert_eval_out *out);

/* The instance index with this key, or -1. */
long cmon_alert_eval_find(const struct cmon_alert_eval_out *out, const char *key);

/* Deep copy (for callers that keep instances across calls); CMON_ERR_NOMEM. */
enum cmon_err cmon_alert_instance_copy(struct cmon_alert_instance *dst,
                                       const struct cmon_alert_instance *src);
void cmon_alert_instance_clear(struct cmon_alert_instance *inst);

/* As JSON for the API, the store and the senders: {key, rule, state, labels{},
 * severity, value, firedValue, startsAt, firedAt, endsAt, summary,
 * actionGroups[], monitors[]} with RFC 3339 times (null when unset) plus the raw ns
 * fields the store needs to restore it.  A new reference. */
struct json_t *cmon_alert_instance_to_json(const struct cmon_alert_instance *inst);
/* The inverse (for a store that keeps instances as JSON). */
enum cmon_err cmon_alert_instance_from_json(const struct json_t *j,
                                            struct cmon_alert_instance *out);
const char *cmon_alert_state_name(enum cmon_alert_state s); /* "pending", "firing", "resolved" */

#endif
