/* api_agents.c: the remote-agent side of the API (DESIGN 7 and 9) --
 * registration (a workspace key, i.e. an agent-role token without a name,
 * buys a per-agent token), heartbeats, the assignments an agent runs (the
 * monitors naming it, with an ETag), and the agent list and removal for
 * people.  Results arrive on POST /api/v1/agent/results (api_data.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "server/agent_state.h"
#include "server/server_internal.h"

#define AGENT_NAME_MAX 63 /* fits struct req.principal */
#define AGENT_MAX_ADDRESSES 32

/* Agent names follow monitor names: [A-Za-z0-9._-], 1..63, no leading . or -. */
static bool agent_name_valid(const char *name)
{
    return name && strlen(name) <= AGENT_NAME_MAX && cmon_monitor_name_valid(name);
}

/* The registered agent behind this request; false after replying 403. */
static bool need_agent_identity(struct req *r)
{
    if (r->role == STORE_ROLE_AGENT && r->principal[0])
        return true;
    reply_error(r, 403, "forbidden", NULL,
                r->role == STORE_ROLE_AGENT
                    ? "a workspace key may only register agents: use the per-agent token "
                      "that POST /api/v1/agents/register returned"
                    : "only an agent's own token may use the agent protocol");
    return false;
}

/* Validate {version, addresses, heartbeatSec}; fills the strings (addresses
 * as compact JSON text, malloc'd).  false after replying 400. */
static bool agent_facts(struct req *r, json_t *body, const char **version, char **addresses,
                        int *hb_sec, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(key, allowed[i]) == 0;
        if (!ok) {
            reply_error(r, 400, "invalid_parameter", key, "unknown field '%s'", key);
            return false;
        }
    }
    json_t *ver = json_object_get(body, "version"), *addr = json_object_get(body, "addresses");
    json_t *hb = json_object_get(body, "heartbeatSec");
    if (ver && (!json_is_string(ver) || json_string_length(ver) > 64)) {
        reply_error(r, 400, "invalid_parameter", "version", "version must be a string (<= 64)");
        return false;
    }
    if (hb &&
        (!json_is_integer(hb) || json_integer_value(hb) < 1 || json_integer_value(hb) > 300)) {
        reply_error(r, 400, "invalid_parameter", "heartbeatSec", "heartbeatSec must be 1..300");
        return false;
    }
    bool addr_ok = !addr || (json_is_array(addr) && json_array_size(addr) <= AGENT_MAX_ADDRESSES);
    for (size_t i = 0; addr_ok && addr && i < json_array_size(addr); i++) {
        json_t *a = json_array_get(addr, i);
        addr_ok = json_is_string(a) && json_string_length(a) <= 64;
    }
    if (!addr_ok) {
        reply_error(r, 400, "invalid_parameter", "addresses",
                    "addresses must be an array of at most %d strings", AGENT_MAX_ADDRESSES);
        return false;
    }
    *version = ver ? json_string_value(ver) : "";
    *hb_sec = hb ? (int)json_integer_value(hb) : AGENT_HEARTBEAT_DEFAULT_SEC;
    *addresses = addr ? json_dumps(addr, JSON_COMPACT) : strdup("[]");
    if (!*addresses) {
        reply_store_error(r, CMON_ERR_NOMEM, "out of memory");
        return false;
    }
    return true;
}

static bool may_register(struct req *r, const char *name)
{
    if (!atomic_load(&r->srv->auth_required)) {
        reply_error(r, 403, "forbidden", NULL,
                    "the server runs open (no tokens): create a workspace key with "
                    "'cmon token create --role agent' and register with it");
        return false;
    }
    if (r->role == STORE_ROLE_ADMIN || (r->role == STORE_ROLE_AGENT && !r->principal[0]) ||
        strcmp(r->principal, name) == 0)
        return true;
    reply_error(r, 403, "forbidden", NULL, "the token of agent '%s' cannot register '%s'",
                r->principal, name);
    return false;
}

