/* cmd_tests.c: `cmon tests` -- the tests view of the API as a table (state,
 * where from and to, latest figures, reason) or JSON, with the view filters. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/table.h"
#include "core/text.h"

static void add_query(struct cmon_buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    char *esc = cli_escape(value);
    cmon_buf_printf(b, "%s%s=%s", strchr(b->data, '?') ? "&" : "?", key, esc ? esc : "");
    free(esc);
}

static void fmt_num(const json_t *v, int decimals, char *out, size_t cap)
{
    if (json_is_number(v))
        snprintf(out, cap, "%.*f", decimals, json_number_value(v));
    else
        snprintf(out, cap, "-");
}

static void print_tests(const json_t *items)
{
    static const char *const heads[] = {"STATE",       "MONITOR", "GROUP",    "SOURCE",
                                        "ADDRESS",     "DESTINATION", "CONFIG", ">FAILED%",
                                        ">RTT(ms)",    "REASON"};
    static const char *const keys[] = {"state",         "monitor",     "testGroup",
                                       "source",        "sourceAddress", "destination",
                                       "testConfiguration"};
    struct cli_table tab;
    cli_table_init(&tab, 10, heads);
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t)
    {
        char failed[16], rtt[16];
        const char *cells[10];
        for (size_t k = 0; k < 7; k++)
            cells[k] = json_string_value(json_object_get(t, keys[k]));
        fmt_num(json_object_get(t, "checksFailedPercent"), 1, failed, sizeof failed);
        fmt_num(json_object_get(t, "roundTripTimeMs"), 2, rtt, sizeof rtt);
        cells[7] = failed;
        cells[8] = rtt;
        cells[9] = json_string_value(json_object_get(t, "reason"));
        cli_table_add(&tab, cells);
    }
    cli_table_print(&tab);
}

static int tests_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"monitor", required_argument, NULL, 'm'},
                                             {"state", required_argument, NULL, 's'},
                                             {"protocol", required_argument, NULL, 'p'},
                                             {"search", required_argument, NULL, 'q'},
                                             {"scope", required_argument, NULL, 'c'},
                                             {"limit", required_argument, NULL, 'n'},
                                             CLI_CLIENT_LONGOPTS};
    const char *vals[6] = {0};
    static const char *const keys[6] = {"monitor", "state", "protocol", "q", "scope", "limit"};
    static const char optchars[] = "mspqcn";
    struct cli_client cl;
    cli_client_init(&cl, "tests");
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "m:s:p:q:c:n:" CLI_CLIENT_SHORTOPTS, longopts, &rc)) !=
           -1) {
        const char *k = c > 0 ? strchr(optchars, c) : NULL;
        if (c == -2)
            return rc;
        else if (k)
            vals[k - optchars] = optarg;
        else
            cli_client_option(&cl, c, optarg);
    }
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    struct cmon_buf path;
    cmon_buf_init(&path);
    cmon_buf_puts(&path, "/api/v1/tests");
    for (int i = 0; i < 6; i++)
        add_query(&path, keys[i], vals[i]);
    json_t *out = NULL;
    long status;
    rc = cli_request(&cl, "GET", path.data, NULL, 0, &out, &status);
    cmon_buf_free(&path);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cl.json)
        cli_print_json(out);
    else
        print_tests(json_object_get(out, "items"));
    json_decref(out);
    return CLI_EXIT_OK;
}

const struct cli_command cmd_tests = {
    .name = "tests",
    .summary = "list tests with their state, latest figures and reason",
    .usage = "usage: cmon tests [--monitor M] [--state STATE] [--protocol P]\n"
             "                  [--search TEXT [--scope SCOPE]] [--limit N]\n"
             "                  [--server URL] [--token T] [--ca FILE] [--json]\n"
             "\n"
             "Show every test (source x destination x configuration of each test group)\n"
             "with its state, its latest round's checks failed % and RTT, and the reason\n"
             "for its state, e.g. 'ChecksFailedPercent 100 > 5; connection_refused'.\n"
             "\n"
             "Filters:\n"
             "  -m, --monitor M     tests of one monitor\n"
             "  -s, --state STATE   Pass, Warning, Fail, Indeterminate or NotRunning\n"
             "  -p, --protocol P    Http, Tcp or Icmp\n"
             "  -q, --search TEXT   case-insensitive text match\n"
             "  -c, --scope SCOPE   where --search looks: all (default), sources (their\n"
             "                      names and the addresses their agents report, e.g.\n"
             "                      --search 10.192.64.56 --scope sources), destinations,\n"
             "                      testGroups, testConfigurations, monitors\n"
             "  -n, --limit N       at most N tests (1..1000, default 100)\n"
             "\n"
             "Options:\n"
             "  -S, --server URL    the server (default $CMON_SERVER or http://127.0.0.1:8080)\n"
             "  -t, --token T       bearer token with the reader role (default $CMON_TOKEN)\n"
             "      --ca FILE       CA certificate(s), PEM, for an https:// server (default\n"
             "                      $CMON_CA, else the system's trust store)\n"
             "  -j, --json          print the API's JSON ({\"items\": [...], \"next\"})\n"
             "  -h, --help          show this help\n"
             "\n"
             "Exit status: 0 success, 1 the server refused the request, 2 usage error,\n"
             "3 the server cannot be reached or rejected the token.\n",
    .run = tests_run,
};
