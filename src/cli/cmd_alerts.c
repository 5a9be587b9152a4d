/* cmd_alerts.c: `cmon alerts rule|group|list` -- alert rules, action groups
 * and the alerts themselves through the API (docs/alerts.md): tables for
 * people, --json for programs.  apply takes files holding one object or an
 * array of them; each is PUT under its "name" (one object: else the base name). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "model/alert_rule.h"
#include "core/text.h"
#include "model/jsonpos.h"
#include "model/monitor.h"

struct kind {
    const char *word;  /* "rule" */
    const char *label; /* "alert rule" */
    const char *path;  /* "/api/v1/alertRules" */
    void (*row)(struct cli_table *t, const json_t *o);
    size_t n_cols;
    const char *const *heads;
    enum cmon_err (*check_text)(const char *text, size_t len, struct cmon_problems *probs);
    enum cmon_err (*check_value)(const json_t *j, const char *prefix, struct cmon_problems *probs);
};

static void join_strings(const json_t *arr, char *out, size_t cap)
{
    size_t i, used = 0;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int n = snprintf(out + used, cap - used, "%s%s", i ? "," : "", json_string_value(v));
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    if (!used)
        snprintf(out, cap, "-");
}

static const char *op_symbol(const char *op)
{
    static const char *const ops[][2] = {{"GreaterThan", ">"},
                                         {"GreaterThanOrEqual", ">="},
                                         {"LessThan", "<"},
                                         {"LessThanOrEqual", "<="}};
    for (size_t i = 0; op && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(op, ops[i][0]) == 0)
            return ops[i][1];
    }
    return op ? op : "?";
}

static const char *const rule_heads[] = {"NAME", "KIND",      "ENABLED",
                                         ">SEV", "CONDITION", "ACTION GROUPS"};

static void rule_row(struct cli_table *t, const json_t *r)
{
    char cond[128], groups[256], sev[16];
    const char *kind = json_string_value(json_object_get(r, "kind"));
    if (kind && strcmp(kind, "state") == 0) {
        char states[64];
        join_strings(json_object_get(r, "states"), states, sizeof states);
        snprintf(cond, sizeof cond, "%s state in %s x%lld",
                 json_string_value(json_object_get(r, "scope")), states,
                 (long long)json_integer_value(json_object_get(r, "forEvaluations")));
    } else {
        snprintf(cond, sizeof cond, "%s %s %s %g (%llds)",
                 json_string_value(json_object_get(r, "metric")),
                 json_string_value(json_object_get(r, "aggregation")),
                 op_symbol(json_string_value(json_object_get(r, "operator"))),
                 json_number_value(json_object_get(r, "threshold")),
                 (long long)json_integer_value(json_object_get(r, "windowSizeSec")));
    }
    join_strings(json_object_get(r, "actionGroups"), groups, sizeof groups);
    snprintf(sev, sizeof sev, "%lld",
             (long long)json_integer_value(json_object_get(r, "severity")));
    const char *cells[] = {json_string_value(json_object_get(r, "name")),
                           kind ? kind : "metric",
                           json_is_true(json_object_get(r, "enabled")) ? "yes" : "no",
                           sev,
                           cond,
                           groups};
    cli_table_add(t, cells);
}

static const char *const group_heads[] = {"NAME", ">WEBHOOKS", ">ALERTMANAGERS", ">EXEC"};

static void group_row(struct cli_table *t, const json_t *g)
{
    char n[3][24];
    static const char *const lists[] = {"webhooks", "alertmanagers", "exec"};
    for (size_t i = 0; i < 3; i++)
        snprintf(n[i], sizeof n[i], "%zu", json_array_size(json_object_get(g, lists[i])));
    const char *cells[] = {json_string_value(json_object_get(g, "name")), n[0], n[1], n[2]};
    cli_table_add(t, cells);
}

/* Validate one rule or action group with the alert model (the server's own
 * parser): from text (problems with line:col), or from a member of a larger
 * document (problem paths start with prefix); what was built is freed. */
