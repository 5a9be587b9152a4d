/* cmd_validate.c: `cmon validate FILE...` -- check monitor files and print the
 * tests they expand to (a table for people, --json for programs). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "core/text.h"
#include "model/monitor.h"

static void print_table(const struct cmon_monitor *m, const struct cmon_test *t, size_t n)
{
    static const char *const heads[] = {">#",     "ID",       "GROUP", "SOURCE", "DESTINATION",
                                        "CONFIG", "PROTOCOL", ">PORT", ">FREQ",  "TARGET"};
    printf("monitor %s: %zu test%s\n", m->name, n, n == 1 ? "" : "s");
    struct cli_table tab;
    cli_table_init(&tab, 10, heads);
    for (size_t i = 0; i < n; i++) {
        const struct cmon_test_group *g = &m->groups[t[i].group];
        char num[16], port[16] = "-", freq[16], target[1100];
        snprintf(num, sizeof num, "%d", t[i].number);
        if (t[i].port)
            snprintf(port, sizeof port, "%d", t[i].port);
        snprintf(freq, sizeof freq, "%d", t[i].frequency_sec);
        snprintf(target, sizeof target, "%s%s", t[i].target,
                 g->disabled ? "  (group disabled)" : "");
        const char *cells[] = {num,
                               t[i].id,
                               g->name,
                               m->endpoints[t[i].source].name,
                               m->endpoints[t[i].destination].name,
                               m->configs[t[i].config].name,
                               cmon_protocol_name(t[i].protocol),
                               port,
                               freq,
                               target};
        cli_table_add(&tab, cells);
    }
    cli_table_print(&tab);
}

/* Expand one monitor of a file: print its table, and add {monitor, tests} to
 * list. */
static enum cmon_err expand_one(const struct cmon_monitor *m, bool json, json_t *list)
{
    struct cmon_test *tests = NULL;
    size_t n = 0;
    enum cmon_err rc = cmon_monitor_expand(m, &tests, &n);
    if (rc != CMON_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, cmon_test_to_json(m, &tests[i]));
    json_array_append_new(list, json_pack("{s:s, s:o}", "monitor", m->name, "tests", arr));
    if (!json)
        print_table(m, tests, n);
    cmon_tests_free(tests, n);
    return CMON_OK;
}

/* Validate one file; print it (table) or add it to out (JSON).  true if valid. */
static bool validate_file(const char *path, bool json, json_t *out)
{
    char err[600];
    size_t len = 0;
    char *text = cli_read_file(path, &len, err, sizeof err);
    const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
    json_t *entry = json_pack("{s:s}", "file", shown);
    if (!text) {
        if (json)
            json_object_set_new(entry, "error", json_string(err));
        else
            fprintf(stderr, "cmon validate: %s\n", err);
        json_object_set_new(entry, "valid", json_false());
        json_array_append_new(out, entry);
        return false;
    }
    char *defname = cli_default_name(path);
    struct cmon_monitor **ms = NULL;
    size_t n_ms = 0;
    struct cmon_problems probs = {0};
    enum cmon_err rc = cmon_monitors_parse(text, len, defname, &ms, &n_ms, &probs);
    json_t *list = json_array();
    for (size_t k = 0; rc == CMON_OK && k < n_ms; k++) {
        if (!json && k > 0)
            printf("\n");
        rc = expand_one(ms[k], json, list);
    }
    json_object_set_new(entry, "valid", json_boolean(rc == CMON_OK));
    if (rc == CMON_OK) {
        if (n_ms == 1) { /* the one-monitor form, as before lists were accepted */
            json_t *only = json_array_get(list, 0);
            json_object_set(entry, "monitor", json_object_get(only, "monitor"));
            json_object_set(entry, "tests", json_object_get(only, "tests"));
        }
        json_object_set_new(entry, "monitors", list);
    } else {
        json_decref(list);
        json_object_set_new(entry, "problems", cmon_problems_to_json(&probs));
        for (size_t i = 0; !json && i < probs.n; i++) {
            char line[1200];
            cmon_problem_format(&probs.items[i], shown, line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        if (!json && rc == CMON_ERR_NOMEM)
            fprintf(stderr, "cmon validate: %s: out of memory\n", shown);
        if (!json)
            fprintf(stderr, "%s: %zu problem%s\n", shown, probs.n, probs.n == 1 ? "" : "s");
    }
    json_array_append_new(out, entry);
    cmon_monitors_free(ms, n_ms);
    cmon_problems_free(&probs);
    free(defname);
    free(text);
    return rc == CMON_OK;
}

static int validate_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
    bool json = false;
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "h", longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
        if (c == 'j')
            json = true;
    }
    if (optind >= argc)
        return cli_usage_error(self, "no monitor file given");
    json_t *out = json_array();
    bool all_ok = true;
    for (int i = optind; i < argc; i++) {
        if (!json && i > optind)
            printf("\n");
        all_ok &= validate_file(argv[i], json, out);
    }
    if (json) {
        json_t *doc = json_pack("{s:b, s:o}", "valid", all_ok, "files", out);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    } else {
        json_decref(out);
    }
    return all_ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

const struct cli_command cmd_validate = {
    .name = "validate",
    .summary = "check monitor files and list the tests they expand to",
    .usage =
        "usage: cmon validate [--json] FILE...\n"
        "\n"
        "Check each connection-monitor FILE (the ARM envelope {\"name\", \"properties\"}, an ARM\n"
        "template resource, or bare properties; '-' reads standard input) and print the tests\n"
        "it expands to: test groups x sources x destinations x test configurations, in that\n"
        "order, with each test's stable id, protocol, target, port and frequency.  Without a\n"
        "\"name\" the file's base name (less .json) names the monitor.  A FILE may also hold a\n"
        "list of monitors: the service's list response {\"value\": [...]} or a JSON array.\n"
        "\n"
        "Every problem of a file is reported, each as FILE:LINE:COLUMN: JSON.PATH: MESSAGE,\n"
        "for example:\n"
        "  web.json:14:9: testGroups[0].destinations[1]: no endpoint named \"shpo\" (did you\n"
        "  mean \"shop\"?)\n"
        "\n"
        "Options:\n"
        "  --json     print {\"valid\", \"files\": [{\"file\", \"valid\", \"monitors\": "
        "[{\"monitor\",\n"
        "             \"tests\"}]} (and \"monitor\", \"tests\" when the file holds one) or\n"
        "             {\"file\", \"valid\": false, \"problems\": [{line, col, path, message}]}]}\n"
        "  -h, --help show this help\n"
        "\n"
        "Exit status: 0 every file is valid, 1 a file is invalid or unreadable, 2 usage error.\n",
    .run = validate_run,
};
