/* api_views.c: the dashboard's views (DESIGN 10) -- tests, and the roll-ups
 * of tests into test groups, sources, destinations and test configurations.
 * Filters: monitor, state, protocol, q (text) with scope, and the exact
 * names testGroup, source, destination, testConfiguration, destinationType;
 * any other parameter is a 400.  Lists are {"items", "next"} with
 * limit/cursor. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/grow.h"
#include "server/server_internal.h"
#include "server/sources.h"

static const struct {
    const char *name;
    enum store_scope scope;
} scopes[] = {
    {"all", STORE_SCOPE_ALL},
    {"sources", STORE_SCOPE_SOURCES},
    {"destinations", STORE_SCOPE_DESTINATIONS},
    {"testGroups", STORE_SCOPE_TEST_GROUPS},
    {"testConfigurations", STORE_SCOPE_TEST_CONFIGS},
    {"monitors", STORE_SCOPE_MONITORS},
};

static bool parse_protocol(const char *s, enum cmon_protocol *p)
{
    static const enum cmon_protocol all[] = {CMON_PROTO_ICMP, CMON_PROTO_TCP, CMON_PROTO_HTTP};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, cmon_protocol_name(all[i])) == 0) {
            *p = all[i];
            return true;
        }
    }
    return false;
}

/* The exact-name filters: parameter and field (store_test_filter). */
static const struct {
    const char *param;
    size_t field;
} exact_params[] = {
    {"testGroup", offsetof(struct store_test_filter, group)},
    {"source", offsetof(struct store_test_filter, source)},
    {"destination", offsetof(struct store_test_filter, destination)},
    {"testConfiguration", offsetof(struct store_test_filter, config)},
    {"destinationType", offsetof(struct store_test_filter, destination_type)},
};
#define N_EXACT (sizeof exact_params / sizeof exact_params[0])
static const char *const filter_params[] = {"monitor", "state", "protocol", "q", "scope"};
#define N_FILTER (sizeof filter_params / sizeof filter_params[0])

/* Every parameter the view knows: the filters and the endpoint's own. */
static bool views_known(struct req *r, const char *const *own, size_t n_own)
{
    const char *known[N_FILTER + N_EXACT + 8];
    size_t n = 0;
    for (size_t i = 0; i < N_FILTER; i++)
        known[n++] = filter_params[i];
    for (size_t i = 0; i < N_EXACT; i++)
        known[n++] = exact_params[i].param;
    for (size_t i = 0; i < n_own && n < sizeof known / sizeof known[0]; i++)
        known[n++] = own[i];
    return req_known_args(r, known, n);
}

bool views_filter(struct req *r, const char *const *own, size_t n_own, struct store_test_filter *f)
{
    memset(f, 0, sizeof *f);
    if (!views_known(r, own, n_own))
        return false;
    f->monitor = req_arg(r, "monitor");
    const char *state = req_arg(r, "state"), *proto = req_arg(r, "protocol");
    const char *scope = req_arg(r, "scope");
    f->search = req_arg(r, "q");
    for (size_t i = 0; i < N_EXACT; i++) { /* empty: no filter, as for q */
        const char *v = req_arg(r, exact_params[i].param);
        *(const char **)((char *)f + exact_params[i].field) = v && *v ? v : NULL;
    }
    if (state && !(f->has_state = cmon_state_parse(state, &f->state))) {
        reply_error(r, 400, "invalid_parameter", "state",
                    "state must be Pass, Warning, Fail, Indeterminate or NotRunning");
        return false;
    }
    if (proto && !(f->has_protocol = parse_protocol(proto, &f->protocol))) {
        reply_error(r, 400, "invalid_parameter", "protocol", "protocol must be Http, Tcp or Icmp");
        return false;
    }
    if (scope) {
        size_t i = 0;
        while (i < sizeof scopes / sizeof scopes[0] && strcmp(scopes[i].name, scope) != 0)
            i++;
        if (i == sizeof scopes / sizeof scopes[0]) {
            reply_error(r, 400, "invalid_parameter", "scope",
                        "scope must be all, sources, destinations, testGroups, "
                        "testConfigurations or monitors");
            return false;
        }
        f->scope = scopes[i].scope;
    }
    return true;
}

