/* cmd_monitor.c: `cmon monitor apply|list|get|delete|start|stop` -- manage
 * connection monitors through the API (tables for people, --json for
 * programs).  apply names a monitor from the file's "name" or base name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"

static int monitor_path(const char *name, const char *suffix, char *out, size_t cap)
{
    char *esc = cli_escape(name);
    if (!esc)
        return -1;
    snprintf(out, cap, "/api/v1/connectionMonitors/%s%s", esc, suffix);
    free(esc);
    return 0;
}

static const char *const monitor_heads[] = {"NAME",  "STATUS", "STATE",  ">TESTS", ">PASS",
                                            ">WARN", ">FAIL",  ">INDET", "REASON"};

static void add_monitor_row(struct cli_table *tab, const json_t *m)
{
    json_t *c = json_object_get(m, "counts");
    static const char *const counts[] = {"Pass", "Warning", "Fail", "Indeterminate"};
    char n[5][24];
    snprintf(n[0], sizeof n[0], "%lld",
             (long long)json_integer_value(json_object_get(m, "testCount")));
    for (size_t i = 0; i < 4; i++)
        snprintf(n[i + 1], sizeof n[i + 1], "%lld",
                 (long long)json_integer_value(json_object_get(c, counts[i])));
    const char *cells[] = {json_string_value(json_object_get(m, "name")),
                           json_string_value(json_object_get(m, "monitoringStatus")),
                           json_string_value(json_object_get(m, "state")),
                           n[0],
                           n[1],
                           n[2],
                           n[3],
                           n[4],
                           json_string_value(json_object_get(m, "reason"))};
    cli_table_add(tab, cells);
}

static int put_monitor(const struct cli_client *c, const char *path, const char *name,
                       const char *text, size_t len)
{
    char url[1024];
    json_t *out = NULL;
    long status = 0;
    monitor_path(name, "", url, sizeof url);
    int rc = cli_request(c, "PUT", url, text, len, &out, &status);
    if (rc == CLI_EXIT_OK && c->json)
        cli_print_json(out);
    else if (rc == CLI_EXIT_OK) {
        long long n = (long long)json_integer_value(json_object_get(out, "testCount"));
        printf("%s: monitor %s %s (%lld test%s)\n", path, name,
               status == 201 ? "created" : "updated", n, n == 1 ? "" : "s");
    } else if (rc == CLI_EXIT_FAILED)
        fprintf(stderr, "cmon monitor: %s: monitor %s not applied\n", path, name);
    json_decref(out);
    return rc;
}

/* Every monitor of the file (one, or a list), checked here first so that
 * nothing is applied from a file with a problem. */
static int apply_one(const struct cli_client *c, const char *path)
{
    struct cli_monitor_doc d;
    int rc = cli_monitor_doc_load("monitor", path, &d);
    for (size_t i = 0; rc == CLI_EXIT_OK && i < d.n; i++)
        rc = put_monitor(c, path, d.names[i], d.texts[i], d.lens[i]);
    cli_monitor_doc_free(&d);
    return rc;
}

static int do_list(const struct cli_client *c)
{
    json_t *out = NULL;
    long status;
    int rc = cli_request(c, "GET", "/api/v1/connectionMonitors", NULL, 0, &out, &status);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (c->json) {
        cli_print_json(out);
    } else {
        struct cli_table tab;
        cli_table_init(&tab, 9, monitor_heads);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(out, "items"), i, m) add_monitor_row(&tab, m);
        cli_table_print(&tab);
    }
    json_decref(out);
    return CLI_EXIT_OK;
}

