/* client.h: what the API-client subcommands (monitor, tests, token) share --
 * --server/--token/--json resolution (flags, then CMON_SERVER/CMON_TOKEN, then
 * the default), one blocking libcurl request, and error printing with the
 * exit codes of DESIGN 1 (3: cannot reach or authenticate to the server).
 * Also the server runner shared by `cmon server` and `cmon run`.
 * Ownership: a struct cli_client borrows its strings; responses are owned by
 * the caller.  Single-threaded (the CLI's main thread). */
#ifndef CMON_CLI_CLIENT_H
#define CMON_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "server/server.h"

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

struct cli_client {
    const char *cmd;    /* "monitor", for messages */
    const char *server; /* base URL without trailing slash */
    const char *token;  /* NULL: none */
    const char *ca;     /* CA file for https:// servers; NULL: the system's */
    bool json;          /* --json */
};

/* Defaults from the environment (CMON_SERVER, CMON_TOKEN, CMON_CA), else
 * the built-in server; the options below then override them. */
void cli_client_init(struct cli_client *c, const char *cmd);

/* The options every API client takes (--server, --token, --ca, --json,
 * --help): CLI_CLIENT_LONGOPTS ends a getopt_long table, CLI_CLIENT_SHORTOPTS
 * goes into the short options.  cli_client_option takes getopt's c when it
 * is one of them (true) and leaves the rest to the command (false). */
#define CLI_CLIENT_LONGOPTS                                                                        \
    {"server", required_argument, NULL, 'S'}, {"token", required_argument, NULL, 't'},             \
        {"ca", required_argument, NULL, 'C'}, {"json", no_argument, NULL, 'j'},                    \
        {"help", no_argument, NULL, 'h'},                                                          \
    {                                                                                              \
        0                                                                                          \
    }
#define CLI_CLIENT_SHORTOPTS "hS:t:C:j"
bool cli_client_option(struct cli_client *c, int opt, const char *arg);

/* One request; body may be NULL.  On success *out is the parsed JSON body
 * (json_null() for an empty one) and *status the HTTP status.  Returns a CLI
 * exit code: 0 when the server answered 2xx; 3 when unreachable or the token
 * was rejected (401/403); 1 for other errors, which it prints (the API's
 * error message and, for validation, each problem). */
int cli_request(const struct cli_client *c, const char *method, const char *path, const char *body,
                size_t len, json_t **out, long *status);

/* Percent-encode s for a URL path segment or query value. */
char *cli_escape(const char *s);

/* Print JSON pretty (for --json). */
void cli_print_json(const json_t *j);

#define CLI_MAX_FILE (4 * 1024 * 1024)
/* Read a whole file ("-" = stdin); NULL with err filled on failure. */
char *cli_read_file(const char *path, size_t *len, char *err, size_t errlen);
/* "dir/web.json" -> "web" (malloc'd); NULL for "-". */
char *cli_default_name(const char *path);

/* The local admin token (local_token.c): STORE_DIR/admin.token of a SQLite
 * store.  _path: false for other stores.  _ensure: create the token and its
 * file (0600) unless the file exists; *created says whether it did.
 * cli_local_token: the token of $CMON_DATA (default ./cmon-data) for a
 * loopback server URL, else NULL; buf holds it. */
struct store;
bool cli_local_token_path(const char *store_url, char *out, size_t cap);
enum cmon_err cli_local_token_ensure(struct store *s, const char *store_url, char *path, size_t cap,
                                     bool *created, struct cmon_errbuf *eb);
/* The same with an admin token that exists already (the store's first). */
enum cmon_err cli_local_token_keep(const char *store_url, const char *token, char *path, size_t cap,
                                   bool *created, struct cmon_errbuf *eb);
const char *cli_local_token(const char *server_url, char *buf, size_t cap);

/* The monitors of a monitor file (one, or a list), validated locally with
 * FILE:LINE:COL problems printed to stderr: names[i] and the JSON texts[i]
 * (lens[i] bytes) to apply.  Returns an exit code; free with
 * cli_monitor_doc_free (also after a failure). */