static json_t *time_or_null(bool has, int64_t ns)
{
    char buf[40];
    return has ? json_string(cmon_rfc3339(ns, buf, sizeof buf)) : json_null();
}

/* The agents' reports behind the filter's source search (an address finds
 * its agent's tests) and the rows' SourceAddress; false after replying. */
static bool views_sources(struct req *r, struct store *s, struct store_test_filter *f,
                          struct source_book *b, char **agents)
{
    struct cmon_errbuf eb;
    *agents = NULL;
    enum cmon_err err = source_book_load(&r->srv->opts, s, b, &eb);
    if (!err && f->search && *f->search && f->scope == STORE_SCOPE_SOURCES &&
        !(f->source_agents = *agents =
              source_book_select(b, SOURCE_MATCH_ADDRESS_CONTAINS, f->search)))
        err = cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        source_book_free(b);
        reply_store_error(r, err, eb.msg);
    }
    return !err;
}

json_t *view_test_row(const struct store_test *t, const struct source_book *b)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, "
        "s:o, s:o, s:o}",
        "id", t->id, "monitor", t->monitor, "testGroup", t->group, "source", t->source,
        "sourceAddress", source_address_of(b, t), "sourceType", t->source_type, "region",
        source_region_of(b, t), "destination", t->destination, "destinationType",
        t->destination_type, "testConfiguration", t->config, "protocol", cmon_protocol_name(t->protocol),
        "target", t->target, "port", t->port, "state", cmon_state_key(t->state), "reason",
        t->reason, "diagnostic", t->diagnostic, "checksFailedPercent",
        t->has_result ? json_real(t->checks_failed_pct) : json_null(), "roundTripTimeMs",
        t->has_rtt ? json_real(t->rtt_ms) : json_null(), "lastResultAt",
        time_or_null(t->has_result, t->last_result_ns), "stateSince",
        time_or_null(true, t->state_since_ns));
}

struct page {
    const struct source_book *book;
    json_t *items;
    size_t offset, limit, seen;
    bool more;
};

static int page_test(void *arg, const struct store_test *t)
{
    struct page *p = arg;
    if (p->seen++ < p->offset)
        return 0;
    if (json_array_size(p->items) == p->limit) {
        p->more = true;
        return 1;
    }
    json_array_append_new(p->items, view_test_row(t, p->book));
    return 0;
}

static json_t *next_cursor(bool more, size_t offset)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", offset);
    return more ? json_string(buf) : json_null();
}

