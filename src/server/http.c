/* http.c: the request side of the server -- body collection with a size
 * limit, bearer-token authentication and roles (DESIGN 9), the route table,
 * and the reply helpers every handler uses.  Errors are always
 * {"error": {"code", "message", "field"}} with the fitting 4xx/5xx. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "server/http_parse.h"
#include "server/server_internal.h"
#include "server/static.h"

#define API "/api/v1/"

enum MHD_Result reply_text(struct req *r, unsigned status, const char *content_type, char *text,
                           size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) /* overloaded, store busy: try again soon */
        MHD_add_response_header(resp, "Retry-After", "1");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"cmon\"");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->replied = true;
    return ret;
}

enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        text = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n");
        return reply_text(r, 500, "application/json", text, text ? strlen(text) : 0);
    }
    size_t len = strlen(text);
    text[len] = '\0';
    char *nl = realloc(text, len + 2); /* a trailing newline for curl users */
    if (nl) {
        text = nl;
        text[len++] = '\n';
        text[len] = '\0';
    }
    return reply_text(r, status, "application/json", text, len);
}

enum MHD_Result reply_error(struct req *r, unsigned status, const char *code, const char *field,
                            const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s, s:o}", "code", code, "message", msg, "field",
                            field ? json_string(field) : json_null());
    return reply_json(r, status, json_pack("{s:o}", "error", err));
}

enum MHD_Result reply_store_error(struct req *r, enum cmon_err err, const char *msg)
{
    switch (err) {
    case CMON_ERR_NOTFOUND:
        return reply_error(r, 404, "not_found", NULL, "%s", msg);
    case CMON_ERR_INVALID:
    case CMON_ERR_PARSE:
        return reply_error(r, 400, "invalid_request", NULL, "%s", msg);
    case CMON_ERR_LIMIT:
    case CMON_ERR_BUSY:
        return reply_error(r, 503, "overloaded", NULL, "%s", msg);
    case CMON_ERR_TIMEOUT:
        return reply_error(r, 422, "query_timeout", NULL, "%s", msg);
    default:
        cmon_error(r->srv->opts.log, "request failed", "path=%s err=%s", r->path, msg);
        return reply_error(r, 500, "internal", NULL, "%s", msg);
    }
}

const char *req_arg(struct req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct store *server_ro_take(struct cmon_server *srv, struct cmon_errbuf *eb)
{
    struct store *s = NULL;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->ro_n > 0)
        s = srv->ro_pool[--srv->ro_n];
    pthread_mutex_unlock(&srv->pool_mu);
    if (!s && store_open(srv->store_url, STORE_READ_ONLY, &s, eb) != CMON_OK)
        return NULL;
    return s;
}

void server_ro_give(struct cmon_server *srv, struct store *s)
{
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->ro_n < srv->ro_cap) {
        srv->ro_pool[srv->ro_n++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&srv->pool_mu);
    store_close(s);
}

struct store *req_store(struct req *r)
{
    if (r->ro)
        return r->ro;
    struct cmon_errbuf eb;
    r->ro = server_ro_take(r->srv, &eb);
    if (!r->ro)
        reply_error(r, 503, "store_unavailable", NULL, "%s", eb.msg);
    return r->ro;
}

