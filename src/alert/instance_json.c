/* instance_json.c: an alert instance as JSON and back -- the shape of
 * GET /api/v1/alerts items, of the store's record, and of the body the
 * webhook and exec senders deliver (docs/alerts.md). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval.h"
#include "model/alert_rule_internal.h"
#include "core/clock.h"
#include "core/text.h"

static json_t *time_or_null(int64_t ns)
{
    char buf[40];
    return ns ? json_string(cmon_rfc3339(ns, buf, sizeof buf)) : json_null();
}

json_t *cmon_alert_instance_to_json(const struct cmon_alert_instance *a)
{
    json_t *labels = json_object();
    for (size_t i = 0; labels && i < a->n_labels; i++)
        json_object_set_new(labels, a->labels[i].name, json_string(a->labels[i].value));
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:f, s:f, s:o, s:o, s:o, s:s?, s:o}",
                          "key", a->key, "rule", a->rule, "state",
                          cmon_alert_state_name(a->state), "labels", labels, "severity",
                          a->severity, "breaches", a->breaches, "value", a->value, "firedValue",
                          a->fired_value, "startsAt", time_or_null(a->pending_ns), "firedAt",
                          time_or_null(a->fired_ns), "endsAt", time_or_null(a->resolved_ns),
                          "summary", a->summary, "actionGroups",
                          alert_strv_to_json(a->action_groups, a->n_action_groups));
    if (!o)
        return NULL;
    json_t *ns = json_pack("{s:I, s:I, s:I, s:I}", "pending", (json_int_t)a->pending_ns, "fired",
                           (json_int_t)a->fired_ns, "resolved", (json_int_t)a->resolved_ns,
                           "lastEval", (json_int_t)a->last_eval_ns);
    json_object_set_new(o, "timesNs", ns);
    json_object_set_new(o, "monitors", alert_strv_to_json(a->monitors, a->n_monitors));
    return o;
}

static bool state_parse(const char *s, enum cmon_alert_state *out)
{
    for (int i = 0; i <= CMON_ALERT_RESOLVED; i++) {
        if (s && strcmp(s, cmon_alert_state_name((enum cmon_alert_state)i)) == 0) {
            *out = (enum cmon_alert_state)i;
            return true;
        }
    }
    return false;
}

static enum cmon_err labels_from_json(const json_t *labels, struct cmon_alert_instance *a)
{
    a->labels = calloc(json_object_size(labels) + 1, sizeof *a->labels);
    if (!a->labels)
        return CMON_ERR_NOMEM;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) {
        if (!json_is_string(v))
            return CMON_ERR_INVALID;
        struct cmon_alert_label *l = &a->labels[a->n_labels++];
        l->name = strdup(k);
        l->value = strdup(json_string_value(v));
        if (!l->name || !l->value)
            return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

/* A JSON array of strings (NULL: none) into a new vector. */
static enum cmon_err strv_from_json(const json_t *arr, char ***out, size_t *n)
{
    *out = calloc(json_array_size(arr) + 1, sizeof **out);
    if (!*out)
        return CMON_ERR_NOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return CMON_ERR_INVALID;
        if (!((*out)[(*n)++] = strdup(json_string_value(v))))
            return CMON_ERR_NOMEM;
    }
    return CMON_OK;
}

enum cmon_err cmon_alert_instance_from_json(const json_t *j, struct cmon_alert_instance *a)
{
    memset(a, 0, sizeof *a);
    const char *key = NULL, *rule = NULL, *state = NULL, *summary = NULL;
    json_t *labels = NULL, *groups = NULL, *monitors = NULL;
    json_int_t sev = 0, br = 0, pn = 0, fn = 0, rn = 0, ln = 0;
    double value = 0, fired = 0;
    if (json_unpack((json_t *)j,
                    "{s:s, s:s, s:s, s:o, s:I, s:I, s:F, s:F, s?s, s:o, s?o, "
                    "s:{s:I, s:I, s:I, s:I}}",
                    "key", &key, "rule", &rule, "state", &state, "labels", &labels, "severity",
                    &sev, "breaches", &br, "value", &value, "firedValue", &fired, "summary",
                    &summary, "actionGroups", &groups, "monitors", &monitors, "timesNs",
                    "pending", &pn, "fired", &fn,
                    "resolved", &rn, "lastEval", &ln) != 0 ||
        !json_is_object(labels) || !json_is_array(groups) ||
        (monitors && !json_is_array(monitors)) || !state_parse(state, &a->state))
        return CMON_ERR_INVALID;
    a->severity = (int)sev;
    a->breaches = (int)br;
    a->value = value;
    a->fired_value = fired;
    a->pending_ns = pn;
    a->fired_ns = fn;
    a->resolved_ns = rn;
    a->last_eval_ns = ln;
    a->key = strdup(key);
    a->rule = strdup(rule);
    a->summary = cmon_strdup(summary);
    enum cmon_err rc = !a->key || !a->rule || (summary && !a->summary) ? CMON_ERR_NOMEM : CMON_OK;
    if (rc == CMON_OK)
        rc = labels_from_json(labels, a);
    if (rc == CMON_OK)
        rc = strv_from_json(groups, &a->action_groups, &a->n_action_groups);
    if (rc == CMON_OK)
        rc = strv_from_json(monitors, &a->monitors, &a->n_monitors);
    if (rc != CMON_OK)
        cmon_alert_instance_clear(a);
    return rc;
}
