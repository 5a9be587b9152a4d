/* alerts.c: the server's alert loop (docs/alerts.md "For the server") -- on
 * the writer thread, load rules and action groups from the store, build
 * the series snapshot when a rule is due, run the pure evaluator, store the
 * instances and transitions, and queue notifications on the notifier thread,
 * which never blocks this one.  Pending and firing alerts are restored from
 * the store at the first tick, so a restart neither re-fires nor forgets. */
#include "server/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/notify.h"
#include "core/clock.h"

#define REFRESH_PERIOD_NS (60 * CMON_NS_PER_SEC)
#define PRUNE_PERIOD_NS (3600 * CMON_NS_PER_SEC)

struct server_alerts {
    const struct cmon_server_opts *srv; /* the embedded agent's facts; may be NULL */
    struct cmon_notifier *notifier;
    const struct cmon_log *log;
    struct cmon_alert_eval_out prev;
    int64_t prev_eval_ns;
    bool restored;
    int64_t next_refresh_ns;
    int64_t retention_ns, next_prune_ns;
    char generator_url[256];
};

/* Rules and groups as the store holds them, parsed (bad rows are logged and skipped). */
struct alert_config {
    struct cmon_alert_rule_list rules;
    struct cmon_action_group_list groups;
};

enum cmon_err server_alerts_start(const char *generator_url, int64_t retention_ns, bool allow_exec,
                                  const struct cmon_log *log, const struct cmon_server_opts *srv,
                                  struct server_alerts **out, struct cmon_errbuf *eb)
{
    struct server_alerts *a = calloc(1, sizeof *a);
    if (!a)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    a->srv = srv;
    snprintf(a->generator_url, sizeof a->generator_url, "%s", generator_url ? generator_url : "");
    a->log = log;
    a->retention_ns = retention_ns;
    struct cmon_notify_opts o = {.log = log,
                                 .allow_exec = allow_exec,
                                 .generator_url = a->generator_url[0] ? a->generator_url : NULL};
    enum cmon_err err = cmon_notifier_start(&o, &a->notifier, eb);
    if (err) {
        free(a);
        return err;
    }
    *out = a;
    return CMON_OK;
}

void server_alerts_stop(struct server_alerts *a)
{
    if (!a)
        return;
    cmon_notifier_stop(a->notifier);
    cmon_alert_eval_free(&a->prev);
    free(a);
}

void server_alerts_forget(struct server_alerts *a)
{
    if (!a)
        return;
    cmon_alert_eval_free(&a->prev);
    a->prev_eval_ns = 0;
    a->restored = false;
}

static void config_free(struct alert_config *c)
{
    cmon_alert_rule_list_free(&c->rules);
    cmon_action_group_list_free(&c->groups);
}

static enum cmon_err config_load(struct server_alerts *a, struct store *s, struct alert_config *c,
                                 struct cmon_errbuf *eb)
{
    enum cmon_err err = s->ops->alert_rule_list(s, &c->rules, eb);
    if (!err)
        err = s->ops->action_group_list(s, &c->groups, eb);
    for (size_t i = 0; !err && i < c->rules.n_invalid; i++)
        cmon_warn(a->log, "stored alert rule is invalid, skipped", "rule=%s", c->rules.invalid[i]);
    return err;
}

/* The restart path: the previous instances from the store. */
static void restore(struct server_alerts *a, struct store *s)
{
    json_t *items = NULL;
    struct cmon_errbuf eb;
    if (s->ops->alert_active(s, &items, &eb) != CMON_OK) {
        cmon_error(a->log, "cannot restore alerts", "err=%s", eb.msg);
        return;
    }
    a->prev.items = calloc(json_array_size(items) + 1, sizeof *a->prev.items);
    size_t i;
    json_t *j;
    json_array_foreach(a->prev.items ? items : NULL, i, j)
    {
        struct cmon_alert_instance *inst = &a->prev.items[a->prev.n_items];
        if (cmon_alert_instance_from_json(j, inst) != CMON_OK)
            continue;
        a->prev.n_items++;
        if (inst->last_eval_ns > a->prev_eval_ns)
            a->prev_eval_ns = inst->last_eval_ns;
    }
    json_decref(items);
    a->restored = a->prev.items != NULL;
    if (a->prev.n_items)
        cmon_info(a->log, "alerts restored", "active=%zu", a->prev.n_items);
}