json_t *req_json_body(struct req *r)
{
    json_error_t jerr;
    json_t *j = r->len ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
    if (!r->len) {
        reply_error(r, 400, "invalid_request", NULL, "a JSON body is required");
        return NULL;
    }
    if (!j) {
        reply_error(r, 400, "invalid_json", NULL, "line %d col %d: %s", jerr.line, jerr.column,
                    jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        reply_error(r, 400, "invalid_request", NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

bool req_page(struct req *r, size_t *limit, size_t *offset)
{
    switch (http_parse_page(req_arg(r, "limit"), req_arg(r, "cursor"), limit, offset)) {
    case HTTP_PAGE_BAD_LIMIT:
        reply_error(r, 400, "invalid_parameter", "limit", "limit must be 1..%d", HTTP_PAGE_MAX);
        return false;
    case HTTP_PAGE_BAD_CURSOR:
        reply_error(r, 400, "invalid_parameter", "cursor", "cursor is not one this API gave");
        return false;
    default:
        return true;
    }
}

bool req_time_arg(struct req *r, const char *key, int64_t def, int64_t *out)
{
    const char *v = req_arg(r, key);
    *out = def;
    if (v && cmon_parse_rfc3339(v, out) != 0) {
        reply_error(r, 400, "invalid_parameter", key,
                    "%s must be an RFC 3339 time like 2026-01-02T03:04:05Z", key);
        return false;
    }
    return true;
}

/* ---- writes without a waiting thread (server_internal.h) ---- */

/* r->wstate: who resumes the connection.  The handler suspends after the
 * submit; the writer's done() may come before that (a resume before the
 * suspend would be undefined), so whichever of the two comes second resumes. */
enum { WRITE_PENDING, WRITE_SUSPENDED, WRITE_DONE };

static void req_write_done(void *arg)
{
    struct req *r = arg;
    int expect = WRITE_PENDING;
    if (!atomic_compare_exchange_strong(&r->wstate, &expect, WRITE_DONE))
        MHD_resume_connection(r->conn); /* suspended: r lives until this */
}

struct writer_async req_write_async(struct req *r, int deadline_ms)
{
    atomic_store(&r->wstate, WRITE_PENDING);
    return (struct writer_async){writer_deadline(deadline_ms), req_write_done, r};
}

enum MHD_Result req_write_wait(struct req *r, enum cmon_err err, const char *msg,
                               req_then_fn then)
{
    if (err)
        return then(r, err, false, msg);
    r->then = then;
    if (r->ro) { /* a suspended request holds no store connection */
        server_ro_give(r->srv, r->ro);
        r->ro = NULL;
    }
    MHD_suspend_connection(r->conn);
    int expect = WRITE_PENDING;
    if (!atomic_compare_exchange_strong(&r->wstate, &expect, WRITE_SUSPENDED))
        MHD_resume_connection(r->conn); /* the writer was quicker */
    return MHD_YES;
}

enum MHD_Result req_write_call(struct req *r, writer_fn fn, void *arg, req_then_fn then)
{
    struct cmon_errbuf eb = {{0}};
    struct writer_async a = req_write_async(r, WRITE_DEADLINE_MS);
    enum cmon_err err = writer_call_submit(r->srv->writer, fn, arg, &a, &r->ticket, &eb);
    return req_write_wait(r, err, eb.msg, then);
}

/* MHD calls the handler again after the resume: answer. */
static enum MHD_Result req_write_answer(struct req *r)
{
    struct cmon_errbuf eb = {{0}};
    bool dup = false;
    enum cmon_err err = writer_ticket_result(r->ticket, &dup, &eb);
    req_then_fn then = r->then;
    r->then = NULL;
    writer_ticket_free(r->ticket);
    r->ticket = NULL;
    return then(r, err, dup, eb.msg);
}

void req_hold(struct req *r, void *p, void (*free_fn)(void *))
{
    r->hold = p;
    r->hold_free = free_fn;
}

void *req_hold_new(struct req *r, size_t size, void (*free_fn)(void *))
{
    void *p = calloc(1, size);
    if (p)
        req_hold(r, p, free_fn);
    else
        reply_store_error(r, CMON_ERR_NOMEM, "out of memory");
    return p;
}

void *req_hold_json(struct req *r, size_t size, void (*free_fn)(void *))
{
    json_t *body = req_json_body(r);
    void *p = body ? req_hold_new(r, size, free_fn) : NULL;
    if (!p) {
        json_decref(body);
        return NULL;
    }
    *(json_t **)p = body; /* its first member */
    return p;
}

/* ---- routing ---- */

struct route {
    const char *method;
    const char *pattern; /* segments after /api/v1/, '*' matches one */
    enum req_need need;
    route_fn fn;
};

static enum MHD_Result route_healthz(struct req *r)
{
    return reply_text(r, 200, "text/plain", strdup("ok\n"), 3);
}

static enum MHD_Result route_readyz(struct req *r)
{
    if (!atomic_load(&r->srv->ready))
        return reply_text(r, 503, "text/plain", strdup("starting\n"), 9);
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    size_t n;
    struct cmon_errbuf eb;
    if (s->ops->monitor_count(s, &n, &eb))
        return reply_error(r, 503, "store_unavailable", NULL, "%s", eb.msg);
    return reply_text(r, 200, "text/plain", strdup("ready\n"), 6);
}

static const struct route routes[] = {
    {"GET", "connectionMonitors", NEED_READER, api_monitor_list},
    {"GET", "connectionMonitors/*", NEED_READER, api_monitor_get},
    {"PUT", "connectionMonitors/*", NEED_ADMIN, api_monitor_put},
    {"DELETE", "connectionMonitors/*", NEED_ADMIN, api_monitor_delete},
    {"POST", "connectionMonitors/*/start", NEED_ADMIN, api_monitor_start},
    {"POST", "connectionMonitors/*/stop", NEED_ADMIN, api_monitor_stop},
    {"GET", "tests", NEED_READER, api_view_tests},
    {"GET", "tests/scopes", NEED_READER, api_view_scopes},
    {"GET", "tests/*/stateChanges", NEED_READER, api_test_history},
    {"GET", "tests/*/members", NEED_READER, api_test_members},
    {"GET", "tests/*/topology", NEED_READER, api_test_topology},
    {"GET", "tests/*/paths", NEED_READER, api_test_paths},
    {"GET", "connectionMonitors/*/topology", NEED_READER, api_monitor_topology},
    {"GET", "testGroups", NEED_READER, api_view_groups},
    {"GET", "sources", NEED_READER, api_view_sources},
    {"GET", "destinations", NEED_READER, api_view_destinations},
    {"GET", "testConfigurations", NEED_READER, api_view_configs},
    {"GET", "metrics", NEED_READER, api_metrics_query},
    {"GET", "results", NEED_READER, api_results},
    {"POST", "query", NEED_READER, api_sql},
    {"POST", "tokens", NEED_ADMIN, api_token_create},
    {"POST", "agent/results", NEED_AGENT, api_agent_results},
    {"GET", "alertRules", NEED_READER, api_alert_rule_list},
    {"GET", "alertDimensions", NEED_READER, api_alert_dimensions},
    {"GET", "alertSignals", NEED_READER, api_alert_signals},
    {"GET", "alertRules/*", NEED_READER, api_alert_rule_get},
    {"PUT", "alertRules/*", NEED_ADMIN, api_alert_rule_put},
    {"DELETE", "alertRules/*", NEED_ADMIN, api_alert_rule_delete},
    {"POST", "alertRules/*/enable", NEED_ADMIN, api_alert_rule_enable},
    {"POST", "alertRules/*/disable", NEED_ADMIN, api_alert_rule_disable},
    {"GET", "actionGroups", NEED_READER, api_action_group_list},
    {"GET", "actionGroups/*", NEED_READER, api_action_group_get},
    {"PUT", "actionGroups/*", NEED_ADMIN, api_action_group_put},
    {"DELETE", "actionGroups/*", NEED_ADMIN, api_action_group_delete},
    {"GET", "alerts", NEED_READER, api_alert_list},
    {"POST", "agent/heartbeat", NEED_AGENT, api_agent_heartbeat},
    {"GET", "agent/assignments", NEED_AGENT, api_agent_assignments},
    {"POST", "agents/register", NEED_AGENT, api_agent_register},
    {"GET", "agents", NEED_READER, api_agents_list},
    {"DELETE", "agents/*", NEED_ADMIN, api_agent_delete},
};

static bool split_path(struct req *r, const char *rest)
{
    return http_split_path(rest, r->segbuf, sizeof r->segbuf, r->seg,
                           sizeof r->seg / sizeof r->seg[0], &r->n_seg);
}

/* Who may do what: admin everything, reader GETs and queries, agent only
 * the agent protocol. */
static bool role_allows(enum store_role role, enum req_need need)
{
    switch (need) {
    case NEED_NONE:
        return true;
    case NEED_READER:
        return role == STORE_ROLE_READER || role == STORE_ROLE_ADMIN;
    case NEED_AGENT:
        return role == STORE_ROLE_AGENT || role == STORE_ROLE_ADMIN;
    default:
        return role == STORE_ROLE_ADMIN;
    }
}

/* Open mode ends as soon as a token exists, even one written straight to the
 * store by `cmon token create` while the server runs. */
static bool tokens_appeared(struct req *r)
{
    struct store *s = req_store(r);
    size_t n = 0;
    struct cmon_errbuf eb;
    if (!s || s->ops->token_count(s, &n, &eb) != CMON_OK || n == 0)
        return false;
    server_require_tokens(r->srv, "a token was created in the store");
    return true;
}

/* false after replying 401/403/503. */
static bool authenticate(struct req *r, enum req_need need)
{
    if (need == NEED_NONE)
        return true;
    if (!atomic_load(&r->srv->auth_required) && !tokens_appeared(r)) {
        if (r->replied) /* the store failed (503 sent) */
            return false;
        r->role = STORE_ROLE_ADMIN; /* open mode: loopback without tokens */
        snprintf(r->principal, sizeof r->principal, "local");
        return true;
    }
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        reply_error(r, 401, "unauthorized", NULL, "a bearer token is required");
        return false;
    }
    char hash[65];
    store_token_hash(h + 7, hash);
    struct store *s = req_store(r);
    if (!s)
        return false;
    struct cmon_errbuf eb;
    enum cmon_err err =
        s->ops->token_lookup(s, hash, &r->role, r->principal, sizeof r->principal, &eb);
    if (err == CMON_ERR_NOTFOUND) {
        reply_error(r, 401, "unauthorized", NULL, "the token is not valid");
        return false;
    }
    if (err) {
        reply_error(r, 503, "store_unavailable", NULL, "%s", eb.msg);
        return false;
    }
    if (!role_allows(r->role, need)) {
        reply_error(r, 403, "forbidden", NULL, "the %s role may not %s %s",
                    store_role_name(r->role), r->method, r->path);
        return false;
    }
    return true;
}

static const char *req_header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static bool is_method(const struct req *r, const char *m)
{
    return strcmp(r->method, m) == 0;
}

/* Anything but GET, HEAD and OPTIONS may change state. */
static bool changes_state(const struct req *r)
{
    return !is_method(r, "GET") && !is_method(r, "HEAD") && !is_method(r, "OPTIONS");
}

/* The open-mode Host rule of DESIGN 9 against DNS rebinding: a rebound name
 * reaches the loopback listener with the attacker's Host.  Requests without
 * a Host (HTTP/1.0 tools) come from no browser and pass.  --allowed-host
 * turns the rule on in token mode too. */
static bool host_ok(struct req *r, bool open)
{
    const struct cmon_server_opts *o = &r->srv->opts;
    const char *host = req_header(r, "Host");
    if (!host || (!open && !o->n_allowed_hosts) ||
        http_host_allowed(host, true, (const char *const *)o->allowed_hosts, o->n_allowed_hosts))
        return true;
    reply_error(r, 403, "host_not_allowed", NULL,
                "Host '%.100s' is not a loopback name or an --allowed-host of this server", host);
    return false;
}

/* Cross-site writes (forms, no-cors fetch) either send a non-JSON
 * Content-Type or an Origin of another site; refuse both in every mode.  A
 * bodiless write without Content-Type (a CLI "start") stays allowed. */
static bool write_ok(struct req *r)
{
    if (!changes_state(r))
        return true;
    const char *origin = req_header(r, "Origin");
    if (origin && !http_origin_matches(origin, req_header(r, "Host"))) {
        reply_error(r, 403, "origin_mismatch", NULL,
                    "Origin '%.100s' is not this server: cross-site requests are refused", origin);
        return false;
    }
    const char *ct = req_header(r, "Content-Type");
    const char *cl = req_header(r, "Content-Length");
    bool body = req_header(r, "Transfer-Encoding") || (cl && strcmp(cl, "0") != 0);
    if (ct ? http_content_type_is_json(ct) : !body)
        return true;
    reply_error(r, 415, "unsupported_media_type", NULL, "%s needs 'Content-Type: application/json'",
                r->method);
    return false;
}

/* 413 from the headers alone, so an oversized body is never read. */
static bool length_ok(struct req *r)
{
    const char *cl = req_header(r, "Content-Length");
    size_t n;
    if (!cl || (http_parse_size(cl, &n) && n <= r->srv->opts.max_body))
        return true;
    reply_error(r, 413, "body_too_large", NULL, "request bodies are limited to %zu bytes",
                r->srv->opts.max_body);
    return false;
}

/* The API route for r (HEAD matches GET); *known when another method has it. */
static const struct route *route_find(struct req *r, bool *known)
{
    *known = false;
    if (strncmp(r->path, API, strlen(API)) != 0 || !split_path(r, r->path + strlen(API)))
        return NULL;
    const char *m = is_method(r, "HEAD") ? "GET" : r->method;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!http_pattern_match(r->seg, r->n_seg, routes[i].pattern))
            continue;
        *known = true;
        if (strcmp(routes[i].method, m) == 0)
            return &routes[i];
    }
    return NULL;
}

/* OPTIONS, for an authenticated caller: 204 with the path's methods. */
static enum MHD_Result reply_options(struct req *r)
{
    char allow[80] = "OPTIONS";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (http_pattern_match(r->seg, r->n_seg, routes[i].pattern) &&
            !strstr(allow, routes[i].method)) {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, ", %s%s", routes[i].method,
                     strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_NO_CONTENT, resp);
    MHD_destroy_response(resp);
    r->replied = true;
    return ret;
}

/* An /api/v1 request's first call: authenticate before anything about the
 * routes is told (404, 405, OPTIONS) and before the body is read. */
static enum MHD_Result api_begin(struct req *r)
{
    bool known;
    r->route = route_find(r, &known);
    if (!authenticate(r, r->route ? r->route->need : NEED_READER))
        return MHD_YES;
    if (!r->route && known && is_method(r, "OPTIONS"))
        return reply_options(r);
    if (!r->route && known)
        return reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s", r->method,
                           r->path);
    if (!r->route)
        return reply_error(r, 404, "not_found", NULL, "no such endpoint: %s", r->path);
    return MHD_YES;
}

