/* api_views.c: the dashboard's views (DESIGN 10) -- tests, and the roll-ups
 * of tests into test groups, sources, destinations and test configurations.
 * Filters: monitor, state, protocol, q (text) with scope.  Lists are
 * {"items", "next"} with limit/cursor. */
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

bool views_filter(struct req *r, struct store_test_filter *f)
{
    memset(f, 0, sizeof *f);
    f->monitor = req_arg(r, "monitor");
    const char *state = req_arg(r, "state"), *proto = req_arg(r, "protocol");
    const char *scope = req_arg(r, "scope");
    f->search = req_arg(r, "q");
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
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:o, "
        "s:o, s:o}",
        "id", t->id, "monitor", t->monitor, "testGroup", t->group, "source", t->source,
        "sourceAddress", source_address_of(b, t), "sourceType", t->source_type, "region",
        source_region_of(b, t), "destination",
        t->destination, "testConfiguration", t->config, "protocol", cmon_protocol_name(t->protocol),
        "target", t->target, "port", t->port, "state", cmon_state_name(t->state), "reason",
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
    struct store_test_filter f;
    struct page p = {0};
    int64_t at;
    if (!views_filter(r, &f) || !views_at(r, &at) || !req_page(r, &p.limit, &p.offset))
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

/* ---- roll-up views ---- */

enum view_kind { VIEW_GROUPS, VIEW_SOURCES, VIEW_DESTINATIONS, VIEW_CONFIGS };

struct agg_row {
    char monitor[96], name[96];
    size_t counts[5], tests;
    enum cmon_state state;
    char reason[320];
    bool has_failed, has_rtt;
    double failed, rtt;
};

struct agg {
    enum view_kind kind;
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
    memset(row, 0, sizeof *row);
    snprintf(row->monitor, sizeof row->monitor, "%s", monitor);
    snprintf(row->name, sizeof row->name, "%s", name);
    row->state = CMON_STATE_NOT_RUNNING;
    return row;
}

static int agg_test(void *arg, const struct store_test *t)
{
    struct agg *a = arg;
    struct agg_row *row = agg_find(a, t->monitor, agg_key(a->kind, t));
    if (!row) {
        a->nomem = true;
        return 1;
    }
    if ((unsigned)t->state < 5)
        row->counts[t->state]++;
    enum cmon_state worse = cmon_state_worse(row->state, t->state);
    if (row->tests++ == 0 || worse != row->state) {
        row->state = worse;
        snprintf(row->reason, sizeof row->reason, "%s", t->reason);
    }
    if (t->has_result && (!row->has_failed || t->checks_failed_pct > row->failed)) {
        row->failed = t->checks_failed_pct;
        row->has_failed = true;
    }
    if (t->has_rtt && (!row->has_rtt || t->rtt_ms > row->rtt)) {
        row->rtt = t->rtt_ms;
        row->has_rtt = true;
    }
    return 0;
}

static json_t *agg_row_json(const struct agg_row *row)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:o, s:o}", "monitor", row->monitor, "name",
                     row->name, "state", cmon_state_name(row->state), "reason", row->reason,
                     "counts", counts_json(row->counts), "testCount", (json_int_t)row->tests,
                     "checksFailedPercent", row->has_failed ? json_real(row->failed) : json_null(),
                     "roundTripTimeMs", row->has_rtt ? json_real(row->rtt) : json_null());
}

static enum MHD_Result api_view_agg(struct req *r, enum view_kind kind)
{
    struct store_test_filter f;
    size_t limit, offset;
    int64_t at;
    if (!views_filter(r, &f) || !views_at(r, &at) || !req_page(r, &limit, &offset))
        return MHD_YES;
    struct store *s = req_store(r);
    struct source_book book;
    char *agents;
    if (!s || !views_sources(r, s, &f, &book, &agents))
        return MHD_YES;
    bool has_state = f.has_state; /* filters the rolled-up rows, not the tests */
    f.has_state = false;
    struct agg a = {.kind = kind};
    struct cmon_errbuf eb;
    enum cmon_err err = views_test_query(s, &f, at, agg_test, &a, &eb);
    source_book_free(&book);
    free(agents);
    if (!err && a.nomem)
        err = cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    if (err) {
        free(a.rows);
        return reply_store_error(r, err, eb.msg);
    }
    json_t *items = json_array();
    size_t seen = 0;
    bool more = false;
    for (size_t i = 0; i < a.n; i++) {
        if (has_state && a.rows[i].state != f.state)
            continue;
        if (seen++ < offset)
            continue;
        if (json_array_size(items) == limit) {
            more = true;
            break;
        }
        json_array_append_new(items, agg_row_json(&a.rows[i]));
    }
    free(a.rows);
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
                                              cmon_state_name(c->from), "to",
                                              cmon_state_name(c->to), "reason", c->reason));
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