static int do_named(const struct cli_client *c, const char *action, const char *name)
{
    char url[1024];
    const char *method = strcmp(action, "get") == 0      ? "GET"
                         : strcmp(action, "delete") == 0 ? "DELETE"
                                                         : "POST";
    const char *suffix = strcmp(action, "start") == 0  ? "/start"
                         : strcmp(action, "stop") == 0 ? "/stop"
                                                       : "";
    if (monitor_path(name, suffix, url, sizeof url) != 0)
        return CLI_EXIT_FAILED;
    json_t *out = NULL;
    long status;
    int rc = cli_request(c, method, url, NULL, 0, &out, &status);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (c->json || strcmp(action, "get") == 0) {
        if (strcmp(action, "delete") != 0)
            cli_print_json(out);
    } else if (strcmp(action, "delete") == 0) {
        printf("monitor %s deleted\n", name);
    } else {
        struct cli_table tab;
        cli_table_init(&tab, 9, monitor_heads);
        add_monitor_row(&tab, out);
        cli_table_print(&tab);
    }
    json_decref(out);
    return CLI_EXIT_OK;
}

static int monitor_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {CLI_CLIENT_LONGOPTS};
    struct cli_client cl;
    cli_client_init(&cl, "monitor");
    int c, rc;
    /* GNU getopt permutes: options may come before or after the action. */
    while ((c = cli_getopt(self, argc, argv, CLI_CLIENT_SHORTOPTS, longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
        cli_client_option(&cl, c, optarg);
    }
    if (optind >= argc)
        return cli_usage_error(self, "missing action (apply, list, get, delete, start, stop)");
    const char *action = argv[optind++];
    int nargs = argc - optind;
    if (strcmp(action, "list") == 0)
        return nargs ? cli_usage_error(self, "list takes no arguments") : do_list(&cl);
    if (strcmp(action, "apply") == 0) {
        if (nargs < 1)
            return cli_usage_error(self, "apply needs at least one FILE");
        int worst = CLI_EXIT_OK;
        for (int i = optind; i < argc && worst != CLI_EXIT_SERVER; i++) {
            int r = apply_one(&cl, argv[i]);
            worst = r > worst ? r : worst;
        }
        return worst;
    }
    static const char *const named[] = {"get", "delete", "start", "stop"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(action, named[i]) == 0)
            return nargs == 1 ? do_named(&cl, action, argv[optind])
                              : cli_usage_error(self, "%s needs exactly one NAME", action);
    }
    return cli_usage_error(self, "unknown action '%s'", action);
}

const struct cli_command cmd_monitor = {
    .name = "monitor",
    .summary = "apply, list, show, delete, start and stop connection monitors",
    .usage = "usage: cmon monitor apply FILE...\n"
             "       cmon monitor list\n"
             "       cmon monitor get|delete|start|stop NAME\n"
             "       (each with [--server URL] [--token T] [--ca FILE] [--json])\n"
             "\n"
             "Manage connection monitors on a running server through its API.\n"
             "\n"
             "Actions:\n"
             "  apply FILE...   create or replace each monitor (PUT); the name is the file's\n"
             "                  \"name\" or its base name without .json.  Invalid files are\n"
             "                  reported as FILE-relative line:col: path: message.\n"
             "                  The file's alertRules are applied with it, in one write\n"
             "                  (the monitor then manages them: docs/monitor-file.md).\n"
             "  list            every monitor with its state and tests per state\n"
             "  get NAME        the monitor as JSON (its properties, state and counts)\n"
             "  delete NAME     delete the monitor, its tests and their live state, and the\n"
             "                  alert rules its file held\n"
             "  start NAME      resume a stopped monitor\n"
             "  stop NAME       stop it: its tests become Not Running\n"
             "\n"
             "Options:\n"
             "  -S, --server URL  the server (default $CMON_SERVER or http://127.0.0.1:8080)\n"
             "  -t, --token T     bearer token (default $CMON_TOKEN); apply, delete, start\n"
             "                    and stop need the admin role, list and get reader\n"
             "      --ca FILE     CA certificate(s), PEM, for an https:// server (default\n"
             "                    $CMON_CA, else the system's trust store)\n"
             "  -j, --json        print the API's JSON instead of a table\n"
             "  -h, --help        show this help\n"
             "\n"
             "Exit status: 0 success, 1 the server refused (invalid file, unknown monitor),\n"
             "2 usage error, 3 the server cannot be reached or rejected the token.\n",
    .run = monitor_run,
};