#define KIND_CHECKS(kind, type, parse, from_json, free_fn)                                        \
    static enum cmon_err kind##_check_text(const char *text, size_t len,                         \
                                           struct cmon_problems *probs)                          \
    {                                                                                             \
        type *o = NULL;                                                                           \
        enum cmon_err e = parse(text, len, &o, probs);                                            \
        free_fn(o);                                                                               \
        return e;                                                                                 \
    }                                                                                             \
    static enum cmon_err kind##_check_value(const json_t *j, const char *prefix,                 \
                                            struct cmon_problems *probs)                         \
    {                                                                                             \
        type *o = NULL;                                                                           \
        enum cmon_err e = from_json(j, prefix, &o, probs);                                        \
        free_fn(o);                                                                               \
        return e;                                                                                 \
    }
KIND_CHECKS(rule, struct cmon_alert_rule, cmon_alert_rule_parse, cmon_alert_rule_from_json,
            cmon_alert_rule_free)
KIND_CHECKS(group, struct cmon_action_group, cmon_action_group_parse, cmon_action_group_from_json,
            cmon_action_group_free)

static const struct kind kind_rule = {.word = "rule",
                                      .label = "alert rule",
                                      .path = "/api/v1/alertRules",
                                      .row = rule_row,
                                      .n_cols = 6,
                                      .heads = rule_heads,
                                      .check_text = rule_check_text,
                                      .check_value = rule_check_value};
static const struct kind kind_group = {.word = "group",
                                       .label = "action group",
                                       .path = "/api/v1/actionGroups",
                                       .row = group_row,
                                       .n_cols = 4,
                                       .heads = group_heads,
                                       .check_text = group_check_text,
                                       .check_value = group_check_value};

static char *item_path(const struct kind *k, const char *name, const char *suffix)
{
    char *esc = cli_escape(name);
    struct cmon_buf b = {0};
    if (esc)
        cmon_buf_printf(&b, "%s/%s%s", k->path, esc, suffix);
    free(esc);
    return b.data;
}

static int put_one(const struct cli_client *c, const struct kind *k, const char *file,
                   const char *name, const char *text, size_t len)
{
    char *path = item_path(k, name, "");
    json_t *out = NULL;
    long status = 0;
    int rc = path ? cli_request(c, "PUT", path, text, len, &out, &status) : CLI_EXIT_FAILED;
    if (rc == CLI_EXIT_OK && c->json)
        cli_print_json(out);
    else if (rc == CLI_EXIT_OK)
        printf("%s: %s %s %s\n", file, k->label, name, status == 201 ? "created" : "updated");
    else if (rc == CLI_EXIT_FAILED)
        fprintf(stderr, "cmon alerts: %s: %s %s not applied\n", file, k->label, name);
    json_decref(out);
    free(path);
    return rc;
}

/* Print problems as FILE:LINE:COL: PATH: MESSAGE; a problem found in a
 * member of the file (no position of its own) takes its position from pos. */
static void print_problems(const char *file, struct cmon_problems *probs,
                           const struct jpos_index *pos)
{
    for (size_t i = 0; i < probs->n; i++) {
        struct cmon_problem *p = &probs->items[i];
        const struct jpos_entry *e = !p->line && pos ? jpos_find(pos, p->path) : NULL;
        if (e) {
            p->line = e->line;
            p->col = e->col;
        }
        char line[1200];
        cmon_problem_format(p, file, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
}

/* Every member of an array file is checked here first, with positions in the
 * file itself (the server would only see a re-serialised copy of each), and
 * nothing is sent unless all are valid. */
static bool array_valid(const struct kind *k, const char *file, const char *text, size_t len,
                        const json_t *arr)
{
    struct jpos_index pos = {0};
    bool indexed = jpos_build(text, len, &pos) == 0, ok = true;
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "[%zu]", i);
        struct cmon_problems probs = {0};
        if (!json_is_string(json_object_get(item, "name"))) {
            fprintf(stderr, "cmon alerts: %s: [%zu] has no \"name\"\n", file, i);
            ok = false;
        } else if (k->check_value(item, prefix, &probs) != CMON_OK) {
            print_problems(file, &probs, indexed ? &pos : NULL);
            ok = false;
        }
        cmon_problems_free(&probs);
    }
    jpos_free(&pos);
    return ok;
}

