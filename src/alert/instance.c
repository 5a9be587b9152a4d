/* instance.c: alert instances -- the pending -> firing -> resolved steps of
 * the evaluator, the AgentUnavailable alerts of suppressed agents, the
 * evaluator's output arrays, deep copies, and the JSON form the API, the
 * store and the senders share. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval_internal.h"
#include "model/alert_rule_internal.h"
#include "core/clock.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/text.h"

void cmon_alert_instance_clear(struct cmon_alert_instance *inst)
{
    free(inst->key);
    free(inst->rule);
    for (size_t i = 0; i < inst->n_labels; i++) {
        free(inst->labels[i].name);
        free(inst->labels[i].value);
    }
    free(inst->labels);
    free(inst->summary);
    alert_strv_free(inst->action_groups, inst->n_action_groups);
    alert_strv_free(inst->monitors, inst->n_monitors);
    memset(inst, 0, sizeof *inst);
}

void cmon_alert_eval_free(struct cmon_alert_eval_out *out)
{
    for (size_t i = 0; i < out->n_items; i++)
        cmon_alert_instance_clear(&out->items[i]);
    free(out->items);
    free(out->transitions);
    memset(out, 0, sizeof *out);
}

long cmon_alert_eval_find(const struct cmon_alert_eval_out *out, const char *key)
{
    for (size_t i = 0; i < out->n_items; i++) {
        if (strcmp(out->items[i].key, key) == 0)
            return (long)i;
    }
    return -1;
}

static char **strv_copy(char *const *v, size_t n, bool *oom)
{
    char **c = calloc(n + 1, sizeof *c);
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = strdup(v[i])))
            *oom = true;
    }
    if (!c)
        *oom = true;
    return c;
}

enum cmon_err cmon_alert_instance_copy(struct cmon_alert_instance *dst,
                                       const struct cmon_alert_instance *src)
{
    bool oom = false;
    *dst = *src;
    dst->key = cmon_strdup(src->key);
    dst->rule = cmon_strdup(src->rule);
    dst->summary = cmon_strdup(src->summary);
    dst->labels = calloc(src->n_labels + 1, sizeof *dst->labels);
    for (size_t i = 0; dst->labels && i < src->n_labels; i++) {
        dst->labels[i].name = cmon_strdup(src->labels[i].name);
        dst->labels[i].value = cmon_strdup(src->labels[i].value);
        oom |= !dst->labels[i].name || !dst->labels[i].value;
    }
    dst->action_groups = strv_copy(src->action_groups, src->n_action_groups, &oom);
    dst->monitors = strv_copy(src->monitors, src->n_monitors, &oom);
    if (oom || !dst->key || !dst->rule || !dst->labels || (src->summary && !dst->summary)) {
        cmon_alert_instance_clear(dst);
        return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

/* Append to the output; takes ownership of inst (cleared on failure). */
static enum cmon_err push_item(struct alert_run *run, struct cmon_alert_instance *inst,
                               size_t *index)
{
    struct cmon_alert_eval_out *out = run->out;
    if (!cmon_grow(&out->items, &run->cap_items, out->n_items + 1, sizeof *out->items)) {
        cmon_alert_instance_clear(inst);
        return CMON_ERR_NOMEM;
    }
    *index = out->n_items;
    out->items[out->n_items++] = *inst;
    return CMON_OK;
}

static enum cmon_err push_transition(struct alert_run *run, enum cmon_alert_transition_kind kind,
                                     size_t index)
{
    struct cmon_alert_eval_out *out = run->out;
    if (!cmon_grow(&out->transitions, &run->cap_transitions, out->n_transitions + 1,
                   sizeof *out->transitions))
        return CMON_ERR_NOMEM;
    out->transitions[out->n_transitions++] = (struct cmon_alert_transition){kind, index};
    return CMON_OK;
}

enum cmon_err alert_prev_index(struct alert_run *run)
{
    size_t n = 16;
    while (n <= 2 * run->in->n_prev)
        n *= 2;
    run->prev_slots = calloc(n, sizeof *run->prev_slots);
    if (!run->prev_slots)
        return CMON_ERR_NOMEM;
    run->n_slots = n;
    for (size_t k = 0; k < run->in->n_prev; k++) {
        const struct cmon_alert_instance *p = &run->in->prev[k];
        if (p->state == CMON_ALERT_RESOLVED)
            continue;
        size_t i = (size_t)cmon_fnv1a(p->key) & (n - 1);
        while (run->prev_slots[i])
            i = (i + 1) & (n - 1);
        run->prev_slots[i] = k + 1;
    }
    return CMON_OK;
}

long alert_prev_find(const struct alert_run *run, const char *key)
{
    size_t mask = run->n_slots - 1;
    for (size_t i = (size_t)cmon_fnv1a(key) & mask; run->prev_slots[i]; i = (i + 1) & mask) {
        size_t k = run->prev_slots[i] - 1;
        if (!run->prev_used[k] && strcmp(run->in->prev[k].key, key) == 0)
            return (long)k;
    }
    return -1;
}