/* Everything decided from the request line and headers, on MHD's first
 * call: the NUL and open-mode checks, 413 and authentication.  An
 * unauthenticated or refused client never makes the server buffer a body. */
static enum MHD_Result request_begin(struct req *r)
{
    r->started = true;
    if (r->uri_has_nul)
        return reply_error(r, 400, "invalid_path", NULL, "the URI holds a NUL byte (%%00)");
    bool open = !atomic_load(&r->srv->auth_required) && !tokens_appeared(r);
    if (r->replied || !host_ok(r, open) || !write_ok(r) || !length_ok(r))
        return MHD_YES;
    if (strcmp(r->path, "/metrics") == 0) {
        if (!is_method(r, "GET") && !is_method(r, "HEAD"))
            return reply_error(r, 405, "method_not_allowed", NULL, "use GET");
        authenticate(r, NEED_READER);
        return MHD_YES;
    }
    return strncmp(r->path, API, strlen(API)) == 0 ? api_begin(r) : MHD_YES;
}

/* The last call, with the whole body: run the handler. */
static enum MHD_Result dispatch(struct req *r)
{
    if (r->too_large)
        return reply_error(r, 413, "body_too_large", NULL,
                           "request bodies are limited to %zu bytes", r->srv->opts.max_body);
    if (r->route)
        return r->route->fn(r);
    if (strcmp(r->path, "/healthz") == 0)
        return route_healthz(r);
    if (strcmp(r->path, "/readyz") == 0)
        return route_readyz(r);
    enum MHD_Result ui;
    if (static_route(r, &ui)) /* the dashboard (static.c) */
        return ui;
    if (strcmp(r->path, "/metrics") == 0)
        return api_prometheus(r);
    return reply_error(r, 404, "not_found", NULL, "no such endpoint: %s", r->path);
}