/* Each member of an array file, re-sent as its own body. */
static int apply_array(const struct cli_client *c, const struct kind *k, const char *file,
                       const json_t *arr)
{
    int worst = CLI_EXIT_OK;
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        char *text = json_dumps(item, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        int r = text ? put_one(c, k, file, name, text, strlen(text)) : CLI_EXIT_FAILED;
        free(text);
        worst = r > worst ? r : worst;
        if (worst == CLI_EXIT_SERVER)
            break;
    }
    return worst;
}

static int apply_file(const struct cli_client *c, const struct kind *k, const char *file)
{
    char err[600];
    size_t len;
    char *text = cli_read_file(file, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "cmon alerts: %s\n", err);
        return CLI_EXIT_FAILED;
    }
    json_t *j = json_loadb(text, len, 0, NULL);
    struct cmon_problems probs = {0};
    int rc = CLI_EXIT_FAILED;
    if (json_is_array(j)) {
        if (array_valid(k, file, text, len, j))
            rc = apply_array(c, k, file, j);
    } else if (k->check_text(text, len, &probs) != CMON_OK) {
        print_problems(file, &probs, NULL);
    } else {
        const char *n = json_string_value(json_object_get(j, "name"));
        char *name = n ? strdup(n) : cli_default_name(file);
        if (!name)
            fprintf(stderr, "cmon alerts: %s: no \"name\" in the file; give it one\n", file);
        rc = name ? put_one(c, k, file, name, text, len) : CLI_EXIT_FAILED;
        free(name);
    }
    if (rc == CLI_EXIT_FAILED && (probs.n || json_is_array(j)))
        fprintf(stderr, "cmon alerts: %s: not applied\n", file);
    cmon_problems_free(&probs);
    json_decref(j);
    free(text);
    return rc;
}

static void print_one(const struct kind *k, const json_t *o)
{
    struct cli_table tab;
    cli_table_init(&tab, k->n_cols, k->heads);
    k->row(&tab, o);
    cli_table_print(&tab);
}

static int print_list(const struct cli_client *c, const struct kind *k)
{
    json_t *out = NULL;
    long status;
    char path[128];
    snprintf(path, sizeof path, "%s?limit=1000", k->path);
    int rc = cli_request(c, "GET", path, NULL, 0, &out, &status);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (c->json) {
        cli_print_json(out);
    } else {
        struct cli_table tab;
        cli_table_init(&tab, k->n_cols, k->heads);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(out, "items"), i, o) k->row(&tab, o);
        cli_table_print(&tab);
    }
    json_decref(out);
    return CLI_EXIT_OK;
}

static int named_action(const struct cli_client *c, const struct kind *k, const char *action,
                        const char *name)
{
    bool del = strcmp(action, "delete") == 0, get = strcmp(action, "get") == 0;
    const char *suffix = strcmp(action, "enable") == 0    ? "/enable"
                         : strcmp(action, "disable") == 0 ? "/disable"
                                                          : "";
    char *path = item_path(k, name, suffix);
    json_t *out = NULL;
    long status;
    int rc = path ? cli_request(c,
                                get   ? "GET"
                                : del ? "DELETE"
                                      : "POST",
                                path, NULL, 0, &out, &status)
                  : CLI_EXIT_FAILED;
    free(path);
    if (rc == CLI_EXIT_OK) {
        if (del)
            printf("%s %s deleted\n", k->label, name);
        else if (c->json || get)
            cli_print_json(out);
        else
            print_one(k, out);
    }
    json_decref(out);
    return rc;
}

