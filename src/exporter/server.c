/* server.c: the exporter's HTTP side (see exporter.h) -- listen address,
 * libmicrohttpd daemon, the route table, /probe, /metrics, /-/reload, and the
 * reference-counted configuration that reloads swap. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "exporter/answer.h"
#include "exporter/exporter_internal.h"

/* ---- configuration ------------------------------------------------------ */

struct exp_cfg_ref *exp_cfg_acquire(struct exp_server *s)
{
    pthread_mutex_lock(&s->mu);
    struct exp_cfg_ref *c = s->cfg;
    c->refs++;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void exp_cfg_release(struct exp_server *s, struct exp_cfg_ref *c)
{
    pthread_mutex_lock(&s->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) {
        exp_config_free(&c->cfg);
        free(c);
    }
}

enum cmon_err exp_server_reload(struct exp_server *s, struct cmon_errbuf *eb)
{
    struct exp_cfg_ref *c = calloc(1, sizeof *c);
    enum cmon_err e = c ? exp_config_load(s->opts.config_path, &c->cfg, eb)
                        : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&s->mu);
    struct exp_cfg_ref *old = NULL;
    s->reload_ok = e == CMON_OK;
    if (e == CMON_OK) {
        c->refs = 1;
        old = s->cfg;
        s->cfg = c;
        s->reload_wall_ns = cmon_wall_ns();
        s->reload_error[0] = '\0';
    } else {
        snprintf(s->reload_error, sizeof s->reload_error, "%s", eb->msg);
    }
    size_t n = s->cfg ? s->cfg->cfg.n_modules : 0;
    bool have = s->cfg != NULL;
    pthread_mutex_unlock(&s->mu);
    if (old)
        exp_cfg_release(s, old);
    if (e == CMON_OK)
        cmon_info(s->opts.log, "configuration loaded", "file=%s modules=%zu",
                  s->opts.config_path, n);
    else if (have) /* at start there is none to keep: the caller reports it */
        cmon_error(s->opts.log, "configuration not loaded, keeping the current one", "error=%s",
                   eb->msg);
    free(e ? c : NULL);
    return e;
}

/* ---- replies ----------------------------------------------------------- */

enum MHD_Result exp_reply(struct MHD_Connection *conn, unsigned status, const char *type,
                          char *body)
{
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A built answer (taken over); out of memory drops the connection. */
static enum MHD_Result reply_buf(struct MHD_Connection *conn, const char *type,
                                 struct cmon_buf *out)
{
    if (out->oom) {
        cmon_buf_free(out);
        return MHD_NO;
    }
    return exp_reply(conn, MHD_HTTP_OK, type, cmon_buf_take(out));
}

#define PROM_TEXT "text/plain; version=0.0.4; charset=utf-8"

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return exp_reply(conn, status, "text/plain; charset=utf-8", strdup(text));
}

/* ---- /probe -------------------------------------------------------------- */