static enum MHD_Result do_register(struct req *r, const char *name, const char *version,
                                   const char *addresses, int hb_sec)
{
    char token[64], hash[65];
    struct cmon_errbuf eb;
    if (store_token_new(token, &eb) != CMON_OK)
        return reply_store_error(r, CMON_ERR_IO, eb.msg);
    store_token_hash(token, hash);
    struct store *a = r->srv->admin;
    int64_t next = 0;
    pthread_mutex_lock(&r->srv->admin_mu);
    enum cmon_err err =
        a->ops->agent_register
            ? a->ops->agent_register(a, name, hash, version, addresses, hb_sec, cmon_wall_ns(),
                                     &next, &eb)
            : cmon_fail(&eb, CMON_ERR_UNSUPPORTED, "this store does not support agents yet");
    pthread_mutex_unlock(&r->srv->admin_mu);
    if (err)
        return reply_store_error(r, err, eb.msg);
    cmon_info(r->srv->opts.log, "agent registered", "agent=%s version=\"%s\" addresses=%s", name,
              version, addresses);
    return reply_json(r, 201,
                      json_pack("{s:s, s:s, s:I, s:i}", "name", name, "token", token, "nextBatch",
                                (json_int_t)next, "heartbeatSec", hb_sec));
}

enum MHD_Result api_agent_register(struct req *r)
{
    static const char *const allowed[] = {"name", "version", "addresses", "heartbeatSec", NULL};
    json_t *body = req_json_body(r);
    if (!body)
        return MHD_YES;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *version;
    char *addresses = NULL;
    int hb;
    enum MHD_Result ret = MHD_YES;
    if (!agent_name_valid(name))
        ret = reply_error(r, 400, "invalid_parameter", "name",
                          "name must be 1-%d characters of [A-Za-z0-9._-], not starting with "
                          "'.' or '-'",
                          AGENT_NAME_MAX);
    else if (agent_facts(r, body, &version, &addresses, &hb, allowed) && may_register(r, name))
        ret = do_register(r, name, version, addresses, hb);
    free(addresses);
    json_decref(body);
    return ret;
}

enum MHD_Result api_agent_heartbeat(struct req *r)
{
    static const char *const allowed[] = {"version", "addresses", "heartbeatSec", "spool", NULL};
    if (!need_agent_identity(r))
        return MHD_YES;
    json_t *body = req_json_body(r);
    if (!body)
        return MHD_YES;
    const char *version;
    char *addresses = NULL;
    int hb;
    enum MHD_Result ret = MHD_YES;
    json_t *spool = json_object_get(body, "spool");
    char *spool_text = NULL;
    if (spool && !json_is_object(spool))
        ret = reply_error(r, 400, "invalid_parameter", "spool", "spool must be an object");
    else if (!(spool_text = spool ? json_dumps(spool, JSON_COMPACT) : strdup("{}")) ||
             strlen(spool_text) > 1024)
        ret = reply_error(r, 400, "invalid_parameter", "spool", "spool is too large");
    else if (agent_facts(r, body, &version, &addresses, &hb, allowed)) {
        struct cmon_errbuf eb;
        struct store *a = r->srv->admin;
        pthread_mutex_lock(&r->srv->admin_mu);
        enum cmon_err err =
            a->ops->agent_heartbeat
                ? a->ops->agent_heartbeat(a, r->principal, version, addresses, spool_text, hb,
                                          cmon_wall_ns(), &eb)
                : cmon_fail(&eb, CMON_ERR_UNSUPPORTED, "this store does not support agents yet");
        pthread_mutex_unlock(&r->srv->admin_mu);
        if (err == CMON_ERR_NOTFOUND)
            ret = reply_error(r, 409, "not_registered", NULL,
                              "agent '%s' is not registered: POST /api/v1/agents/register",
                              r->principal);
        else if (err)
            ret = reply_store_error(r, err, eb.msg);
        else
            ret = reply_json(r, 200,
                             json_pack("{s:s, s:i}", "name", r->principal, "heartbeatSec", hb));
    }
    free(addresses);
    free(spool_text);
    json_decref(body);
    return ret;
}