static bool body_append(struct req *r, const char *data, size_t n)
{
    if (r->too_large || r->len + n > r->srv->opts.max_body) {
        r->too_large = true;
        return true;
    }
    if (!cmon_grow(&r->body, &r->cap, r->len + n + 1, 1))
        return false;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return true;
}

enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls; /* made by http_uri_log */
    (void)version;
    if (!r)
        return MHD_NO;
    if (!r->started) {
        r->conn = conn;
        r->method = method;
        snprintf(r->path, sizeof r->path, "%s", url);
        atomic_fetch_add(&r->srv->requests, 1);
        edge_reaper_headers_done(r->srv->reaper, conn, true);
        return request_begin(r);
    }
    if (r->then) /* resumed: the writer answered */
        return req_write_answer(r);
    if (r->replied) { /* refused early: MHD discards the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        bool ok = body_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    if (r->replied)
        return MHD_YES;
    return dispatch(r);
}

void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct cmon_server *srv = cls;
    edge_reaper_request_line(srv->reaper, conn);
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = srv;
    r->conn = conn;
    r->uri_has_nul = http_uri_has_nul(uri);
    return r;
}

void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    if (r->started) /* the next request's headers are due in time again */
        edge_reaper_headers_done(r->srv->reaper, conn, false);
    if (r->ro)
        server_ro_give(r->srv, r->ro);
    writer_ticket_free(r->ticket); /* only ever ours here: see server_internal.h */
    if (r->hold)
        r->hold_free(r->hold);
    free(r->body);
    free(r);
    *con_cls = NULL;
}
