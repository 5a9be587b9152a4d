/* cmd_server.c: `cmon server` -- the server alone (API, ingest, evaluation,
 * retention, /metrics) -- and cli_serve(), the run loop it shares with
 * `cmon run`: start, apply monitor files, print the banner, wait for
 * SIGINT/SIGTERM, stop gracefully (queued results are committed first). */
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/runtime.h"
#include "cli/cli.h"
#include "cli/embedded_agent.h"
#include "cli/client.h"
#include "core/clock.h"
#include "store/store.h"

/* Whether monitor i of a start-up file should be applied: a file applied at
 * every start must not undo what was changed since through the dashboard or
 * the API.  So it is applied when the monitor is absent, or when the file was
 * modified after the stored monitor was last changed (the newer one wins);
 * standard input is always applied. */
static bool file_is_newer(const char *cmd, struct cmon_server *srv, const char *path,
                          const char *name, const char *text, const struct cmon_log *log)
{
    struct stat st;
    bool exists = false, same = false;
    int64_t updated_ns = 0;
    struct cmon_errbuf eb = {{0}};
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 ||
        cmon_server_monitor_stat(srv, name, text, &exists, &updated_ns, &same, &eb) != CMON_OK ||
        !exists)
        return true;
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * CMON_NS_PER_SEC + st.st_mtim.tv_nsec;
    if (same)
        return false;
    if (updated_ns > mtime_ns) {
        cmon_warn(log, "monitor changed after its file; keeping the change",
                  "monitor=%s file=%s hint=\"cmon monitor apply %s replaces it\"", name, path,
                  path);
        fprintf(stderr,
                "cmon %s: %s: monitor %s was changed (dashboard or API) after the file was; "
                "keeping that version (cmon monitor apply %s replaces it)\n",
                cmd, path, name, path);
        return false;
    }
    return true;
}

