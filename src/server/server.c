/* server.c: starting and stopping the server (the writer thread first, whose
 * connection runs the store's migrations, then the HTTP daemon), the listen-address
 * and open-mode rules of DESIGN 9, and the two entry points other modules use:
 * applying a monitor and submitting the embedded agent's rounds. */
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/nofile.h"
#include "server/alerts.h"
#include "server/assign_cache.h"
#include "server/server_internal.h"

#define MHD_LOG_EVERY_NS (10 * CMON_NS_PER_SEC)

/* MHD's own errors ("Server reached connection limit", per-IP refusals,
 * TLS handshakes): a flood makes one per connection, so at most one line per
 * 10 s with the count of those held back since the last.  MHD hands us its
 * own printf format; the attribute tells clang's -Wformat-nonliteral that fmt
 * is checked at MHD's call sites, not here. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct cmon_server *srv = cls;
    int64_t now = cmon_mono_ns();
    pthread_mutex_lock(&srv->log_mu);
    bool quiet = srv->log_last_ns && now - srv->log_last_ns < MHD_LOG_EVERY_NS;
    unsigned long held = srv->log_suppressed;
    srv->log_suppressed = quiet ? held + 1 : 0;
    if (!quiet)
        srv->log_last_ns = now;
    pthread_mutex_unlock(&srv->log_mu);
    if (quiet)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    cmon_warn(srv->opts.log, "http", "detail=%s suppressed=%lu", msg, held);
}

/* Every connection is a descriptor: take the hard limit, and leave room for
 * the store, the embedded agent's probes and the alert senders. */
#define FD_HEADROOM 512
#define CONN_LIMIT_MAX 65536

static size_t raise_nofile(const struct cmon_log *log)
{
    uint64_t nofile = cmon_nofile_raise();
    if (nofile < 2 * FD_HEADROOM)
        cmon_warn(log, "few file descriptors", "nofile=%llu", (unsigned long long)nofile);
    uint64_t n = cmon_fd_budget(nofile, FD_HEADROOM);
    return n < CONN_LIMIT_MAX ? (size_t)n : CONN_LIMIT_MAX;
}

static char *read_pem(const char *path, struct cmon_errbuf *eb)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    if (f) {
        buf = calloc(1, 1 << 20);
        len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
    }
    if (!buf || !len) {
        free(buf);
        cmon_fail(eb, CMON_ERR_IO, "cannot read %s", path);
        return NULL;
    }
    return buf;
}

/* --tls-cert/--tls-key: both or neither; read them for MHD. */
static enum cmon_err load_tls(struct cmon_server *srv, struct cmon_errbuf *eb)
{
    const struct cmon_server_opts *o = &srv->opts;
    if (!o->tls_cert && !o->tls_key)
        return CMON_OK;
    if (!o->tls_cert || !o->tls_key)
        return cmon_fail(eb, CMON_ERR_INVALID, "TLS needs both a certificate and a key");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return cmon_fail(eb, CMON_ERR_UNSUPPORTED, "this libmicrohttpd has no TLS support");
    srv->tls_cert_pem = read_pem(o->tls_cert, eb);
    srv->tls_key_pem = srv->tls_cert_pem ? read_pem(o->tls_key, eb) : NULL;
    return srv->tls_key_pem ? CMON_OK : CMON_ERR_IO;
}

/* TLS 1.2 and 1.3 with forward-secret key exchange only (DESIGN 9). */
#define TLS_PRIORITIES                                                                             \
    "SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-VERS-SSL3.0:-ARCFOUR-128:"     \
    "-3DES-CBC:%SERVER_PRECEDENCE"

/* Limits against connection floods: idle and slow clients time out, a held
 * connection costs a small memory pool, one address cannot take them all. */
#define CONN_TIMEOUT_SEC 20u
#define CONN_MEMORY 16384

static unsigned http_flags(const struct cmon_listen *la, bool tls)
{
    /* epoll: no FD_SETSIZE cap on descriptors and O(1) per idle connection */
    unsigned flags = MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
                         ? MHD_USE_EPOLL_INTERNAL_THREAD
                         : MHD_USE_AUTO_INTERNAL_THREAD;
    /* writes suspend their connection until the writer answers (http.c);
     * it brings MHD_USE_ITC, which wakes a pool thread on a resume */
    flags |= MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (la->sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (tls)
        flags |= MHD_USE_TLS;
    return flags;
}

static enum cmon_err start_http(struct cmon_server *srv, const struct cmon_listen *la,
                                struct cmon_errbuf *eb)
{
    bool tls = srv->tls_cert_pem != NULL;
    srv->conn_limit = raise_nofile(srv->opts.log);
    enum cmon_err err = edge_reaper_start(srv->opts.log, &srv->reaper, eb);
    if (err)
        return err;
    srv->mhd = MHD_start_daemon(
        http_flags(la, tls), (uint16_t)la->port, NULL, NULL, http_access, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&la->sa, MHD_OPTION_THREAD_POOL_SIZE, srv->opts.threads,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, srv, MHD_OPTION_NOTIFY_CONNECTION,
        edge_reaper_notify, srv->reaper, MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_SEC, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)srv->conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->opts.max_conns_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key_pem, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
        MHD_OPTION_END);
    if (!srv->mhd)
        return cmon_fail(eb, CMON_ERR_IO, "cannot listen on %s (address in use or not local?)",
                         srv->opts.listen);
    cmon_info(srv->opts.log, "http limits",
              "max_conns=%zu max_conns_per_ip=%u idle_timeout_s=%u header_deadline_s=%d",
              srv->conn_limit, srv->opts.max_conns_per_ip, CONN_TIMEOUT_SEC,
              EDGE_HEADER_DEADLINE_SEC);
    return CMON_OK;
}