struct cli_monitor_doc {
    size_t n;
    char **names, **texts;
    size_t *lens;
};
int cli_monitor_doc_load(const char *cmd, const char *path, struct cli_monitor_doc *d);
void cli_monitor_doc_free(struct cli_monitor_doc *d);

/* Run a server until SIGINT/SIGTERM; files (may be NULL/0) are monitor files
 * applied at start; with_agent also runs the embedded agent (named after the
 * host, alias "local") on agent_loops probe loops (0: one per core).
 * Returns an exit code. */
int cli_serve(const char *cmd, struct cmon_server_opts *opts, char **files, int n_files,
              bool with_agent, unsigned agent_loops);

/* Options `server` and `run` share (--listen, --retention, --log-level,
 * --max-monitors, --tls-cert, --tls-key and the edge options below): 0 when
 * c was one of them, -1 when not, else the usage-error exit code. */
struct cli_command;
enum {
    CLI_OPT_ALLOWED_HOST = 0x100,
    CLI_OPT_ALLOW_EXEC,
    CLI_OPT_CONNS_PER_IP,
    CLI_OPT_WRITE_QUEUE,
    CLI_OPT_HTTP_THREADS,
    CLI_OPT_AGENT_BATCH_MS,
};
#define CLI_SERVER_EDGE_OPTIONS                                                                    \
    {"allowed-host", required_argument, NULL, CLI_OPT_ALLOWED_HOST},                               \
        {"allow-exec-actions", no_argument, NULL, CLI_OPT_ALLOW_EXEC},                             \
        {"max-conns-per-ip", required_argument, NULL, CLI_OPT_CONNS_PER_IP},                       \
        {"http-threads", required_argument, NULL, CLI_OPT_HTTP_THREADS},                           \
        {"agent-batch-ms", required_argument, NULL, CLI_OPT_AGENT_BATCH_MS},                       \
    {                                                                                              \
        "write-queue", required_argument, NULL, CLI_OPT_WRITE_QUEUE                                \
    }
/* Their --help lines, the same in both commands. */
#define CLI_SERVER_EDGE_HELP                                                                       \
    "      --allowed-host NAME  also accept requests whose Host header is NAME\n"                  \
    "                         (repeatable; loopback names are always accepted in\n"                \
    "                         open mode).  Given at least once, the Host rule applies\n"           \
    "                         with tokens too.\n"                                                  \
    "      --allow-exec-actions  allow alert action groups with \"exec\" commands\n"               \
    "                         (they run as this process's user); without it such\n"                \
    "                         groups are refused (403 exec_disabled) and stored ones\n"            \
    "                         are not run\n"                                                       \
    "      --max-conns-per-ip N  open connections one client address may hold\n"                   \
    "                         (default 256)\n"                                                    \
    "      --http-threads N   HTTP worker threads (default 4); writes do not hold one\n"        \
    "                         while the writer works, reads do\n"                                 \
    "      --write-queue N    round results the write queue holds (default 100000);\n"           \
    "                         beyond it result batches get 503 overloaded and agents\n"          \
    "                         retry them later\n"                                                 \
    "      --agent-batch-ms MS  how long remote agents gather rounds into one result\n"           \
    "                         batch (100..60000, default 1000; an agent's longer\n"              \
    "                         --batch-ms wins).  Longer: fewer, larger requests from\n"          \
    "                         a large fleet; rounds arrive that much later\n"
int cli_server_option(const struct cli_command *self, int c, const char *arg,
                      struct cmon_server_opts *o, struct cmon_log *log);
/* --threads N of `agent` and `run`: the agent's probe loops (1..AGENT_MAX_LOOPS;
 * default one per core).  Returns 0 or a usage error's exit code. */
int cli_threads_option(const struct cli_command *self, const char *arg, unsigned *loops);
/* Its --help lines, the same in both commands. */
#define CLI_THREADS_HELP                                                                           \
    "      --threads N        probe loops, each a thread with its own sockets, DNS\n"              \
    "                         cache and share of the tests (sharded by test id);\n"                \
    "                         default one per core, at most 16\n"

#endif
