/* alert_send.c: a test driver for src/alert -- one evaluation of a rule over
 * one synthetic series (ChecksFailedPercent = --value now), then every
 * transition sent through the notifier to the action group (and every firing
 * alert without one refreshed in Alertmanager), waiting until delivered or
 * given up.  The previous instances live in a state file, so two
 * runs fire and then resolve an alert like two evaluation periods would.
 *
 *   alert_send --rule R.json --group G.json --state S.json --value V
 *              [--backoff-ms N] [--tries N] [--wait-sec N]
 * Prints one JSON line {"transitions": [...], "sent", "retried", "failed",
 * "dropped"}; exit 0 when everything was delivered, 1 otherwise, 2 on usage. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/eval.h"
#include "alert/notify.h"
#include "model/alert_rule.h"
#include "core/clock.h"
#include "core/log.h"

struct args {
    const char *rule, *group, *state;
    double value;
    long backoff_ms, tries, wait_sec;
};

static int usage(const char *msg)
{
    fprintf(stderr,
            "alert_send: %s\nusage: alert_send --rule R.json --group G.json --state "
            "S.json --value V [--backoff-ms N] [--tries N] [--wait-sec N]\n",
            msg);
    return 2;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.backoff_ms = 1000, .tries = 5, .wait_sec = 60, .value = -1};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--rule"))
            a->rule = v;
        else if (!strcmp(k, "--group"))
            a->group = v;
        else if (!strcmp(k, "--state"))
            a->state = v;
        else if (!strcmp(k, "--value"))
            a->value = atof(v);
        else if (!strcmp(k, "--backoff-ms"))
            a->backoff_ms = atol(v);
        else if (!strcmp(k, "--tries"))
            a->tries = atol(v);
        else if (!strcmp(k, "--wait-sec"))
            a->wait_sec = atol(v);
        else
            return usage("unknown option");
    }
    if (argc % 2 == 0 || !a->rule || !a->group || !a->state || a->value < 0)
        return usage("missing option");
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 > cap && !(buf = realloc(buf, cap = cap * 2 + 4096)))
            break;
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static void print_problems(const char *file, struct cmon_problems *p)
{
    char line[1200];
    for (size_t i = 0; i < p->n; i++) {
        cmon_problem_format(&p->items[i], file, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    cmon_problems_free(p);
}

/* The previous evaluation's instances (none when the file does not exist). */
static size_t load_state(const char *path, struct cmon_alert_instance **items)
{
    json_t *j = json_load_file(path, 0, NULL);
    size_t n = json_array_size(j), k = 0;
    *items = calloc(n + 1, sizeof **items);
    for (size_t i = 0; i < n; i++) {
        if (cmon_alert_instance_from_json(json_array_get(j, i), &(*items)[k]) == CMON_OK)
            k++;
    }
    json_decref(j);
    return k;
}

static void save_state(const char *path, const struct cmon_alert_eval_out *out)
{
    json_t *a = json_array();
    for (size_t i = 0; i < out->n_items; i++) {
        if (out->items[i].state != CMON_ALERT_RESOLVED)
            json_array_append_new(a, cmon_alert_instance_to_json(&out->items[i]));
    }
    json_dump_file(a, path, JSON_INDENT(2));
    json_decref(a);
}

static bool uses_group(const struct cmon_alert_instance *a, const char *group)
{
    for (size_t i = 0; i < a->n_action_groups; i++) {
        if (!strcmp(a->action_groups[i], group))
            return true;
    }
    return false;
}