/* ---- assignments ---- */

static bool endpoint_is(const struct cmon_endpoint *ep, const char *agent)
{
    if (ep->type != CMON_EP_AGENT)
        return false;
    if (ep->all_agents)
        return true;
    for (size_t i = 0; i < ep->n_agents; i++) {
        if (strcmp(ep->agents[i], agent) == 0)
            return true;
    }
    return strcmp(ep->address, agent) == 0;
}

/* Does a running monitor have an enabled test sourced at agent? */
static bool monitor_names_agent(const struct store_monitor *sm, const char *agent)
{
    struct cmon_monitor *m = NULL;
    struct cmon_problems probs = {0};
    if (cmon_monitor_parse(sm->body, strlen(sm->body), sm->name, &m, &probs) != CMON_OK) {
        cmon_problems_free(&probs);
        return false;
    }
    bool found = false;
    for (size_t g = 0; !found && g < m->n_groups; g++) {
        const struct cmon_test_group *grp = &m->groups[g];
        for (size_t i = 0; !grp->disabled && !found && i < grp->n_sources; i++)
            found = endpoint_is(&m->endpoints[grp->sources[i]], agent);
    }
    cmon_monitor_free(m);
    return found;
}

struct assignments {
    const char *agent;
    json_t *monitors;
    unsigned long long etag;
};

static void fnv(unsigned long long *h, const char *s)
{
    *h = cmon_fnv1a_field(*h, s);
}

static int collect_assignment(void *arg, const struct store_monitor *sm)
{
    struct assignments *as = arg;
    if (!sm->running || !monitor_names_agent(sm, as->agent))
        return 0;
    json_array_append_new(as->monitors,
                          json_pack("{s:s, s:s}", "name", sm->name, "body", sm->body));
    fnv(&as->etag, sm->name);
    fnv(&as->etag, sm->body);
    return 0;
}

static enum MHD_Result reply_with_etag(struct req *r, json_t *body, const char *etag)
{
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *resp;
    unsigned status = 200;
    if (inm && strcmp(inm, etag) == 0) {
        json_decref(body);
        status = 304;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text)
            return reply_store_error(r, CMON_ERR_NOMEM, "out of memory");
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->replied = true;
    return ret;
}

enum MHD_Result api_agent_assignments(struct req *r)
{
    if (!need_agent_identity(r))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct assignments as = {
        .agent = r->principal, .monitors = json_array(), .etag = CMON_FNV1A_BASIS};
    fnv(&as.etag, r->principal);
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->monitor_list(s, collect_assignment, &as, &eb);
    if (err) {
        json_decref(as.monitors);
        return reply_store_error(r, err, eb.msg);
    }
    char etag[40];
    snprintf(etag, sizeof etag, "\"%016llx\"", as.etag);
    return reply_with_etag(
        r, json_pack("{s:s, s:o}", "agent", r->principal, "monitors", as.monitors), etag);
}

/* ---- the agent list ---- */

struct agent_rows {
    json_t *items;
    int64_t now_ns;
    struct store *s;
    const char *embedded, *alias; /* cmon run's embedded agent, or NULL */
    bool embedded_listed;
};

struct test_count {
    const char *agent;
    size_t n;
};

static int count_test(void *arg, const struct store_test *t)
{
    struct test_count *tc = arg;
    tc->n += strcmp(t->source_type, "Agent") == 0 && strcmp(t->source_address, tc->agent) == 0;
    return 0;
}

/* Tests sourced at agent (its name as the source's address). */
static size_t agent_tests(struct store *s, const char *agent)
{
    struct store_test_filter f = {.search = agent, .scope = STORE_SCOPE_SOURCES};
    struct test_count tc = {.agent = agent};
    struct cmon_errbuf eb;
    s->ops->test_query(s, &f, count_test, &tc, &eb);
    return tc.n;
}