enum MHD_Result api_view_tests(struct req *r)
{
    static const char *const own[] = {"at", "limit", "cursor"};
    struct store_test_filter f;
    struct page p = {0};
    int64_t at;
    if (!views_filter(r, own, 3, &f) || !views_at(r, &at) || !req_page(r, &p.limit, &p.offset))
        return MHD_YES;
    struct store *s = req_store(r);
    struct source_book book;
    char *agents;
    if (!s || !views_sources(r, s, &f, &book, &agents))
        return MHD_YES;
    p.items = json_array();
    p.book = &book;
    struct cmon_errbuf eb;
    enum cmon_err err = views_test_query(s, &f, at, page_test, &p, &eb);
    source_book_free(&book);
    free(agents);
    if (err) {
        json_decref(p.items);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(
        r, 200,
        json_pack("{s:o, s:o}", "items", p.items, "next", next_cursor(p.more, p.offset + p.limit)));
}

/* ---- roll-ups (DESIGN 4): the one place the views and monitors fold tests ---- */

void view_rollup_init(struct view_rollup *u, bool distinct)
{
    memset(u, 0, sizeof *u);
    u->state = CMON_STATE_NOT_RUNNING;
    u->distinct = distinct;
}

void view_rollup_free(struct view_rollup *u)
{
    for (size_t i = 0; i < ROLLUP_N_SETS; i++)
        json_decref(u->sets[i]);
}

/* Counts a name once in set (made on first use); false when out of memory. */
static bool set_add(json_t **set, const char *name)
{
    if (!name || !*name)
        return true;
    if (!*set && !(*set = json_object()))
        return false;
    return json_object_set_new(*set, name, json_true()) == 0;
}

bool view_rollup_add(struct view_rollup *u, const struct store_test *t, const char *region)
{
    if ((unsigned)t->state < 5)
        u->counts[t->state]++;
    enum cmon_state worse = cmon_state_worse(u->state, t->state);
    if (u->tests++ == 0 || worse != u->state) {
        u->state = worse;
        snprintf(u->reason, sizeof u->reason, "%s", t->reason);
    }
    if (t->has_result && (!u->has_failed || t->checks_failed_pct > u->failed)) {
        u->failed = t->checks_failed_pct;
        u->has_failed = true;
    }
    if (t->has_rtt && (!u->has_rtt || t->rtt_ms > u->rtt)) {
        u->rtt = t->rtt_ms;
        u->has_rtt = true;
    }
    u->enabled |= !t->group_disabled;
    const char *names[ROLLUP_N_SETS] = {t->group, t->source, t->destination, region};
    for (size_t i = 0; u->distinct && i < ROLLUP_N_SETS; i++) {
        if (!set_add(&u->sets[i], names[i]))
            return false;
    }
    return true;
}

size_t view_rollup_distinct(const struct view_rollup *u, enum rollup_set which)
{
    return u->sets[which] ? json_object_size(u->sets[which]) : 0;
}

/* The rolled-up figures every aggregate row carries, added to o. */
json_t *view_rollup_json(json_t *o, const struct view_rollup *u)
{
    if (!o)
        return NULL;
    json_object_set_new(o, "state", json_string(cmon_state_key(u->state)));
    json_object_set_new(o, "reason", json_string(u->reason));
    json_object_set_new(o, "counts", counts_json(u->counts));
    json_object_set_new(o, "testCount", json_integer((json_int_t)u->tests));
    json_object_set_new(o, "checksFailedPercent", u->has_failed ? json_real(u->failed) : json_null());
    json_object_set_new(o, "roundTripTimeMs", u->has_rtt ? json_real(u->rtt) : json_null());
    return o;
}

/* ---- roll-up views ---- */

enum view_kind { VIEW_GROUPS, VIEW_SOURCES, VIEW_DESTINATIONS, VIEW_CONFIGS };

struct agg_row {
    char monitor[96], name[96];
    struct view_rollup u;
};

struct agg {
    enum view_kind kind;
    const struct source_book *book;
    struct agg_row *rows;
    size_t n, cap, last;
    bool nomem;
};

static const char *agg_key(enum view_kind k, const struct store_test *t)
{
    switch (k) {
    case VIEW_GROUPS:
        return t->group;
    case VIEW_SOURCES:
        return t->source;
    case VIEW_DESTINATIONS:
        return t->destination;
    default:
        return t->config;
    }
}

static struct agg_row *agg_find(struct agg *a, const char *monitor, const char *name)
{
    if (a->n && strcmp(a->rows[a->last].name, name) == 0 &&
        strcmp(a->rows[a->last].monitor, monitor) == 0)
        return &a->rows[a->last];
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->rows[i].name, name) == 0 && strcmp(a->rows[i].monitor, monitor) == 0)
            return &a->rows[a->last = i];
    }
    if (!cmon_grow(&a->rows, &a->cap, a->n + 1, sizeof *a->rows))
        return NULL;
    struct agg_row *row = &a->rows[a->last = a->n++];
    snprintf(row->monitor, sizeof row->monitor, "%s", monitor);
    snprintf(row->name, sizeof row->name, "%s", name);
    view_rollup_init(&row->u, a->kind == VIEW_GROUPS);
    return row;
}

static int agg_test(void *arg, const struct store_test *t)
{
    struct agg *a = arg;
    struct agg_row *row = agg_find(a, t->monitor, agg_key(a->kind, t));
    if (!row || !view_rollup_add(&row->u, t, row->u.distinct ? source_region_of(a->book, t) : NULL)) {
        a->nomem = true;
        return 1;
    }
    return 0;
}