/* `cmon alerts rule|group ACTION ...` */
static int kind_run(const struct cli_command *self, const struct cli_client *c,
                    const struct kind *k, int argc, char **argv)
{
    if (argc < 1)
        return cli_usage_error(self, "%s needs an action", k->word);
    const char *action = argv[0];
    bool is_rule = k == &kind_rule;
    if (strcmp(action, "list") == 0)
        return argc == 1 ? print_list(c, k) : cli_usage_error(self, "list takes no arguments");
    if (strcmp(action, "apply") == 0) {
        if (argc < 2)
            return cli_usage_error(self, "apply needs at least one FILE");
        int worst = CLI_EXIT_OK;
        for (int i = 1; i < argc && worst != CLI_EXIT_SERVER; i++) {
            int r = apply_file(c, k, argv[i]);
            worst = r > worst ? r : worst;
        }
        return worst;
    }
    bool named = strcmp(action, "get") == 0 || strcmp(action, "delete") == 0 ||
                 (is_rule && (strcmp(action, "enable") == 0 || strcmp(action, "disable") == 0));
    if (!named)
        return cli_usage_error(self, "unknown %s action '%s'", k->word, action);
    return argc == 2 ? named_action(c, k, action, argv[1])
                     : cli_usage_error(self, "%s needs exactly one NAME", action);
}

static void print_alerts(const json_t *items)
{
    static const char *const heads[] = {"STATE", ">SEV", "STARTS", ">VALUE", "ALERT", "SUMMARY"};
    struct cli_table tab;
    cli_table_init(&tab, 6, heads);
    size_t i;
    json_t *a;
    json_array_foreach(items, i, a)
    {
        char val[32], sev[16], starts[20];
        snprintf(val, sizeof val, "%g", json_number_value(json_object_get(a, "value")));
        snprintf(sev, sizeof sev, "%lld",
                 (long long)json_integer_value(json_object_get(a, "severity")));
        const char *st = json_string_value(json_object_get(a, "startsAt"));
        snprintf(starts, sizeof starts, "%.19s", st ? st : "-"); /* to the second */
        const char *cells[] = {json_string_value(json_object_get(a, "state")),
                               sev,
                               starts,
                               val,
                               json_string_value(json_object_get(a, "key")),
                               json_string_value(json_object_get(a, "summary"))};
        cli_table_add(&tab, cells);
    }
    cli_table_print(&tab);
}

struct list_opts {
    const char *state, *rule, *monitor, *limit;
};

static void add_query(struct cmon_buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    char *esc = cli_escape(value);
    cmon_buf_printf(b, "%s%s=%s", strchr(b->data, '?') ? "&" : "?", key, esc ? esc : "");
    free(esc);
}

static int alerts_list(const struct cli_client *c, const struct list_opts *o)
{
    struct cmon_buf b = {0};
    cmon_buf_puts(&b, "/api/v1/alerts");
    if (!b.data)
        return CLI_EXIT_FAILED;
    add_query(&b, "state", o->state);
    add_query(&b, "rule", o->rule);
    add_query(&b, "monitor", o->monitor);
    add_query(&b, "limit", o->limit);
    json_t *out = NULL;
    long status;
    int rc = cli_request(c, "GET", b.data, NULL, 0, &out, &status);
    free(b.data);
    if (rc == CLI_EXIT_OK && c->json)
        cli_print_json(out);
    else if (rc == CLI_EXIT_OK)
        print_alerts(json_object_get(out, "items"));
    json_decref(out);
    return rc;
}

