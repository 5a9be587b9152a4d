/* api_agents.c: the remote-agent side of the API (DESIGN 7 and 9) --
 * registration (a workspace key, i.e. an agent-role token without a name,
 * buys a per-agent token), heartbeats, the assignments an agent runs (the
 * monitors naming it, with an ETag), and the agent list and removal for
 * people.  Results arrive on POST /api/v1/agent/results (api_data.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/grow.h"
#include "core/hash.h"
#include "core/text.h"
#include "model/agent_body.h"
#include "server/agent_rounds.h"
#include "server/assign_cache.h"
#include "server/agent_state.h"
#include "server/server_internal.h"
#include "server/sources.h"

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

/* A body the decoder refused: 400 with its code and field (or 500 when
 * memory ran out).  Always MHD_YES-like: what reply_* returned. */
static enum MHD_Result reply_refused(struct req *r, enum cmon_err err,
                                     const struct cmon_agent_err *e)
{
    if (err != CMON_ERR_INVALID)
        return reply_store_error(r, err, "out of memory");
    return reply_error(r, 400, e->code, e->field[0] ? e->field : NULL, "%s", e->message);
}

/* cmon run's embedded agent answers to its host name and its alias: a
 * remote agent by either name would run the same tests a second time. */
static bool is_embedded_name(const struct cmon_server *srv, const char *name)
{
    const char *e = srv->opts.embedded_agent, *alias = srv->opts.embedded_alias;
    return (e && strcmp(name, e) == 0) || (alias && *alias && strcmp(name, alias) == 0);
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

/* The batch limits agents cut their batches by (docs/agents.md): the body
 * limit, the paths and rounds a batch may hold, and how long to gather. */
static void add_limits(const struct req *r, json_t *out)
{
    int ms = r->srv->opts.agent_batch_ms;
    json_object_set_new(out, "batchIntervalMs", json_integer(ms > 0 ? ms : CMON_AGENT_BATCH_MS));
    json_object_set_new(out, "maxBatchBytes", json_integer((json_int_t)r->srv->opts.max_body));
    json_object_set_new(out, "maxBatchPaths", json_integer(CMON_AGENT_MAX_BATCH_PATHS));
    json_object_set_new(out, "maxBatchResults", json_integer(CMON_AGENT_MAX_BATCH_RESULTS));
}

/* What an agent request's command borrows until the writer answers (the
 * request's hold): the body the facts point into, the facts, the command's
 * own struct and the new token (registration). */
struct agent_hold {
    json_t *body; /* first: req_hold_json */
    struct cmon_agent_facts f;
    struct writer_heartbeat hb;
    int hb_sec;
    char token[64], hash[65];
    int64_t next; /* registration: the agent's next batch number */
};

static void agent_hold_free(void *p)
{
    struct agent_hold *h = p;
    cmon_agent_facts_free(&h->f);
    json_decref(h->body);
    free(h);
}

/* The body, decoded by decode into a hold that r owns; NULL after replying. */
static struct agent_hold *agent_body(struct req *r,
                                     enum cmon_err (*decode)(const json_t *,
                                                             struct cmon_agent_facts *,
                                                             struct cmon_agent_err *))
{
    struct agent_hold *h = req_hold_json(r, sizeof *h, agent_hold_free);
    if (!h)
        return NULL;
    struct cmon_agent_err e;
    enum cmon_err err = decode(h->body, &h->f, &e);
    if (err) {
        reply_refused(r, err, &e);
        return NULL;
    }
    h->hb_sec = h->f.heartbeat_sec ? h->f.heartbeat_sec : AGENT_HEARTBEAT_DEFAULT_SEC;
    return h;
}

static enum cmon_err write_register(struct store *s, void *arg, int64_t now_ns,
                                    struct cmon_errbuf *eb)
{
    struct agent_hold *h = arg;
    return s->ops->agent_register(s, h->f.name, h->hash, h->f.version, h->f.addresses,
                                  h->f.region, h->hb_sec, now_ns, &h->next, eb);
}

static enum MHD_Result registered(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    struct agent_hold *h = r->hold;
    const struct cmon_agent_facts *f = &h->f;
    (void)dup;
    if (err)
        return reply_store_error(r, err, msg);
    cmon_info(r->srv->opts.log, "agent registered", "agent=%s version=%s addresses=%s region=%s",
              f->name, f->version, f->addresses, f->region);
    json_t *out = json_pack("{s:s, s:s, s:I, s:i}", "name", f->name, "token", h->token,
                            "nextBatch", (json_int_t)h->next, "heartbeatSec", h->hb_sec);
    add_limits(r, out);
    return reply_json(r, 201, out);
}

static enum MHD_Result do_register(struct req *r, struct agent_hold *h)
{
    struct cmon_errbuf eb;
    if (store_token_new(h->token, &eb) != CMON_OK)
        return reply_store_error(r, CMON_ERR_IO, eb.msg);
    store_token_hash(h->token, h->hash);
    return req_write_call(r, write_register, h, registered);
}

enum MHD_Result api_agent_register(struct req *r)
{
    struct agent_hold *h = agent_body(r, cmon_agent_register_decode);
    if (!h)
        return MHD_YES;
    if (is_embedded_name(r->srv, h->f.name))
        return reply_error(r, 409, "name_taken", "name",
                           "'%s' is the name of this server's embedded agent (cmon run): give "
                           "this agent another name with --name",
                           h->f.name);
    return may_register(r, h->f.name) ? do_register(r, h) : MHD_YES;
}

static enum MHD_Result heartbeat_done(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    struct agent_hold *h = r->hold;
    (void)dup;
    if (err == CMON_ERR_NOTFOUND)
        return reply_error(r, 409, "not_registered", NULL,
                           "agent '%s' is not registered: POST /api/v1/agents/register",
                           r->principal);
    if (err)
        return reply_store_error(r, err, msg);
    json_t *out = json_pack("{s:s, s:i}", "name", r->principal, "heartbeatSec", h->hb_sec);
    add_limits(r, out);
    return reply_json(r, 200, out);
}

enum MHD_Result api_agent_heartbeat(struct req *r)
{
    if (!need_agent_identity(r))
        return MHD_YES;
    struct agent_hold *h = agent_body(r, cmon_agent_heartbeat_decode);
    if (!h)
        return MHD_YES;
    const struct cmon_agent_facts *f = &h->f;
    h->hb = (struct writer_heartbeat){r->principal, f->version, f->addresses,
                                      f->region,    f->spool,   h->hb_sec};
    struct cmon_errbuf eb;
    struct writer_async a = req_write_async(r, HEARTBEAT_DEADLINE_MS);
    enum cmon_err err = writer_heartbeat_submit(r->srv->writer, &h->hb, &a, &r->ticket, &eb);
    return req_write_wait(r, err, eb.msg, heartbeat_done);
}

/* ---- assignments ---- */

/* The polling agent's reported addresses (JSON array text, owned). */
struct assignments {
    struct assign_cache *cache;
    uint64_t walk;
    const char *agent;
    const struct agent_addrs *addrs;
    json_t *monitors;
    unsigned long long parsed; /* monitors parsed (counted in /metrics) */
};

static int collect_assignment(void *arg, const struct store_monitor *sm)
{
    struct assignments *as = arg;
    if (!sm->running)
        return 0;
    bool parsed;
    bool named = assign_cache_names_agent(as->cache, as->walk, sm, as->agent, as->addrs->v,
                                          as->addrs->n, &parsed);
    as->parsed += parsed;
    if (named)
        json_array_append_new(as->monitors,
                              json_pack("{s:s, s:s}", "name", sm->name, "body", sm->body));
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

/* The version of what the agent could be assigned: the addresses it
 * reported (a compound source's scope picks its members by address), and
 * every running monitor's name and last change.  Cheap (no monitor is
 * parsed), and it changes whenever an answer could, so an unchanged poll is
 * a 304 at once. */
static int version_of(void *arg, const struct store_monitor *sm)
{
    unsigned long long *h = arg;
    char stamp[48];
    snprintf(stamp, sizeof stamp, "%d/%lld", sm->running, (long long)sm->updated_ns);
    *h = cmon_fnv1a_field(cmon_fnv1a_field(*h, sm->name), stamp);
    return 0;
}

enum MHD_Result api_agent_assignments(struct req *r)
{
    if (!need_agent_identity(r))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    unsigned long long version = cmon_fnv1a_field(CMON_FNV1A_BASIS, r->principal);
    struct cmon_errbuf eb;
    struct agent_addrs addrs;
    enum cmon_err err = agent_addrs_load(s, r->principal, &addrs, &eb);
    if (err)
        return reply_store_error(r, err, eb.msg);
    version = cmon_fnv1a_field(version, addrs.json);
    err = s->ops->monitor_versions(s, version_of, &version, &eb);
    if (err) {
        agent_addrs_free(&addrs);
        return reply_store_error(r, err, eb.msg);
    }
    char etag[40];
    snprintf(etag, sizeof etag, "\"%016llx\"", version);
    const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) { /* reply_with_etag answers 304 */
        agent_addrs_free(&addrs);
        return reply_with_etag(r, json_object(), etag);
    }
    struct assignments as = {.cache = r->srv->assign, .agent = r->principal, .addrs = &addrs,
                             .monitors = json_array()};
    as.walk = assign_cache_begin(as.cache);
    err = s->ops->monitor_list(s, collect_assignment, &as, &eb);
    assign_cache_end(as.cache);
    agent_addrs_free(&addrs);
    atomic_fetch_add(&r->srv->assignment_parses, as.parsed);
    if (err) {
        json_decref(as.monitors);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_with_etag(
        r, json_pack("{s:s, s:o}", "agent", r->principal, "monitors", as.monitors), etag);
}

/* ---- the agent list ---- */

/* Tests per Agent source (its name as the source's address) for the agents
 * a list names, from one walk of the tests: a query per agent made the list
 * O(agents x tests) -- minutes for 10,000 agents with 200,000 tests, with a
 * pool thread and the server's stop held meanwhile. */
struct name_count {
    char *name;
    size_t n;
};

struct tally {
    struct name_count *v; /* sorted by name once the names are in */
    size_t n, cap;
    bool nomem;
};

static void tally_add(struct tally *t, const char *name)
{
    char *copy = name ? cmon_strdup(name) : NULL;
    if (!name)
        return;
    if (!copy || !cmon_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v)) {
        free(copy);
        t->nomem = true;
        return;
    }
    t->v[t->n++] = (struct name_count){copy, 0};
}

static int cmp_count_name(const void *a, const void *b)
{
    return strcmp(((const struct name_count *)a)->name, ((const struct name_count *)b)->name);
}

static int cmp_count_key(const void *name, const void *e)
{
    return strcmp(name, ((const struct name_count *)e)->name);
}

static struct name_count *tally_find(const struct tally *t, const char *name)
{
    bool found;
    size_t at = name ? cmon_sorted_find(t->v, t->n, sizeof *t->v, name, cmp_count_key, &found) : 0;
    return name && found ? &t->v[at] : NULL;
}

static int count_test(void *arg, const struct store_test *t)
{
    struct name_count *c =
        strcmp(t->source_type, "Agent") == 0 ? tally_find(arg, t->source_address) : NULL;
    if (c)
        c->n++;
    return 0;
}

/* Sort the names (a name twice counts once) and count. */
static enum cmon_err tally_count(struct store *s, struct tally *t, struct cmon_errbuf *eb)
{
    if (t->nomem)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (t->n)
        qsort(t->v, t->n, sizeof *t->v, cmp_count_name);
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (k && strcmp(t->v[k - 1].name, t->v[i].name) == 0)
            free(t->v[i].name);
        else
            t->v[k++] = t->v[i];
    }
    t->n = k;
    return t->n ? s->ops->test_query(s, NULL, count_test, t, eb) : CMON_OK;
}