/* The embedded agent of cmon run: in this process, so running while the
 * server answers; its tests name it by host name or by its alias. */
static json_t *embedded_row(const struct agent_rows *ar, const struct store_agent *a)
{
    char ts[40];
    size_t tests =
        agent_tests(ar->s, ar->embedded) +
        (ar->alias && strcmp(ar->alias, ar->embedded) ? agent_tests(ar->s, ar->alias) : 0);
    return json_pack(
        "{s:s, s:s, s:[], s:n, s:o, s:I, s:s, s:b, s:i, s:{}}", "name", ar->embedded, "version",
        CMON_VERSION, "addresses", "registeredAt", "lastSeen",
        a && a->last_seen_ns ? json_string(cmon_rfc3339(a->last_seen_ns, ts, sizeof ts))
                             : json_null(),
        "tests", (json_int_t)tests, "state", "running", "embedded", 1, "heartbeatSec", 0, "spool");
}

static json_t *time_or_null(int64_t ns)
{
    char ts[40];
    return ns ? json_string(cmon_rfc3339(ns, ts, sizeof ts)) : json_null();
}

static int agent_row(void *arg, const struct store_agent *a)
{
    struct agent_rows *ar = arg;
    if (ar->embedded && !a->registered && strcmp(a->name, ar->embedded) == 0) {
        ar->embedded_listed = true;
        json_array_append_new(ar->items, embedded_row(ar, a));
        return 0;
    }
    json_t *addr = json_loads(a->addresses, 0, NULL);
    json_t *spool = a->spool ? json_loads(a->spool, 0, NULL) : NULL;
    json_array_append_new(
        ar->items,
        json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:b, s:i, s:o}", "name", a->name, "version",
                  a->version, "addresses", addr ? addr : json_array(), "registeredAt",
                  time_or_null(a->registered_ns), "lastSeen", time_or_null(a->last_seen_ns),
                  "tests", (json_int_t)agent_tests(ar->s, a->name), "state",
                  agent_state_name(a, ar->now_ns), "embedded", 0, "heartbeatSec", a->heartbeat_sec,
                  "spool", spool ? spool : json_object()));
    return 0;
}

enum MHD_Result api_agents_list(struct req *r)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    if (!s->ops->agent_list)
        return reply_store_error(r, CMON_ERR_UNSUPPORTED, "this store does not support agents yet");
    struct agent_rows ar = {.items = json_array(),
                            .now_ns = cmon_wall_ns(),
                            .s = s,
                            .embedded = r->srv->opts.embedded_agent,
                            .alias = r->srv->opts.embedded_alias};
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->agent_list(s, agent_row, &ar, &eb);
    if (err) {
        json_decref(ar.items);
        return reply_store_error(r, err, eb.msg);
    }
    if (ar.embedded && !ar.embedded_listed) /* before its first round */
        json_array_insert_new(ar.items, 0, embedded_row(&ar, NULL));
    return reply_json(r, 200, json_pack("{s:o, s:n}", "items", ar.items, "next"));
}

enum MHD_Result api_agent_delete(struct req *r)
{
    const char *name = r->seg[1];
    struct cmon_errbuf eb;
    struct store *a = r->srv->admin;
    pthread_mutex_lock(&r->srv->admin_mu);
    enum cmon_err err = a->ops->agent_delete ? a->ops->agent_delete(a, name, &eb)
                                             : cmon_fail(&eb, CMON_ERR_UNSUPPORTED,
                                                         "this store does not support agents yet");
    pthread_mutex_unlock(&r->srv->admin_mu);
    if (err)
        return reply_store_error(r, err, eb.msg);
    cmon_info(r->srv->opts.log, "agent removed", "agent=%s", name);
    return reply_text(r, 204, "text/plain", strdup(""), 0);
}