static void count_probe(struct exp_server *s, const struct exp_module *m, const char *target,
                        const struct exp_job *job, bool ok)
{
    pthread_mutex_lock(&s->mu);
    struct exp_stats *st = &s->stats[m->prober];
    st->probes[ok]++;
    st->seconds += job->duration_s;
    struct exp_recent *r = &s->recent[s->recent_next];
    s->recent_next = (s->recent_next + 1) % EXP_RECENT;
    if (s->n_recent < EXP_RECENT)
        s->n_recent++;
    snprintf(r->module, sizeof r->module, "%s", m->name);
    snprintf(r->target, sizeof r->target, "%s", target);
    snprintf(r->diag, sizeof r->diag, "%s", cmon_diag_code(job->res.diag));
    snprintf(r->detail, sizeof r->detail, "%s", job->res.detail);
    r->ok = ok;
    r->duration_s = job->duration_s;
    r->wall_ns = cmon_wall_ns();
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result run_probe(struct exp_server *s, struct MHD_Connection *conn,
                                 const struct exp_module *m, const char *target)
{
    const char *hdr =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Prometheus-Scrape-Timeout-Seconds");
    uint32_t timeout_ms;
    if (!exp_timeout_ms(hdr, m->timeout_ms, 0.5, &timeout_ms))
        return reply_text(conn, MHD_HTTP_BAD_REQUEST,
                          "Failed to parse timeout from Prometheus header\n");
    struct exp_job *job = calloc(1, sizeof *job);
    struct cmon_errbuf eb = {{0}};
    if (!job)
        return MHD_NO;
    if (exp_job_prepare(m, target, timeout_ms, job, &eb) != CMON_OK) {
        exp_job_free(job);
        char msg[700];
        snprintf(msg, sizeof msg, "Invalid target for module %s: %s\n", m->name, eb.msg);
        return reply_text(conn, MHD_HTTP_BAD_REQUEST, msg);
    }
    enum cmon_err e = exp_runner_run(s->runner, job);
    if (e == CMON_ERR_TIMEOUT) /* the runner owns the job now */
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "The probe loop did not answer\n");
    if (e != CMON_OK) {
        exp_job_free(job);
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "The exporter is stopping\n");
    }
    struct cmon_buf out;
    cmon_buf_init(&out);
    bool ok = false;
    exp_answer_render(m, job, &out, &ok);
    count_probe(s, m, target, job, ok);
    cmon_debug(s->opts.log, "probe", "module=%s target=%s success=%d diagnostic=%s", m->name,
               target, ok, cmon_diag_code(job->res.diag));
    exp_job_free(job);
    return reply_buf(conn, PROM_TEXT, &out);
}

static enum MHD_Result route_probe(struct exp_server *s, struct MHD_Connection *conn)
{
    const char *target = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "target");
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "module");
    if (!name || !*name)
        name = "http_2xx"; /* blackbox's default module */
    if (!target || !*target)
        return reply_text(conn, MHD_HTTP_BAD_REQUEST, "Target parameter is missing\n");
    struct exp_cfg_ref *c = exp_cfg_acquire(s);
    const struct exp_module *m = exp_config_module(&c->cfg, name);
    enum MHD_Result ret;
    if (!m) {
        pthread_mutex_lock(&s->mu);
        s->unknown_module++;
        pthread_mutex_unlock(&s->mu);
        char msg[300];
        snprintf(msg, sizeof msg, "Unknown module \"%.200s\"\n", name);
        ret = reply_text(conn, MHD_HTTP_BAD_REQUEST, msg);
    } else {
        ret = run_probe(s, conn, m, target);
    }
    exp_cfg_release(s, c);
    return ret;
}

/* ---- /metrics, /-/reload -------------------------------------------------- */

static enum MHD_Result route_metrics(struct exp_server *s, struct MHD_Connection *conn)
{
    struct cmon_buf out;
    cmon_buf_init(&out);
    pthread_mutex_lock(&s->mu);
    exp_render_own_metrics(s, &out);
    pthread_mutex_unlock(&s->mu);
    return reply_buf(conn, PROM_TEXT, &out);
}

