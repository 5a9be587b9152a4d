/* api_scopes.c: GET /api/v1/tests/scopes -- what the filter bar's scope
 * selectors offer: the distinct non-empty values every test defined now has
 * for each exact-name filter of the views (testGroup, source, destination,
 * destinationType, testConfiguration), read with one SELECT ... GROUP BY per
 * key (store_ops.test_distinct) instead of every test's row.  Values are
 * in byte order, at most limit per key; keys cut there are listed in
 * "truncated".  It takes no view filter (a selector offers every value, not
 * only those of the tests the other filters keep).  Per request; no shared
 * state; the values are copied into the answer, which the request owns. */
#include <stddef.h>

#include "server/http_parse.h"
#include "server/server_internal.h"

#define SCOPES_DEFAULT 1000
#define SCOPES_MAX 10000

/* The key of each field, as the views' filter parameters spell it. */
static const struct {
    const char *key;
    enum store_test_field field;
} scope_keys[] = {
    {"testGroup", STORE_TF_GROUP},
    {"source", STORE_TF_SOURCE},
    {"destination", STORE_TF_DESTINATION},
    {"destinationType", STORE_TF_DEST_TYPE},
    {"testConfiguration", STORE_TF_CONFIG},
};

struct values {
    json_t *items;
    size_t limit;
    bool more, nomem;
};

static int add_value(void *arg, const char *v)
{
    struct values *x = arg;
    if (json_array_size(x->items) == x->limit) {
        x->more = true;
        return 1;
    }
    x->nomem = json_array_append_new(x->items, json_string(v)) != 0;
    return x->nomem;
}

/* ?limit= (1..SCOPES_MAX, default SCOPES_DEFAULT); false after replying 400. */
static bool scopes_limit(struct req *r, size_t *limit)
{
    const char *v = req_arg(r, "limit");
    *limit = SCOPES_DEFAULT;
    if (v && (!http_parse_size(v, limit) || *limit < 1 || *limit > SCOPES_MAX)) {
        reply_error(r, 400, "invalid_parameter", "limit", "limit must be 1..%d", SCOPES_MAX);
        return false;
    }
    return true;
}

/* One key's values into out[key] (and the key into truncated when cut). */
static enum cmon_err scope_values(struct store *s, size_t i, size_t limit, json_t *out,
                                  json_t *truncated, struct cmon_errbuf *eb)
{
    struct values x = {.items = json_array(), .limit = limit};
    if (!x.items)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    enum cmon_err err = s->ops->test_distinct(s, scope_keys[i].field, limit + 1, add_value, &x, eb);
    if (err || x.nomem) {
        json_decref(x.items);
        return err ? err : cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    if (json_object_set_new(out, scope_keys[i].key, x.items) != 0 ||
        (x.more && json_array_append_new(truncated, json_string(scope_keys[i].key)) != 0))
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    return CMON_OK;
}

enum MHD_Result api_view_scopes(struct req *r)
{
    static const char *const known[] = {"limit"};
    size_t limit;
    if (!req_known_args(r, known, 1) || !scopes_limit(r, &limit))
        return MHD_YES;
    struct store *s = req_store(r);
    if (!s)
        return MHD_YES;
    json_t *out = json_object(), *truncated = json_array();
    struct cmon_errbuf eb;
    enum cmon_err err =
        out && truncated ? CMON_OK : cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < sizeof scope_keys / sizeof scope_keys[0]; i++)
        err = scope_values(s, i, limit, out, truncated, &eb);
    if (!err && json_object_set(out, "truncated", truncated) != 0)
        err = cmon_fail(&eb, CMON_ERR_NOMEM, "out of memory");
    json_decref(truncated);
    if (err) {
        json_decref(out);
        return reply_store_error(r, err, eb.msg);
    }
    return reply_json(r, 200, out);
}