static size_t tally_of(const struct tally *t, const char *name)
{
    const struct name_count *c = tally_find(t, name);
    return c ? c->n : 0;
}

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
}

struct agent_rows {
    const struct cmon_server_opts *opts;
    json_t *items;
    int64_t now_ns;
    struct store *s;
    const char *embedded, *alias; /* cmon run's embedded agent, or NULL */
    int64_t loop_seen_ns;         /* and when its loop last ran */
    bool embedded_listed;
    struct tally tally; /* the listed agents' names; "tests" filled in after */
};

/* The embedded agent's addresses (cli/ filled them from the host). */
static json_t *embedded_addresses(const struct cmon_server_opts *o)
{
    json_t *a = o->embedded_addresses ? json_loads(o->embedded_addresses, 0, NULL) : NULL;
    return json_is_array(a) ? a : (json_decref(a), json_array());
}

/* The embedded agent of cmon run: in this process, so running while the
 * server answers; its tests name it by host name or by its alias. */
static json_t *time_or_null(int64_t ns);

/* The embedded agent of cmon run: its tests name it by host name or alias
 * (stored under the host name, api_monitors.c); it is seen when its loop
 * last ran or its last round arrived, and stopped when its loop has been
 * silent for as long as a remote agent's three heartbeats. */
static json_t *embedded_row(const struct agent_rows *ar, const struct store_agent *a,
                            int64_t loop_seen_ns)
{
    int64_t seen = a && a->last_seen_ns > loop_seen_ns ? a->last_seen_ns : loop_seen_ns;
    bool alive = loop_seen_ns && ar->now_ns - loop_seen_ns <= (int64_t)AGENT_STOPPED_HEARTBEATS *
                                                                  AGENT_HEARTBEAT_DEFAULT_SEC *
                                                                  CMON_NS_PER_SEC;
    const char *region = ar->opts->embedded_region;
    return json_pack("{s:s, s:s, s:o, s:s, s:n, s:o, s:I, s:s, s:b, s:i, s:{}, s:[s]}", "name",
                     ar->embedded, "version", CMON_VERSION, "addresses",
                     embedded_addresses(ar->opts), "region", region ? region : "",
                     "registeredAt", "lastSeen", time_or_null(seen), "tests", (json_int_t)0,
                     "state", alive ? "running" : "stopped", "embedded", 1, "heartbeatSec", 0,
                     "spool", "aliases", ar->alias ? ar->alias : ar->embedded);
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
        json_array_append_new(ar->items, embedded_row(ar, a, ar->loop_seen_ns));
        return 0;
    }
    tally_add(&ar->tally, a->name);
    json_t *addr = json_loads(a->addresses, 0, NULL);
    json_t *spool = a->spool ? json_loads(a->spool, 0, NULL) : NULL;
    json_array_append_new(
        ar->items,
        json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:I, s:s, s:b, s:i, s:o}", "name", a->name,
                  "version", a->version, "addresses", addr ? addr : json_array(), "region",
                  a->region ? a->region : "", "registeredAt",
                  time_or_null(a->registered_ns), "lastSeen", time_or_null(a->last_seen_ns),
                  "tests", (json_int_t)0, "state",
                  agent_state_name(a, ar->now_ns), "embedded", 0, "heartbeatSec", a->heartbeat_sec,
                  "spool", spool ? spool : json_object()));
    return 0;
}