static bool rule_due(const struct cmon_alert_rule *r, int64_t prev_ns, int64_t now_ns)
{
    int64_t f = (int64_t)r->evaluation_frequency_sec * CMON_NS_PER_SEC;
    return prev_ns <= 0 || now_ns / f != prev_ns / f;
}

/* Whether evaluating now can change anything: a rule is due, or an alert's
 * rule was deleted or disabled (the evaluator then resolves it). */
static bool anything_due(const struct server_alerts *a, const struct alert_config *c,
                         int64_t now_ns, int64_t *window_ns)
{
    bool due = false;
    *window_ns = 0;
    for (size_t i = 0; i < c->rules.n; i++) {
        const struct cmon_alert_rule *r = c->rules.items[i];
        if (!r->enabled)
            continue;
        due |= rule_due(r, a->prev_eval_ns, now_ns);
        if (r->kind == CMON_ALERT_KIND_METRIC &&
            (int64_t)r->window_sec * CMON_NS_PER_SEC > *window_ns)
            *window_ns = (int64_t)r->window_sec * CMON_NS_PER_SEC;
    }
    for (size_t k = 0; k < a->prev.n_items && !due; k++) {
        bool live = strcmp(a->prev.items[k].rule, CMON_ALERT_AGENT_RULE) == 0;
        for (size_t i = 0; i < c->rules.n && !live; i++)
            live = c->rules.items[i]->enabled &&
                   strcmp(c->rules.items[i]->name, a->prev.items[k].rule) == 0;
        due = !live;
    }
    return due;
}

static json_t *transitions_json(const struct cmon_alert_eval_out *out, int64_t now_ns)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < out->n_transitions; i++) {
        const struct cmon_alert_transition *t = &out->transitions[i];
        const struct cmon_alert_instance *inst = &out->items[t->instance];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:f}", "key", inst->key, "rule",
                                             inst->rule, "event",
                                             t->kind == CMON_ALERT_FIRED ? "firing" : "resolved",
                                             "atNs", (json_int_t)now_ns, "value", inst->value));
    }
    return arr;
}

static enum cmon_err save(struct store *s, const struct cmon_alert_eval_out *out, int64_t now_ns,
                          struct cmon_errbuf *eb)
{
    json_t *items = json_array();
    for (size_t i = 0; items && i < out->n_items; i++)
        json_array_append_new(items, cmon_alert_instance_to_json(&out->items[i]));
    json_t *trans = transitions_json(out, now_ns);
    enum cmon_err err = items && trans ? s->ops->alert_save(s, items, trans, now_ns, eb)
                                       : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    json_decref(items);
    json_decref(trans);
    return err;
}

/* refresh: Alertmanager re-send of a firing alert; else a transition. */
static void notify_one(struct server_alerts *a, const struct alert_config *c,
                       const struct cmon_alert_instance *inst, bool refresh)
{
    for (size_t g = 0; g < inst->n_action_groups; g++) {
        const struct cmon_action_group *grp =
            cmon_action_group_find(&c->groups, inst->action_groups[g]);
        if (!grp) {
            if (!refresh)
                cmon_warn(a->log, "alert names an unknown action group", "alert=%s group=%s",
                          inst->key, inst->action_groups[g]);
            continue;
        }
        if (refresh)
            cmon_notifier_refresh(a->notifier, grp, inst);
        else
            cmon_notifier_submit(a->notifier, grp, inst);
    }
}

