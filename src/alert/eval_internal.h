/* eval_internal.h: the evaluator's working state shared by eval.c (rules,
 * groups, suppression) and instance.c (instance lifecycle, output, JSON).
 * Internal to src/alert; pure. */
#ifndef CMON_ALERT_EVAL_INTERNAL_H
#define CMON_ALERT_EVAL_INTERNAL_H

#include "alert/eval.h"

/* A sorted set of borrowed strings. */
struct alert_strset {
    const char **items;
    size_t n, cap;
};

/* Add s (borrowed) unless present; false when memory ran out. */
bool alert_strset_add(struct alert_strset *set, const char *s);

/* The series of one rule that share a key, aggregated. */
struct alert_group {
    char *key;
    const struct cmon_alert_series *series; /* the first one: its dims label the alert */
    size_t n_active, n_suppressed;
    enum cmon_state state;                  /* roll-up of the active series */
    size_t n_samples;
    double sum, min, max;
    struct alert_strset monitors;           /* of the active series */
};

struct alert_run {
    const struct cmon_alert_eval_in *in;
    struct cmon_alert_eval_out *out;
    bool *susp;          /* per series: its agent is suppressed */
    bool *prev_used;     /* per previous instance: carried or evaluated */
    size_t *prev_slots;  /* open-addressing index of prev by key: index + 1, 0 = empty */
    size_t n_slots;      /* a power of two, > 2 x n_prev */
    size_t cap_items, cap_transitions;
};

/* One evaluation of one alert key. */
struct alert_step {
    const char *key;
    const char *rule_name;
    unsigned mask;               /* label dims (rule alerts) */
    const char *const *dims;
    const char *agent;           /* agent alerts: the agent label */
    char *const *action_groups;
    size_t n_action_groups;
    const struct alert_strset *monitors;
    long prev;                   /* index into in->prev, or -1 */
    bool breach;
    double value;
    int severity, for_evaluations;
    char summary[256];
};

bool alert_rule_matches(const struct cmon_alert_rule *r, const struct cmon_alert_series *s);
unsigned alert_rule_split_dims(const struct cmon_alert_rule *r);
char *alert_series_key(const char *rule, unsigned mask, const char *const *dims);
void alert_groups_free(struct alert_group *gs, size_t n);
bool alert_agent_suppressed(const struct cmon_alert_eval_in *in, const char *agent,
                            const char **reason);

/* Index the unresolved previous instances by key; CMON_ERR_NOMEM. */
enum cmon_err alert_prev_index(struct alert_run *run);
/* The unused, unresolved previous instance with this key, or -1. */
long alert_prev_find(const struct alert_run *run, const char *key);
/* Copy previous instance k into the output unchanged. */
enum cmon_err alert_carry(struct alert_run *run, size_t k);
/* Apply one evaluation: pending/firing/resolved, transitions. */
enum cmon_err alert_step(struct alert_run *run, const struct alert_step *st);
/* One AgentUnavailable alert per suppressed agent that some rule watches. */
enum cmon_err alert_eval_agents(struct alert_run *run);
/* Previous instances nobody evaluated (series, rule or agent gone): resolve
 * the firing ones, drop the pending ones. */
enum cmon_err alert_resolve_vanished(struct alert_run *run);

#endif
