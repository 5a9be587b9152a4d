/* http.c: the request side of the server -- body collection with a size
 * limit, bearer-token authentication and roles (DESIGN 9), the route table,
 * and the reply helpers every handler uses.  Errors are always
 * {"error": {"code", "message", "field"}} with the fitting 4xx/5xx. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
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
        return reply_error(r, 503, "overloaded", NULL, "%s", msg);
    case CMON_ERR_TIMEOUT:
        return reply_error(r, 422, "query_timeout", NULL, "%s", msg);
    default:
        cmon_error(r->srv->opts.log, "request failed", "path=\"%s\" err=\"%s\"", r->path, msg);
        return reply_error(r, 500, "internal", NULL, "%s", msg);
    }
}

const char *req_arg(struct req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static struct store *pool_take(struct cmon_server *srv, struct cmon_errbuf *eb)
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

static void pool_give(struct cmon_server *srv, struct store *s)
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
    r->ro = pool_take(r->srv, &eb);
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

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = (size_t)v;
    return true;
}

bool req_page(struct req *r, size_t *limit, size_t *offset)
{
    const char *l = req_arg(r, "limit"), *c = req_arg(r, "cursor");
    *limit = 100;
    *offset = 0;
    if (l && (!parse_size(l, limit) || *limit < 1 || *limit > 1000)) {
        reply_error(r, 400, "invalid_parameter", "limit", "limit must be 1..1000");
        return false;
    }
    if (c && !parse_size(c, offset)) {
        reply_error(r, 400, "invalid_parameter", "cursor", "cursor is not one this API gave");
        return false;
    }
    return true;
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
    {"GET", "tests/*/stateChanges", NEED_READER, api_test_history},
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

/* Split "a/b/c" into r->seg; false when too deep or an empty segment. */
static bool split_path(struct req *r, const char *rest)
{
    snprintf(r->segbuf, sizeof r->segbuf, "%s", rest);
    r->n_seg = 0;
    char *save = NULL;
    size_t len = strlen(r->segbuf);
    if (len && r->segbuf[len - 1] == '/')
        r->segbuf[len - 1] = '\0';
    for (char *tok = strtok_r(r->segbuf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (r->n_seg == sizeof r->seg / sizeof r->seg[0])
            return false;
        r->seg[r->n_seg++] = tok;
    }
    return r->n_seg > 0;
}

static bool pattern_match(const struct req *r, const char *pattern)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", pattern);
    size_t i = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save), i++) {
        if (i >= r->n_seg || (strcmp(tok, "*") != 0 && strcmp(tok, r->seg[i]) != 0))
            return false;
    }
    return i == r->n_seg;
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
    atomic_store(&r->srv->auth_required, true);
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

static enum MHD_Result dispatch(struct req *r)
{
    if (r->too_large)
        return reply_error(r, 413, "body_too_large", NULL,
                           "request bodies are limited to %zu bytes", r->srv->opts.max_body);
    const struct route *found = NULL;
    bool path_known = false;
    if (strcmp(r->path, "/healthz") == 0)
        return route_healthz(r);
    if (strcmp(r->path, "/readyz") == 0)
        return route_readyz(r);
    enum MHD_Result ui;
    if (static_route(r, &ui)) /* the dashboard (static.c) */
        return ui;
    if (strcmp(r->path, "/metrics") == 0) {
        if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
            return reply_error(r, 405, "method_not_allowed", NULL, "use GET");
        return authenticate(r, NEED_READER) ? api_prometheus(r) : MHD_YES;
    }
    if (strncmp(r->path, API, strlen(API)) == 0 && split_path(r, r->path + strlen(API))) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            if (!pattern_match(r, routes[i].pattern))
                continue;
            path_known = true;
            if (strcmp(routes[i].method, r->method) == 0) {
                found = &routes[i];
                break;
            }
        }
    }
    if (!found && path_known)
        return reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s", r->method,
                           r->path);
    if (!found)
        return reply_error(r, 404, "not_found", NULL, "no such endpoint: %s", r->path);
    if (!authenticate(r, found->need))
        return MHD_YES;
    return found->fn(r);
}

static bool body_append(struct req *r, const char *data, size_t n)
{
    if (r->too_large || r->len + n > r->srv->opts.max_body) {
        r->too_large = true;
        return true;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return false;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return true;
}

enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *upload_data,
                            size_t *upload_data_size, void **con_cls)
{
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = cls;
        r->conn = conn;
        r->method = method;
        snprintf(r->path, sizeof r->path, "%s", url);
        *con_cls = r;
        atomic_fetch_add(&r->srv->requests, 1);
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

void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    if (r->ro)
        pool_give(r->srv, r->ro);
    free(r->body);
    free(r);
    *con_cls = NULL;
}