static void agg_free(struct agg *a)
{
    for (size_t i = 0; i < a->n; i++)
        view_rollup_free(&a->rows[i].u);
    free(a->rows);
}

/* A row; a test group's also says how many sources and destinations its
 * matching tests have and whether it is enabled. */
static json_t *agg_row_json(enum view_kind kind, const struct agg_row *row)
{
    json_t *o = view_rollup_json(
        json_pack("{s:s, s:s}", "monitor", row->monitor, "name", row->name), &row->u);
    if (o && kind == VIEW_GROUPS) {
        json_object_set_new(o, "sourceCount",
                            json_integer((json_int_t)view_rollup_distinct(&row->u, ROLLUP_SOURCES)));
        json_object_set_new(
            o, "destinationCount",
            json_integer((json_int_t)view_rollup_distinct(&row->u, ROLLUP_DESTINATIONS)));
        json_object_set_new(o, "enabled", json_boolean(row->u.enabled));
    }
    return o;
}

static enum MHD_Result api_view_agg(struct req *r, enum view_kind kind)
{
    static const char *const own[] = {"at", "limit", "cursor"};
    struct store_test_filter f;
    size_t limit, offset;
    int64_t at;
    if (!views_filter(r, own, 3, &f) || !views_at(r, &at) || !req_page(r, &limit, &offset))
        return MHD_YES;
    struct store *s = req_store(r);
    struct source_book book;
    char *agents;
    if (!s || !views_sources(r, s, &f, &book, &agents))
        return MHD_YES;
    bool has_state = f.has_state; /* filters the rolled-up rows, not the tests */
    f.has_state = false;
    struct agg a = {.kind = kind, .book = &book};
    struct cmon_errbuf eb;
    enum cmon_err err = views_test_query(s, &f, at, agg_test, &a, &eb);
    source_book_free(&book);
    free(agents);
    if (!err && a.nomem)
        err = cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        agg_free(&a);
        return reply_store_error(r, err, eb.msg);
    }
    json_t *items = json_array();
    size_t seen = 0;
    bool more = false;
    for (size_t i = 0; i < a.n; i++) {
        if (has_state && a.rows[i].u.state != f.state)
            continue;
        if (seen++ < offset)
            continue;
        if (json_array_size(items) == limit) {
            more = true;
            break;
        }
        json_array_append_new(items, agg_row_json(kind, &a.rows[i]));
    }
    agg_free(&a);
    return reply_json(
        r, 200, json_pack("{s:o, s:o}", "items", items, "next", next_cursor(more, offset + limit)));
}

enum MHD_Result api_view_groups(struct req *r)
{
    return api_view_agg(r, VIEW_GROUPS);
}

enum MHD_Result api_view_sources(struct req *r)
{
    return api_view_agg(r, VIEW_SOURCES);
}

enum MHD_Result api_view_destinations(struct req *r)
{
    return api_view_agg(r, VIEW_DESTINATIONS);
}

enum MHD_Result api_view_configs(struct req *r)
{
    return api_view_agg(r, VIEW_CONFIGS);
}

struct history {
    json_t *items;
    size_t limit;
};

static int history_one(void *arg, const struct store_state_change *c)
{
    struct history *h = arg;
    char ts[40];
    json_array_append_new(h->items, json_pack("{s:s, s:s, s:s, s:s}", "time",
                                              cmon_rfc3339(c->at_ns, ts, sizeof ts), "from",
                                              cmon_state_key(c->from), "to",
                                              cmon_state_key(c->to), "reason", c->reason));
    return json_array_size(h->items) >= h->limit;
}

enum MHD_Result api_test_history(struct req *r)
{
    int64_t from, to;
    size_t limit, offset;
    if (!req_time_arg(r, "from", 0, &from) || !req_time_arg(r, "to", INT64_MAX, &to) ||
        !req_page(r, &limit, &offset))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    struct history h = {.items = json_array(), .limit = limit};
    struct cmon_errbuf eb;
    enum cmon_err err = s->ops->state_changes(s, r->seg[1], from, to, history_one, &h, &eb);
    if (err) {
        json_decref(h.items);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(r, 200, json_pack("{s:o, s:n}", "items", h.items, "next"));
}