enum MHD_Result api_agents_list(struct req *r)
{
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct agent_rows ar = {.opts = &r->srv->opts,
                            .items = json_array(),
                            .now_ns = server_now(r->srv),
                            .s = s,
                            .embedded = r->srv->opts.embedded_agent,
                            .alias = r->srv->opts.embedded_alias,
                            .loop_seen_ns = atomic_load(&r->srv->embedded_seen_ns)};
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->agent_list(s, agent_row, &ar, &eb);
    if (!err && ar.embedded && !ar.embedded_listed) /* before its first round */
        json_array_insert_new(ar.items, 0, embedded_row(&ar, NULL, ar.loop_seen_ns));
    /* the embedded agent's tests name it by host name or by its alias */
    tally_add(&ar.tally, ar.embedded);
    tally_add(&ar.tally, ar.alias);
    if (!err)
        err = tally_count(s, &ar.tally, &eb);
    size_t i;
    json_t *item;
    json_array_foreach(ar.items, i, item) {
        const char *name = json_string_value(json_object_get(item, "name"));
        size_t n = tally_of(&ar.tally, name);
        if (json_is_true(json_object_get(item, "embedded")) && ar.alias &&
            strcmp(ar.alias, name) != 0)
            n += tally_of(&ar.tally, ar.alias);
        json_object_set_new(item, "tests", json_integer((json_int_t)n));
    }
    tally_free(&ar.tally);
    if (err) {
        json_decref(ar.items);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(r, 200, json_pack("{s:o, s:n}", "items", ar.items, "next"));
}

static enum cmon_err write_agent_delete(struct store *s, void *arg, int64_t now_ns,
                                        struct cmon_errbuf *eb)
{
    (void)now_ns;
    return s->ops->agent_delete(s, arg, eb);
}

static enum MHD_Result agent_deleted(struct req *r, enum cmon_err err, bool dup, const char *msg)
{
    (void)dup;
    if (err)
        return reply_store_error(r, err, msg);
    cmon_info(r->srv->opts.log, "agent removed", "agent=%s", r->seg[1]);
    return reply_text(r, 204, "text/plain", strdup(""), 0);
}

enum MHD_Result api_agent_delete(struct req *r)
{
    return req_write_call(r, write_agent_delete, (void *)r->seg[1], agent_deleted);
}
