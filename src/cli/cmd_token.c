/* cmd_token.c: `cmon token create` -- make a bearer token (DESIGN 9).  Without
 * a server it writes to the store directly (bootstrap); with --server it asks
 * the API (admins only).  The token is printed once; only its hash is kept. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "core/clock.h"
#include "store/store.h"

struct token_args {
    const char *role, *name, *data, *store;
    bool server; /* --server given: create through the API */
    struct cli_client cl;
};

static int print_token(const struct token_args *a, const char *token)
{
    if (a->cl.json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "token", token, "role", a->role, "name",
                              a->name ? a->name : "");
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("%s\n", token);
        fprintf(
            stderr,
            "cmon token: created a token with the %s role; it is shown only now, keep it safe\n",
            a->role);
    }
    return CLI_EXIT_OK;
}

static int create_in_store(const struct token_args *a, enum store_role role)
{
    char url[1100];
    if (a->store)
        snprintf(url, sizeof url, "%s", a->store);
    else
        snprintf(url, sizeof url, "sqlite:%s/cmon.db", a->data ? a->data : "./cmon-data");
    struct store *s = NULL;
    struct cmon_errbuf eb;
    char token[64], hash[65], local[1100];
    size_t before = 0;
    bool made_local = false;
    enum cmon_err err = store_open(url, STORE_READ_WRITE, &s, &eb);
    if (!err)
        err = s->ops->token_count(s, &before, &eb);
    if (!err)
        err = store_token_new(token, &eb);
    if (!err) {
        store_token_hash(token, hash);
        err = s->ops->token_add(s, hash, role, a->name ? a->name : "", cmon_wall_ns(), &eb);
    }
    /* the first token ends open mode: keep the local user in (local_token.c) */
    if (!err && before == 0 && role == STORE_ROLE_ADMIN) /* it is the local admin token */
        err = cli_local_token_keep(url, token, local, sizeof local, &made_local, &eb);
    else if (!err && before == 0)
        err = cli_local_token_ensure(s, url, local, sizeof local, &made_local, &eb);
    store_close(s);
    if (err) {
        fprintf(stderr, "cmon token: %s\n", eb.msg);
        return CLI_EXIT_FAILED;
    }
    if (made_local)
        fprintf(stderr,
                "cmon token: this is the store's first token: the server now requires one on "
                "every request.  cmon commands on this machine use the admin token in %s by "
                "themselves (CMON_DATA names its directory when it is not ./cmon-data); for the "
                "dashboard, paste that token into its sign-in form\n",
                local);
    return print_token(a, token);
}

static int create_via_api(const struct token_args *a)
{
    json_t *body = json_pack("{s:s, s:s}", "role", a->role, "name", a->name ? a->name : "");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = NULL;
    long status;
    int rc = cli_request(&a->cl, "POST", "/api/v1/tokens", text, strlen(text), &out, &status);
    free(text);
    if (rc == CLI_EXIT_OK)
        rc = print_token(a, json_string_value(json_object_get(out, "token")));
    json_decref(out);
    return rc;
}

static int token_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"role", required_argument, NULL, 'r'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"data", required_argument, NULL, 'd'},
                                             {"store", required_argument, NULL, 's'},
                                             CLI_CLIENT_LONGOPTS};
    struct token_args a = {0};
    cli_client_init(&a.cl, "token");
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "r:n:d:s:" CLI_CLIENT_SHORTOPTS, longopts, &rc)) !=
           -1) {
        a.server |= c == 'S';
        if (cli_client_option(&a.cl, c, optarg))
            continue;
        switch (c) {
        case -2:
            return rc;
        case 'r':
            a.role = optarg;
            break;
        case 'n':
            a.name = optarg;
            break;
        case 'd':
            a.data = optarg;
            break;
        case 's':
            a.store = optarg;
            break;
        }
    }
    if (optind >= argc || strcmp(argv[optind], "create") != 0)
        return cli_usage_error(self, optind < argc ? "unknown action '%s'" : "missing action%s",
                               optind < argc ? argv[optind] : " (create)");
    if (optind + 1 < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
    enum store_role role;
    if (!a.role || !store_role_parse(a.role, &role))
        return cli_usage_error(self, "--role must be reader, admin or agent");
    if ((a.data != NULL) + (a.store != NULL) + a.server > 1)
        return cli_usage_error(self, "give at most one of --data, --store and --server");
    return a.server ? create_via_api(&a) : create_in_store(&a, role);
}

const struct cli_command cmd_token = {
    .name = "token",
    .summary = "create bearer tokens for the API (reader, admin, agent)",
    .usage = "usage: cmon token create --role reader|admin|agent [--name NAME]\n"
             "                         [--data DIR | --store URL |\n"
             "                          --server URL [--token T] [--ca FILE]]\n"
             "                         [--json]\n"
             "\n"
             "Create a bearer token and print it once on stdout.  Only its SHA-256 is\n"
             "stored, so a lost token cannot be shown again: create another.\n"
             "\n"
             "Roles: reader may read everything (GET, metrics, queries); admin may also\n"
             "change monitors and create tokens; agent may only use the agent protocol.\n"
             "Once any token exists, the server requires one on every request.\n"
             "\n"
             "Where the token goes:\n"
             "  (default)          the store of 'cmon run' in ./cmon-data\n"
             "  -d, --data DIR     the store in DIR/cmon.db (as 'cmon run --data DIR')\n"
             "  -s, --store URL    a store URL (as 'cmon server --store URL'); works while\n"
             "                     the server runs or before it first starts (bootstrap)\n"
             "  -S, --server URL   ask a running server through its API (needs an admin\n"
             "                     --token or CMON_TOKEN, unless the server runs open)\n"
             "\n"
             "Options:\n"
             "  -r, --role ROLE    reader, admin or agent (required)\n"
             "  -n, --name NAME    a label; for agent tokens the agent's name, under which\n"
             "                     its results and batch numbers are kept.  An agent token\n"
             "                     without --name is a workspace key: it only registers\n"
             "                     agents ('cmon agent --key'), each getting its own token\n"
             "  -t, --token T      admin token for --server (default $CMON_TOKEN)\n"
             "      --ca FILE      CA certificate(s), PEM, for an https:// --server (default\n"
             "                     $CMON_CA, else the system's trust store)\n"
             "  -j, --json         print {\"token\", \"role\", \"name\"}\n"
             "  -h, --help         show this help\n"
             "\n"
             "Exit status: 0 created, 1 the store failed, 2 usage error, 3 the server cannot\n"
             "be reached or rejected the token.\n",
    .run = token_run,
};