static int apply_file(const char *cmd, struct cmon_server *srv, const char *path,
                      const struct cmon_log *log)
{
    struct cli_monitor_doc d;
    int rc = cli_monitor_doc_load(cmd, path, &d);
    for (size_t i = 0; rc == CLI_EXIT_OK && i < d.n; i++) {
        if (!file_is_newer(cmd, srv, path, d.names[i], d.texts[i], log))
            continue;
        struct cmon_problems probs = {0};
        struct cmon_errbuf eb = {{0}};
        bool created = false;
        enum cmon_err e = cmon_server_apply_monitor(srv, d.names[i], NULL, d.texts[i], d.lens[i],
                                                    &created, &probs, &eb);
        for (size_t k = 0; k < probs.n; k++) {
            char line[1024];
            cmon_problem_format(&probs.items[k], path, line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        if (e && !probs.n)
            fprintf(stderr, "cmon %s: %s: monitor %s: %s\n", cmd, path, d.names[i], eb.msg);
        if (!e)
            cmon_info(log, "monitor applied", "file=%s monitor=%s created=%s", path, d.names[i],
                      created ? "true" : "false");
        cmon_problems_free(&probs);
        rc = e ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    }
    cli_monitor_doc_free(&d);
    return rc;
}

/* postgres://user:secret@host/db -> postgres://user:***@host/db, for logs. */
static void redact_url_password(const char *url, char *out, size_t cap)
{
    snprintf(out, cap, "%s", url);
    char *scheme = strstr(out, "://");
    char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (!at || !colon || colon > at)
        return;
    char rest[1024];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(colon, cap - (size_t)(colon - out), ":***%s", rest);
}

static enum cmon_err start_agent(const char *cmd, struct embedded_agent *a, struct cmon_server *srv,
                                 const struct cmon_server_opts *opts, unsigned loops)
{
    struct cmon_errbuf eb;
    struct embedded_agent_opts eo = {.store_url = opts->store_url,
                                     .name = opts->embedded_agent,
                                     .alias = opts->embedded_alias,
                                     .address = opts->embedded_address,
                                     .trace_interval_ns = opts->trace_interval_ns,
                                     .loops = loops,
                                     .log = opts->log};
    enum cmon_err err = embedded_agent_start(a, srv, &eo, &eb);
    if (err) {
        fprintf(stderr, "cmon %s: the embedded agent cannot start: %s\n", cmd, eb.msg);
        return err;
    }
    cmon_info(opts->log, "embedded agent started", "agent=%s alias=%s", opts->embedded_agent,
              opts->embedded_alias);
    return CMON_OK;
}

/* A server that starts with tokens in a SQLite store keeps an admin token for
 * its local user (local_token.c), also when the first token was made through
 * the API while it ran open. */
static void ensure_local_token(const struct cmon_server_opts *o)
{
    const char *url = o->store_url ? o->store_url : STORE_DEFAULT_URL;
    char path[1100];
    struct stat st;
    if (!cli_local_token_path(url, path, sizeof path) || stat(path, &st) == 0)
        return;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (stat(dir, &st) != 0) /* a new data directory: no tokens yet */
        return;
    struct store *s = NULL;
    struct cmon_errbuf eb = {{0}};
    size_t n = 0;
    bool made = false;
    enum cmon_err err = store_open(url, STORE_READ_WRITE, &s, &eb);
    if (!err)
        err = s->ops->token_count(s, &n, &eb);
    if (!err && n > 0)
        err = cli_local_token_ensure(s, url, path, sizeof path, &made, &eb);
    store_close(s);
    if (err)
        cmon_warn(o->log, "no local admin token", "file=%s err=%s", path, eb.msg);
    else if (made)
        cmon_info(o->log, "local admin token written", "file=%s", path);
}

#define SERVE_MMAP_THRESHOLD (128 * 1024) /* glibc's own starting value */
#define SERVE_TRIM_SEC 60

int cli_serve(const char *cmd, struct cmon_server_opts *opts, char **files, int n_files,
              bool with_agent, unsigned agent_loops)
{
    /* Block the stop signals before any thread starts, so every thread
     * inherits the mask and only sigtimedwait() below sees them. */
    /* A shell starts background jobs with SIGINT ignored; a server must
     * still stop on it, so take the default disposition back first. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* glibc raises its mmap threshold each time a large block is freed (a
     * /metrics page, a batch body), and from then on such blocks come from
     * the threads' malloc arenas, where freed ones stay resident: with 4 HTTP
     * threads, 500 agents left each pool thread's arena ~30 MiB mapped with
     * under 1 MiB in use (bench/RESULTS.md, Fleet).  A fixed threshold
     * (which also turns off the raising) keeps large blocks in mmap,
     * returned to the system when freed. */
    mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
    /* the embedded agent is named after the host; the server lists it */
    char host[128] = "local";
    struct embedded_agent *agent = NULL;
    char *addresses = NULL; /* owned here, freed at the end */
    if (with_agent) {
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "local");
        opts->embedded_agent = host;
        opts->embedded_alias = "local";
        /* its addresses as the server shows and matches them (sources) */
        json_t *addr = agent_addresses(opts->embedded_address);
        addresses = addr ? json_dumps(addr, JSON_COMPACT) : NULL;
        json_decref(addr);
        opts->embedded_addresses = addresses;
        /* before the server: a monitor written from now on wakes it */
        if (!(agent = embedded_agent_new())) {
            fprintf(stderr, "cmon %s: out of memory\n", cmd);
            free(addresses);
            return CLI_EXIT_FAILED;
        }
        opts->on_monitors_changed = embedded_agent_changed;
        opts->monitors_changed_arg = agent;
    }
    ensure_local_token(opts);
    struct cmon_server *srv = NULL;
    struct cmon_errbuf eb;
    if (cmon_server_start(opts, &srv, &eb) != CMON_OK) {
        fprintf(stderr, "cmon %s: %s\n", cmd, eb.msg);
        embedded_agent_free(agent);
        free(addresses);
        return CLI_EXIT_FAILED;
    }
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n_files && rc == CLI_EXIT_OK; i++)
        rc = apply_file(cmd, srv, files[i], opts->log);
    if (rc == CLI_EXIT_OK && agent && start_agent(cmd, agent, srv, opts, agent_loops) != CMON_OK)
        rc = CLI_EXIT_FAILED;
    if (rc != CLI_EXIT_OK) {
        embedded_agent_stop(agent); /* before the server it calls into */
        cmon_server_stop(srv);
        embedded_agent_free(agent); /* after: the server may still notify it */
        free(addresses);
        return rc;
    }
    char store[1024];
    redact_url_password(opts->store_url, store, sizeof store);
    cmon_info(opts->log, "listening", "url=%s store=%s auth=%s", cmon_server_url(srv), store,
              cmon_server_auth_required(srv) ? "tokens" : "open");
    printf("cmon %s: serving %s (store %s)\n", cmd, cmon_server_url(srv), store);
    if (!cmon_server_auth_required(srv))
        printf("cmon %s: no tokens exist and the address is loopback: running open (anyone on "
               "this host has admin access; create a token with 'cmon token create')\n",
               cmd);
    fflush(stdout);
    /* Once a minute the threads' freed memory goes back to the system:
     * malloc returns free pages inside its arenas only when asked. */
    struct timespec trim_every = {SERVE_TRIM_SEC, 0};
    int sig;
    while ((sig = sigtimedwait(&stop, NULL, &trim_every)) < 0)
        malloc_trim(0);
    cmon_info(opts->log, "stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    embedded_agent_stop(agent);
    cmon_server_stop(srv);
    embedded_agent_free(agent);
    free(addresses);
    cmon_info(opts->log, "stopped", "clean=%s", "true");
    return CLI_EXIT_OK;
}

/* "30d", "12h", "30" (days) -> ns; 0 when bad. */
static int64_t parse_retention(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t unit = 86400 * CMON_NS_PER_SEC;
    if (*end == 'h' && !end[1])
        unit = 3600 * CMON_NS_PER_SEC;
    else if (*end && !(*end == 'd' && !end[1]))
        return 0;
    return v > 0 && v < 100000 ? v * unit : 0;
}

/* A whole number lo..hi in *v; false when arg is anything else. */
static bool in_range(const char *arg, long lo, long hi, long *v)
{
    char *end;
    *v = strtol(arg, &end, 10);
    return *arg && !*end && *v >= lo && *v <= hi;
}

int cli_threads_option(const struct cli_command *self, const char *arg, unsigned *loops)
{
    long v;
    if (!in_range(arg, 1, AGENT_MAX_LOOPS, &v))
        return cli_usage_error(self, "--threads wants 1..%d probe loops", AGENT_MAX_LOOPS);
    *loops = (unsigned)v;
    return 0;
}

/* Options common to `server` and `run`; returns 0 or an exit code (-2: done). */
int cli_server_option(const struct cli_command *self, int c, const char *arg,
                      struct cmon_server_opts *o, struct cmon_log *log)
{
    enum cmon_log_level lvl;
    long v;
    switch (c) {
    case 'l':
        o->listen = arg;
        return 0;
    case 'r':
        o->retention_ns = parse_retention(arg);
        return o->retention_ns ? 0 : cli_usage_error(self, "--retention wants days, e.g. 30d");
    case 'L':
        if (cmon_log_level_parse(arg, &lvl) != 0)
            return cli_usage_error(self, "--log-level wants debug, info, warn or error");
        log->min_level = lvl;
        return 0;
    case 'C':
        o->tls_cert = arg;
        return 0;
    case 'K':
        o->tls_key = arg;
        return 0;
    case 'M':
        if (!in_range(arg, 1, 100000, &v))
            return cli_usage_error(self, "--max-monitors wants 1..100000");
        o->max_monitors = (size_t)v;
        return 0;
    case CLI_OPT_ALLOWED_HOST:
        if (o->n_allowed_hosts == CMON_MAX_ALLOWED_HOSTS)
            return cli_usage_error(self, "at most %d --allowed-host", CMON_MAX_ALLOWED_HOSTS);
        o->allowed_hosts[o->n_allowed_hosts++] = arg;
        return 0;
    case CLI_OPT_ALLOW_EXEC:
        o->allow_exec = true;
        return 0;
    case CLI_OPT_CONNS_PER_IP:
        if (!in_range(arg, 1, 65536, &v))
            return cli_usage_error(self, "--max-conns-per-ip wants 1..65536");
        o->max_conns_per_ip = (unsigned)v;
        return 0;
    case CLI_OPT_HTTP_THREADS:
        if (!in_range(arg, 1, 64, &v))
            return cli_usage_error(self, "--http-threads wants 1..64");
        o->threads = (unsigned)v;
        return 0;
    case CLI_OPT_AGENT_BATCH_MS:
        if (!in_range(arg, 100, 60000, &v))
            return cli_usage_error(self, "--agent-batch-ms wants 100..60000 ms");
        o->agent_batch_ms = (int)v;
        return 0;
    case CLI_OPT_WRITE_QUEUE:
        if (!in_range(arg, 1, 10000000, &v))
            return cli_usage_error(self, "--write-queue wants 1..10000000 results");
        o->queue_results = (size_t)v;
        return 0;
    case 'B':
        if (!in_range(arg, 4096, 64L << 20, &v))
            return cli_usage_error(self, "--max-body wants bytes, 4096..67108864");
        o->max_body = (size_t)v;
        return 0;
    default:
        return -1;
    }
}

static int server_run(const struct cli_command *self, int argc, char **argv)
{
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"store", required_argument, NULL, 's'},
                                             {"retention", required_argument, NULL, 'r'},
                                             {"log-level", required_argument, NULL, 'L'},
                                             {"max-monitors", required_argument, NULL, 'M'},
                                             {"max-body", required_argument, NULL, 'B'},
                                             {"tls-cert", required_argument, NULL, 'C'},
                                             {"tls-key", required_argument, NULL, 'K'},
                                             CLI_SERVER_EDGE_OPTIONS,
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    struct cmon_log log;
    cmon_log_init(&log, CMON_LOG_INFO, 2, "server");
    struct cmon_server_opts o = {
        .listen = "127.0.0.1:8080", .store_url = STORE_DEFAULT_URL, .log = &log};
    int c, rc;
    while ((c = cli_getopt(self, argc, argv, "hl:s:r:L:M:", longopts, &rc)) != -1) {
        if (c == -2)
            return rc;
        if (c == 's') {
            o.store_url = optarg;
            continue;
        }
        if ((rc = cli_server_option(self, c, optarg, &o, &log)) != 0)
            return rc < 0 ? cli_usage_error(self, "unexpected option") : rc;
    }
    if (optind < argc)
        return cli_usage_error(self, "unexpected argument '%s'", argv[optind]);
    return cli_serve(self->name, &o, NULL, 0, false, 0);
}