static void notify(struct server_alerts *a, const struct alert_config *c,
                   const struct cmon_alert_eval_out *out, int64_t now_ns)
{
    for (size_t i = 0; i < out->n_transitions; i++) {
        const struct cmon_alert_instance *inst = &out->items[out->transitions[i].instance];
        cmon_info(a->log, /* core/log.c escapes the key's quotes */
                  out->transitions[i].kind == CMON_ALERT_FIRED ? "alert fired" : "alert resolved",
                  "alert=%s value=%g", inst->key, inst->value);
        notify_one(a, c, inst, false);
    }
    if (now_ns < a->next_refresh_ns)
        return;
    a->next_refresh_ns = now_ns + REFRESH_PERIOD_NS;
    for (size_t i = 0; i < out->n_items; i++) {
        const struct cmon_alert_instance *inst = &out->items[i];
        bool just_fired = inst->fired_ns == now_ns;
        if (inst->state == CMON_ALERT_FIRING && !just_fired)
            notify_one(a, c, inst, true);
    }
}

static void evaluate(struct server_alerts *a, struct store *s, const struct alert_config *c,
                     int64_t now_ns, int64_t window_ns)
{
    struct cmon_errbuf eb;
    struct alert_snapshot snap;
    if (alert_snapshot_build(s, a->srv, now_ns, window_ns, &snap, &eb) != CMON_OK) {
        cmon_error(a->log, "alert snapshot failed", "err=%s", eb.msg);
        return;
    }
    struct cmon_alert_eval_in in = {.rules = (const struct cmon_alert_rule *const *)c->rules.items,
                                    .n_rules = c->rules.n,
                                    .series = snap.series,
                                    .n_series = snap.n,
                                    .prev = a->prev.items,
                                    .n_prev = a->prev.n_items,
                                    .prev_eval_ns = a->prev_eval_ns,
                                    .now_ns = now_ns};
    struct cmon_alert_eval_out out;
    enum cmon_err err = cmon_alert_evaluate(&in, &out);
    alert_snapshot_free(&snap);
    if (err) {
        cmon_error(a->log, "alert evaluation failed", "err=%s", cmon_strerror(err));
        return;
    }
    /* stored first: a notification never names an alert the API cannot show */
    if (save(s, &out, now_ns, &eb) != CMON_OK) {
        cmon_error(a->log, "cannot store alerts", "err=%s", eb.msg);
        cmon_alert_eval_free(&out);
        return; /* prev stays: the next tick retries from the same point */
    }
    notify(a, c, &out, now_ns);
    cmon_alert_eval_free(&a->prev);
    a->prev = out;
    a->prev_eval_ns = now_ns;
}

/* A backend written before the alert ops (STORE_OPS_VERSION 1 without them). */
/* Hourly: the alert history follows raw-result retention. */
static void prune(struct server_alerts *a, struct store *s, int64_t now_ns)
{
    if (!a->retention_ns || now_ns < a->next_prune_ns)
        return;
    a->next_prune_ns = now_ns + PRUNE_PERIOD_NS;
    int64_t deleted = 0;
    struct cmon_errbuf eb;
    if (s->ops->alert_prune(s, now_ns - a->retention_ns, &deleted, &eb) != CMON_OK)
        cmon_error(a->log, "alert retention failed", "err=%s", eb.msg);
    else if (deleted)
        cmon_info(a->log, "alert retention", "deleted=%lld", (long long)deleted);
}

void server_alerts_tick(struct server_alerts *a, struct store *s, int64_t now_ns)
{
    if (!a)
        return;
    if (!a->restored)
        restore(a, s);
    struct alert_config c = {0};
    struct cmon_errbuf eb;
    if (config_load(a, s, &c, &eb) != CMON_OK) {
        cmon_error(a->log, "cannot load alert rules", "err=%s", eb.msg);
        config_free(&c);
        return;
    }
    int64_t window_ns = 0;
    if (anything_due(a, &c, now_ns, &window_ns))
        evaluate(a, s, &c, now_ns, window_ns);
    else if (now_ns >= a->next_refresh_ns && a->prev.n_items) {
        struct cmon_alert_eval_out none = {.items = a->prev.items, .n_items = a->prev.n_items};
        notify(a, &c, &none, now_ns);
    }
    config_free(&c);
    prune(a, s, now_ns);
}