static int run(const struct args *a, struct cmon_alert_rule *rule, struct cmon_action_group *g)
{
    int64_t now = cmon_wall_ns();
    struct cmon_alert_sample sample = {now, a->value};
    struct cmon_alert_series s = {.dims = {"web", "tg1", "agent-a", "shop", "http", "Http"},
                                  .agent = "agent-a",
                                  .state = CMON_STATE_PASS,
                                  .failed_pct = &sample,
                                  .n_failed_pct = 1};
    struct cmon_alert_instance *prev;
    size_t n_prev = load_state(a->state, &prev);
    const struct cmon_alert_rule *rules[] = {rule};
    /* prev_eval_ns 0: the rule is due whatever its frequency */
    struct cmon_alert_eval_in in = {.rules = rules,
                                    .n_rules = 1,
                                    .series = &s,
                                    .n_series = 1,
                                    .prev = prev,
                                    .n_prev = n_prev,
                                    .now_ns = now};
    struct cmon_alert_eval_out out;
    if (cmon_alert_evaluate(&in, &out) != CMON_OK)
        return 1;
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_DEBUG, 2, "alert_send");
    struct cmon_notify_opts o = {.allow_exec = true,
                                 .max_tries = (int)a->tries,
                                 .backoff_ns = a->backoff_ms * CMON_NS_PER_MS,
                                 .generator_url = "http://127.0.0.1:8080/alerts",
                                 .log = &log};
    struct cmon_notifier *n;
    struct cmon_errbuf eb;
    if (cmon_notifier_start(&o, &n, &eb) != CMON_OK) {
        fprintf(stderr, "alert_send: %s\n", eb.msg);
        return 1;
    }
    json_t *trans = json_array();
    for (size_t i = 0; i < out.n_transitions; i++) {
        const struct cmon_alert_instance *inst = &out.items[out.transitions[i].instance];
        json_array_append_new(
            trans,
            json_pack("{s:s, s:s}", "event", cmon_alert_state_name(inst->state), "key", inst->key));
        if (uses_group(inst, g->name))
            cmon_notifier_submit(n, g, inst);
    }
    /* firing alerts without a transition: keep them alive in Alertmanager */
    for (size_t i = 0; i < out.n_items; i++) {
        const struct cmon_alert_instance *inst = &out.items[i];
        bool moved = false;
        for (size_t k = 0; k < out.n_transitions; k++)
            moved |= out.transitions[k].instance == i;
        if (!moved && inst->state == CMON_ALERT_FIRING && uses_group(inst, g->name))
            cmon_notifier_refresh(n, g, inst);
    }
    bool flushed = cmon_notifier_flush(n, a->wait_sec * CMON_NS_PER_SEC);
    struct cmon_notify_stats st;
    cmon_notifier_stats(n, &st);
    cmon_notifier_stop(n);
    json_t *report =
        json_pack("{s:o, s:I, s:I, s:I, s:I, s:b}", "transitions", trans, "sent",
                  (json_int_t)st.sent, "retried", (json_int_t)st.retried, "failed",
                  (json_int_t)st.failed, "dropped", (json_int_t)st.dropped, "flushed", flushed);
    json_dumpf(report, stdout, JSON_COMPACT | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(report);
    save_state(a->state, &out);
    cmon_alert_eval_free(&out);
    for (size_t i = 0; i < n_prev; i++)
        cmon_alert_instance_clear(&prev[i]);
    free(prev);
    return flushed && !st.failed && !st.dropped ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    size_t lr, lg;
    char *rt = slurp(a.rule, &lr), *gt = slurp(a.group, &lg);
    if (!rt || !gt) {
        free(rt);
        free(gt);
        return usage("cannot read the rule or group file");
    }
    struct cmon_problems probs = {0};
    struct cmon_alert_rule *rule = NULL;
    struct cmon_action_group *g = NULL;
    if (cmon_alert_rule_parse(rt, lr, &rule, &probs) != CMON_OK)
        print_problems(a.rule, &probs);
    else if (cmon_action_group_parse(gt, lg, &g, &probs) != CMON_OK)
        print_problems(a.group, &probs);
    free(rt);
    free(gt);
    rc = 1;
    if (rule && g) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = run(&a, rule, g);
        curl_global_cleanup();
    }
    cmon_alert_rule_free(rule);
    cmon_action_group_free(g);
    return rc;
}