static void set_defaults(struct cmon_server_opts *o)
{
    if (!o->retention_ns)
        o->retention_ns = (int64_t)STORE_DEFAULT_RETENTION_DAYS * 86400 * CMON_NS_PER_SEC;
    /* No pool thread waits for the writer: a write suspends its connection
     * until the writer answers (http.c), so a pool thread only computes
     * (parsing, authentication, reads).  MHD binds each connection to one
     * pool thread whose event loop serves all of them, so what stalls a
     * thread's connections now is a long read (a /metrics scrape, a SQL
     * query), not an agent's commit: 4 threads on this 2-core target leave
     * 3 when one is in a long read, and each thread more costs a stack and
     * a malloc arena of RSS.  (With waiting writes, 4 threads stalled 500
     * agents' acks 30x and needed 16: bench/RESULTS.md, Fleet.) */
    if (!o->threads)
        o->threads = 4;
    if (!o->max_body)
        o->max_body = 1 << 20;
    if (!o->max_monitors)
        o->max_monitors = 100;
    if (!o->eval_interval_ms)
        o->eval_interval_ms = 5000;
    if (!o->store_url)
        o->store_url = STORE_DEFAULT_URL;
    if (!o->max_conns_per_ip)
        o->max_conns_per_ip = 256;
}

/* Open mode only on loopback without tokens (DESIGN 9). */
static enum cmon_err check_auth_mode(struct cmon_server *srv, const struct cmon_listen *la,
                                     struct cmon_errbuf *eb)
{
    size_t tokens = 0;
    struct store *ro = server_ro_take(srv, eb);
    enum cmon_err err = ro ? ro->ops->token_count(ro, &tokens, eb) : CMON_ERR_STORE;
    if (ro)
        server_ro_give(srv, ro);
    if (err)
        return err;
    if (tokens == 0 && !la->loopback)
        return cmon_fail(eb, CMON_ERR_PERM,
                         "refusing to listen on %s without tokens: create one with "
                         "'cmon token create --role admin --store %s', or listen on 127.0.0.1",
                         srv->opts.listen, srv->store_url);
    atomic_store(&srv->auth_required, tokens > 0);
    return CMON_OK;
}

/* cmon creates its data directory 0700 and the database 0600; a directory
 * made by someone else may let others list it (or read files a future
 * umask leaves open): say so once at start. */
static void warn_open_data_dir(const struct cmon_server *srv)
{
    const char *path = srv->store_url;
    if (strncmp(path, "sqlite:", 7) != 0)
        return;
    path += strncmp(path + 7, "//", 2) == 0 ? 9 : 7;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    struct stat st;
    if (stat(slash ? (dir[0] ? dir : "/") : ".", &st) == 0 && (st.st_mode & 077))
        cmon_warn(srv->opts.log, "the data directory is open to other users",
                  "dir=%s mode=%04o "
                  "hint=\"chmod 700 it: the database holds secrets\"",
                  slash ? dir : ".", (unsigned)(st.st_mode & 07777));
}

static enum cmon_err start_writer(struct cmon_server *srv, struct cmon_errbuf *eb)
{
    char gen[200]; /* Alertmanager's link back: the dashboard's alerts */
    const char *l = srv->opts.listen;
    snprintf(gen, sizeof gen, "%s://%s%s/", srv->opts.tls_cert ? "https" : "http",
             l[0] == ':' ? "localhost" : "", l);
    enum cmon_err err = server_alerts_start(gen, srv->opts.retention_ns, srv->opts.allow_exec,
                                            srv->opts.log, &srv->opts, &srv->alerts, eb);
    struct writer_opts wo = {
        .store_url = srv->store_url,
        .max_queued_results = srv->opts.queue_results,
        .eval_interval_ms = srv->opts.eval_interval_ms,
        .retention_ns = srv->opts.retention_ns,
        .alerts = srv->alerts,
        .now_ns = srv->opts.now_ns,
        .clock_ctx = srv->opts.clock_ctx,
        .log = srv->opts.log,
    };
    return err ? err : writer_start(&wo, &srv->writer, eb);
}