const struct cli_command cmd_server = {
    .name = "server",
    .summary = "run the server: API, result ingest, state evaluation, /metrics",
    .usage = "usage: cmon server [--listen ADDR] [--store URL] [--retention DAYS]\n"
             "                   [--tls-cert FILE --tls-key FILE] [--max-monitors N]\n"
             "                   [--allowed-host NAME]... [--allow-exec-actions]\n"
             "                   [--max-conns-per-ip N] [--http-threads N] [--write-queue N]\n"
             "                   [--agent-batch-ms MS] [--max-body BYTES]\n"
             "                   [--log-level LEVEL]\n"
             "\n"
             "Run the cmon server alone: the REST API (/api/v1), the agent protocol, the\n"
             "state evaluator, retention and Prometheus /metrics.  Agents run elsewhere\n"
             "('cmon agent'); for everything in one process use 'cmon run'.\n"
             "\n"
             "Options:\n"
             "  -l, --listen ADDR      address and port to serve on (default 127.0.0.1:8080);\n"
             "                         IPv6 as [::1]:8080.  A non-loopback address refuses to\n"
             "                         start until a token exists ('cmon token create').\n"
             "  -s, --store URL        where data lives: sqlite:PATH (default\n"
             "                         sqlite:./cmon-data/cmon.db; directories are created).\n"
             "                         or postgres://USER@HOST/DB (PostgreSQL, a libpq URI):\n"
             "                         several servers may share one database; background\n"
             "                         jobs run on the one holding an advisory lock.\n"
             "  -r, --retention DAYS   keep raw round results this long (default 30d); the\n"
             "                         1-minute and 1-hour roll-ups are kept until deleted.\n"
             "      --tls-cert FILE    serve HTTPS (TLS 1.2+, forward-secret suites only) with\n"
             "                         this PEM certificate (chain) ...\n"
             "      --tls-key FILE     ... and this PEM private key (both or neither)\n"
             "  -M, --max-monitors N   connection monitors this server accepts (default "
             "100)\n" CLI_SERVER_EDGE_HELP
             "      --max-body BYTES   request body limit (default 1048576); agents are told\n"
             "                         it and cut their result batches below it\n"
             "      --log-level LEVEL  debug, info (default), warn or error\n"
             "  -h, --help             show this help\n"
             "\n"
             "Authentication: with no token in the store and a loopback address the server\n"
             "runs open and says so; open, it serves only same-origin local use: a loopback\n"
             "(or --allowed-host) Host header, and on writes a JSON Content-Type and an\n"
             "Origin, when sent, naming this server.  Once a token exists every request\n"
             "needs 'Authorization: Bearer TOKEN'; roles are reader (GET), admin\n"
             "(everything) and agent (the agent protocol).\n"
             "\n"
             "Limits: connections in total (from the open-file limit, raised to its\n"
             "maximum) and per address, 20 s of idleness, 1 MiB bodies (refused from the\n"
             "Content-Length before authentication reads anything), SQL queries of 2 s.\n"
             "\n"
             "Logs are logfmt lines on stderr.  SIGINT or SIGTERM stops the server\n"
             "gracefully: queued results are committed before it exits.\n"
             "\n"
             "Exit status: 0 after a clean stop, 1 when the server cannot start (address in\n"
             "use, store unusable or newer than this cmon, no tokens on a public address),\n"
             "2 on a usage error.\n",
    .run = server_run,
};