static int alerts_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"state", required_argument, NULL, 's'},
                                             {"rule", required_argument, NULL, 'r'},
                                             {"monitor", required_argument, NULL, 'm'},
                                             {"limit", required_argument, NULL, 'n'},
                                             CLI_CLIENT_LONGOPTS};
    struct list_opts lo = {0};
    struct cli_client cl;
    cli_client_init(&cl, "alerts");
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "s:r:m:n:" CLI_CLIENT_SHORTOPTS, longopts, &rc)) !=
           -1) {
        if (c == -2)
            return rc;
        if (cli_client_option(&cl, c, optarg))
            continue;
        if (c == 's')
            lo.state = optarg;
        else if (c == 'r')
            lo.rule = optarg;
        else if (c == 'm')
            lo.monitor = optarg;
        else if (c == 'n')
            lo.limit = optarg;
    }
    if (optind >= argc)
        return cli_usage_error(self, "missing action (rule, group, list)");
    const char *what = argv[optind++];
    bool filters = lo.state || lo.rule || lo.monitor || lo.limit;
    if (strcmp(what, "list") == 0)
        return optind == argc ? alerts_list(&cl, &lo)
                              : cli_usage_error(self, "list takes no arguments");
    if (filters)
        return cli_usage_error(self, "--state, --rule, --monitor and --limit go with 'list'");
    if (strcmp(what, "rule") == 0)
        return kind_run(self, &cl, &kind_rule, argc - optind, argv + optind);
    if (strcmp(what, "group") == 0)
        return kind_run(self, &cl, &kind_group, argc - optind, argv + optind);
    return cli_usage_error(self, "unknown action '%s'", what);
}

const struct cli_command cmd_alerts = {
    .name = "alerts",
    .summary = "manage alert rules and action groups, list alerts",
    .usage = "usage: cmon alerts rule apply FILE...\n"
             "       cmon alerts rule list\n"
             "       cmon alerts rule get|delete|enable|disable NAME\n"
             "       cmon alerts group apply FILE...\n"
             "       cmon alerts group list\n"
             "       cmon alerts group get|delete NAME\n"
             "       cmon alerts list [--state pending|firing|resolved] [--rule R] [--monitor M]\n"
             "                        [--limit N]\n"
             "       (each with [--server URL] [--token T] [--ca FILE] [--json])\n"
             "\n"
             "Alert rules and action groups (docs/alerts.md) on a running server, and the\n"
             "alerts they raised.\n"
             "\n"
             "Actions:\n"
             "  rule apply FILE...     create or replace alert rules; a FILE holds one rule or\n"
             "                         an array of rules, each PUT under its \"name\" (one rule\n"
             "                         without a name: the file's base name).  The action\n"
             "                         groups a rule names must exist: apply groups first.\n"
             "  rule list              every rule: kind, enabled, severity, condition, groups\n"
             "  rule get NAME          the rule as JSON, defaults filled in\n"
             "  rule delete NAME       delete it; its alerts resolve at the next evaluation\n"
             "  rule enable NAME       evaluate it again\n"
             "  rule disable NAME      stop evaluating it; its alerts resolve\n"
             "  group apply FILE...    create or replace action groups (webhooks,\n"
             "                         alertmanagers, exec); a webhook secret \"***\" keeps the\n"
             "                         stored one, so a group read back can be re-applied\n"
             "  group list, get NAME   secrets are shown as \"***\"\n"
             "  group delete NAME      refused while a rule names the group\n"
             "  list                   alerts newest first: pending, firing and resolved\n"
             "                         (history), with the filters below\n"
             "\n"
             "Options:\n"
             "  -s, --state S      only alerts in state S (pending, firing, resolved)\n"
             "  -r, --rule R       only alerts of rule R (AgentUnavailable: suppressed agents)\n"
             "  -m, --monitor M    only alerts about monitor M's tests\n"
             "  -n, --limit N      at most N alerts (default 100, max 1000)\n"
             "  -S, --server URL   the server (default $CMON_SERVER or http://127.0.0.1:8080)\n"
             "  -t, --token T      bearer token (default $CMON_TOKEN); apply, delete, enable\n"
             "                     and disable need the admin role, the rest reader\n"
             "      --ca FILE      CA certificate(s), PEM, for an https:// server (default\n"
             "                     $CMON_CA, else the system's trust store)\n"
             "  -j, --json         print the API's JSON instead of a table\n"
             "  -h, --help         show this help\n"
             "\n"
             "Exit status: 0 success, 1 the server refused (invalid file, unknown name),\n"
             "2 usage error, 3 the server cannot be reached or rejected the token.\n",
    .run = alerts_run,
};