enum cmon_err alert_carry(struct alert_run *run, size_t k)
{
    struct cmon_alert_instance inst;
    size_t idx;
    run->prev_used[k] = true;
    if (cmon_alert_instance_copy(&inst, &run->in->prev[k]) != CMON_OK)
        return CMON_ERR_NOMEM;
    return push_item(run, &inst, &idx);
}

static bool add_label(struct cmon_alert_instance *inst, const char *name, const char *value)
{
    struct cmon_alert_label *l = &inst->labels[inst->n_labels++];
    l->name = strdup(name);
    l->value = strdup(value ? value : "");
    return l->name && l->value;
}

/* A new pending instance for st (not yet counted as a breach). */
static enum cmon_err new_instance(const struct alert_step *st, int64_t now_ns,
                                  struct cmon_alert_instance *inst)
{
    memset(inst, 0, sizeof *inst);
    bool oom = false;
    inst->key = strdup(st->key);
    inst->rule = strdup(st->rule_name);
    inst->labels = calloc(CMON_DIM__COUNT + 2, sizeof *inst->labels);
    if (!inst->key || !inst->rule || !inst->labels) {
        cmon_alert_instance_clear(inst);
        return CMON_ERR_NOMEM;
    }
    oom |= !add_label(inst, "alertname", st->rule_name);
    if (st->agent)
        oom |= !add_label(inst, "agent", st->agent);
    for (int d = 0; !st->agent && d < CMON_DIM__COUNT; d++) {
        if (st->mask & (1u << d))
            oom |= !add_label(inst, cmon_alert_dim_name((enum cmon_alert_dim)d), st->dims[d]);
    }
    inst->action_groups = strv_copy(st->action_groups, st->n_action_groups, &oom);
    inst->n_action_groups = st->n_action_groups;
    inst->state = CMON_ALERT_PENDING;
    inst->pending_ns = now_ns;
    if (oom) {
        cmon_alert_instance_clear(inst);
        return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

static enum cmon_err resolve_prev(struct alert_run *run, size_t k, double value,
                                  const char *summary)
{
    struct cmon_alert_instance inst;
    size_t idx;
    if (cmon_alert_instance_copy(&inst, &run->in->prev[k]) != CMON_OK)
        return CMON_ERR_NOMEM;
    inst.state = CMON_ALERT_RESOLVED;
    inst.resolved_ns = run->in->now_ns;
    inst.last_eval_ns = run->in->now_ns;
    inst.breaches = 0;
    inst.value = value;
    if (summary) {
        free(inst.summary);
        if (!(inst.summary = strdup(summary))) {
            cmon_alert_instance_clear(&inst);
            return CMON_ERR_NOMEM;
        }
    }
    enum cmon_err rc = push_item(run, &inst, &idx);
    return rc == CMON_OK ? push_transition(run, CMON_ALERT_RESOLVED_NOW, idx) : rc;
}

enum cmon_err alert_step(struct alert_run *run, const struct alert_step *st)
{
    const struct cmon_alert_instance *p = st->prev >= 0 ? &run->in->prev[st->prev] : NULL;
    int64_t now = run->in->now_ns;
    if (p)
        run->prev_used[st->prev] = true;
    if (!st->breach) {
        if (p && p->state == CMON_ALERT_FIRING)
            return resolve_prev(run, (size_t)st->prev, st->value, st->summary);
        return CMON_OK; /* a pending episode ends silently */
    }
    struct cmon_alert_instance inst;
    enum cmon_err rc = p ? cmon_alert_instance_copy(&inst, p) : new_instance(st, now, &inst);
    if (rc != CMON_OK)
        return rc;
    free(inst.summary);
    inst.summary = strdup(st->summary);
    inst.breaches = p ? p->breaches + 1 : 1;
    inst.value = st->value;
    inst.severity = st->severity;
    inst.last_eval_ns = now;
    alert_strv_free(inst.monitors, inst.n_monitors);
    bool oom = false;
    inst.monitors = strv_copy((char *const *)st->monitors->items, st->monitors->n, &oom);
    inst.n_monitors = st->monitors->n; /* NULL entries after oom are freed fine */
    bool fired = false;
    if (inst.state == CMON_ALERT_PENDING && inst.breaches >= st->for_evaluations) {
        inst.state = CMON_ALERT_FIRING;
        inst.fired_ns = now;
        inst.fired_value = st->value;
        fired = true;
    }
    if (!inst.summary || oom) {
        cmon_alert_instance_clear(&inst);
        return CMON_ERR_NOMEM;
    }
    size_t idx;
    rc = push_item(run, &inst, &idx);
    if (rc == CMON_OK && fired)
        rc = push_transition(run, CMON_ALERT_FIRED, idx);
    return rc;
}

enum cmon_err alert_resolve_vanished(struct alert_run *run)
{
    for (size_t k = 0; k < run->in->n_prev; k++) {
        const struct cmon_alert_instance *p = &run->in->prev[k];
        if (run->prev_used[k] || p->state != CMON_ALERT_FIRING)
            continue;
        run->prev_used[k] = true;
        if (resolve_prev(run, k, p->value, NULL) != CMON_OK)
            return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}