static enum MHD_Result route_reload(struct exp_server *s, struct MHD_Connection *conn)
{
    struct cmon_errbuf eb = {{0}};
    if (exp_server_reload(s, &eb) == CMON_OK)
        return reply_text(conn, MHD_HTTP_OK, "OK\n");
    char msg[600];
    snprintf(msg, sizeof msg, "failed to reload config: %s\n", eb.msg);
    return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

static enum MHD_Result route_status(struct exp_server *s, struct MHD_Connection *conn)
{
    struct cmon_buf out;
    cmon_buf_init(&out);
    struct exp_cfg_ref *c = exp_cfg_acquire(s);
    pthread_mutex_lock(&s->mu);
    exp_render_status(s, &c->cfg, &out);
    pthread_mutex_unlock(&s->mu);
    exp_cfg_release(s, c);
    return reply_buf(conn, "text/html; charset=utf-8", &out);
}

struct route {
    const char *path;
    const char *method;
    enum MHD_Result (*fn)(struct exp_server *s, struct MHD_Connection *conn);
};

static const struct route routes[] = {
    {"/probe", "GET", route_probe},
    {"/metrics", "GET", route_metrics},
    {"/-/reload", "POST", route_reload},
    {"/", "GET", route_status},
};

static enum MHD_Result dispatch(struct exp_server *s, struct MHD_Connection *conn, const char *url,
                                const char *method)
{
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(url, routes[i].path) != 0)
            continue;
        if (strcmp(method, routes[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return routes[i].fn(s, conn);
        char msg[96];
        snprintf(msg, sizeof msg, "This endpoint requires a %s request.\n", routes[i].method);
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
    }
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct exp_server *s = cls;
    if (*con_cls == NULL) { /* a new request: counted until its reply is sent */
        *con_cls = s;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    }
    if (*upload_data_size) { /* bodies are not used: drop them */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(cls, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct exp_server *s = cls;
    if (*con_cls == NULL)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
}

/* ---- start / stop ---------------------------------------------------------- */

/* fmt is MHD's own printf format, checked at its call sites. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    cmon_warn((const struct cmon_log *)cls, "http", "detail=%s", msg);
}

static enum cmon_err start_http(struct exp_server *s, struct cmon_errbuf *eb)
{
    struct cmon_listen la; /* ":PORT" (any) listens on IPv4 and IPv6, as blackbox */
    enum cmon_err e = cmon_listen_parse(s->opts.listen, &la, eb);
    if (e)
        return e;
    /* A thread per connection: a /probe handler blocks until its probe
     * ends, and in a thread pool one thread may hold several connections, so
     * a healthy target's scrape could wait behind a dead one's timeout.
     * Small stacks (handlers use little); ITC for MHD_quiesce_daemon. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (la.any)
        flags |= MHD_USE_DUAL_STACK;
    else if (la.sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)la.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        (void *)s->opts.log, MHD_OPTION_CONNECTION_LIMIT, s->opts.threads,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)130, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        la.any ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&la.sa,
        MHD_OPTION_END);
    if (!s->mhd)
        return cmon_fail(eb, CMON_ERR_IO, "cannot listen on %s (address in use or not local?)",
                         s->opts.listen);
    return CMON_OK;
}

enum cmon_err exp_server_start(const struct exp_server_opts *o, struct exp_server **out,
                               struct cmon_errbuf *eb)
{
    struct exp_server *s = calloc(1, sizeof *s);
    if (!s)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    s->opts = *o;
    if (!s->opts.threads)
        s->opts.threads = 128;
    s->start_wall_ns = cmon_wall_ns();
    pthread_mutex_init(&s->mu, NULL);
    enum cmon_err e = exp_server_reload(s, eb);
    if (!e)
        e = exp_runner_start(s->opts.log, &s->runner, eb);
    if (!e)
        e = start_http(s, eb);
    if (e) {
        exp_server_stop(s);
        return e;
    }
    *out = s;
    return CMON_OK;
}

static unsigned active_requests(struct exp_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->active;
    pthread_mutex_unlock(&s->mu);
    return n;
}

#define EXP_STOP_GRACE_SEC 10

void exp_server_stop(struct exp_server *s)
{
    if (!s)
        return;
    /* no new connections; probes in flight are cancelled and answered, and
     * their replies sent (bounded), before the daemon closes connections */
    MHD_socket lsock = s->mhd ? MHD_quiesce_daemon(s->mhd) : MHD_INVALID_SOCKET;
    exp_runner_stop(s->runner);
    /* the replies of cancelled probes are short, but their threads may
     * wait for a core on a busy machine: 10 s on the monotonic clock */
    int64_t until = cmon_mono_ns() + EXP_STOP_GRACE_SEC * CMON_NS_PER_SEC;
    while (s->mhd && active_requests(s) > 0 && cmon_mono_ns() < until)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    exp_runner_free(s->runner);
    if (s->cfg)
        exp_cfg_release(s, s->cfg);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