static enum cmon_err server_init(struct cmon_server *srv, struct cmon_errbuf *eb)
{
    struct cmon_listen la = {0};
    enum cmon_err err = cmon_listen_parse(srv->opts.listen, &la, eb);
    if (!err) /* the writer's connection runs the migrations before any reader opens */
        err = start_writer(srv, eb);
    if (!err)
        err = check_auth_mode(srv, &la, eb);
    if (!err)
        warn_open_data_dir(srv);
    if (!err)
        err = load_tls(srv, eb);
    if (!err)
        err = start_http(srv, &la, eb);
    if (err)
        return err;
    bool v6 = la.sa.ss_family == AF_INET6;
    snprintf(srv->url, sizeof srv->url, "%s://%s%s%s:%d", srv->tls_cert_pem ? "https" : "http",
             v6 ? "[" : "", la.host[0] ? la.host : "0.0.0.0", v6 ? "]" : "", la.port);
    atomic_store(&srv->ready, true);
    return CMON_OK;
}

enum cmon_err cmon_server_start(const struct cmon_server_opts *opts, struct cmon_server **out,
                                struct cmon_errbuf *eb)
{
    struct cmon_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    srv->opts = *opts;
    set_defaults(&srv->opts);
    snprintf(srv->store_url, sizeof srv->store_url, "%s", srv->opts.store_url);
    srv->opts.store_url = srv->store_url;
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_mutex_init(&srv->log_mu, NULL);
    srv->ro_cap = srv->opts.threads; /* at most one busy request per thread */
    srv->ro_pool = calloc(srv->ro_cap, sizeof *srv->ro_pool);
    srv->assign = assign_cache_new();
    enum cmon_err err = srv->ro_pool && srv->assign
                            ? server_init(srv, eb)
                            : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        cmon_server_stop(srv);
        return err;
    }
    *out = srv;
    return CMON_OK;
}

void cmon_server_stop(struct cmon_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->ready, false);
    edge_reaper_stop(srv->reaper); /* before MHD frees the connections it tracks */
    writer_close(srv->writer);     /* every suspended connection resumed (writer.h) */
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    edge_reaper_free(srv->reaper);
    writer_stop(srv->writer);        /* executes what is queued */
    server_alerts_stop(srv->alerts); /* after the writer: it ticks the alerts */
    for (size_t i = 0; i < srv->ro_n; i++)
        store_close(srv->ro_pool[i]);
    free(srv->ro_pool);
    assign_cache_free(srv->assign);
    free(srv->tls_cert_pem);
    free(srv->tls_key_pem);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_mutex_destroy(&srv->log_mu);
    free(srv);
}

const char *cmon_server_url(const struct cmon_server *srv)
{
    return srv->url;
}

void server_require_tokens(struct cmon_server *srv, const char *why)
{
    if (!atomic_exchange(&srv->auth_required, true))
        cmon_warn(srv->opts.log, "leaving open mode: every request needs a token now",
                  "why=%s hint=\"cmon on this machine uses the admin token of its data "
                  "directory (admin.token); the dashboard asks for one\"",
                  why);
}

bool cmon_server_auth_required(const struct cmon_server *srv)
{
    return atomic_load(&((struct cmon_server *)srv)->auth_required);
}

void cmon_server_embedded_seen(struct cmon_server *srv, int64_t wall_ns)
{
    atomic_store(&srv->embedded_seen_ns, wall_ns);
}

enum cmon_err cmon_server_submit_rounds(struct cmon_server *srv, const char *agent,
                                        const struct cmon_round_result *results, size_t n,
                                        struct cmon_errbuf *eb)
{
    struct writer_batch b = {.agent = agent, .seq = -1, .results = results, .n = n};
    return writer_results_async(srv->writer, &b, eb);
}

enum cmon_err cmon_server_submit_paths(struct cmon_server *srv, const char *agent,
                                       const struct cmon_path_report *paths, size_t n,
                                       struct cmon_errbuf *eb)
{
    struct writer_batch b = {.agent = agent, .seq = -1, .paths = paths, .n_paths = n};
    return writer_results_async(srv->writer, &b, eb);
}

enum cmon_err cmon_server_tick(struct cmon_server *srv, struct cmon_errbuf *eb)
{
    return writer_tick(srv->writer, writer_deadline(WRITE_DEADLINE_MS), eb);
}

int64_t server_now(const struct cmon_server *srv)
{
    return writer_now(srv->writer);
}

enum cmon_err server_write(struct cmon_server *srv, writer_fn fn, void *arg,
                           struct cmon_errbuf *eb)
{
    return writer_call(srv->writer, fn, arg, writer_deadline(WRITE_DEADLINE_MS), eb);
}

void server_monitors_changed(struct cmon_server *srv)
{
    if (srv->opts.on_monitors_changed)
        srv->opts.on_monitors_changed(srv->opts.monitors_changed_arg);
}

enum cmon_err server_eval_monitor(struct store *s, const char *name, int64_t now_ns,
                                  struct cmon_errbuf *eb)
{
    struct store_test_filter f = {.monitor = name};
    return eval_tests(s, &f, now_ns, NULL, eb);
}
