/* sources.c: who a test's source agent is (sources.h) -- the addresses and
 * region each agent reports, read from the registry once per request, plus
 * cmon run's embedded agent from the server's options, so SourceAddress is
 * the agent's primary address and a search or filter by address or region
 * finds the agent's tests (DESIGN 6).  Test ids never change: a test still
 * names its agent, the address is looked up. */
#include "server/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/grow.h"
#include "core/text.h"

static bool add(struct source_book *b, const char *name, const char *addresses_json,
                const char *region)
{
    if (!cmon_grow(&b->v, &b->cap, b->n + 1, sizeof *b->v))
        return false;
    json_t *arr = json_loads(addresses_json ? addresses_json : "[]", 0, NULL);
    const char *first = json_string_value(json_array_get(arr, 0));
    struct source_agent *a = &b->v[b->n];
    a->name = cmon_strdup(name);
    a->primary = cmon_strdup(first ? first : "");
    a->addresses = json_is_array(arr) ? arr : json_array();
    if (!json_is_array(arr))
        json_decref(arr);
    a->region = cmon_strdup(region ? region : "");
    if (!a->name || !a->primary || !a->addresses || !a->region) {
        free(a->name);
        free(a->primary);
        free(a->region);
        json_decref(a->addresses);
        return false;
    }
    b->n++;
    return true;
}

static int add_registered(void *arg, const struct store_agent *a)
{
    struct source_book *b = arg;
    if (b->embedded && strcmp(a->name, b->embedded) == 0)
        return 0; /* the embedded agent's facts come from the options */
    if (!add(b, a->name, a->addresses, a->region)) {
        b->nomem = true;
        return 1;
    }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct source_agent *)a)->name, ((const struct source_agent *)b)->name);
}

static int cmp_key(const void *name, const void *a)
{
    return strcmp(name, ((const struct source_agent *)a)->name);
}

enum cmon_err source_book_load(const struct cmon_server_opts *o, struct store *s,
                               struct source_book *b, struct cmon_errbuf *eb)
{
    memset(b, 0, sizeof *b);
    b->embedded = o ? o->embedded_agent : NULL;
    if (b->embedded) {
        const char *text = o->embedded_addresses ? o->embedded_addresses : "[]";
        if (!add(b, o->embedded_agent, text, o->embedded_region))
            return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    enum cmon_err err = s->ops->agent_list ? s->ops->agent_list(s, add_registered, b, eb) : CMON_OK;
    if (!err && b->nomem)
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    if (err)
        source_book_free(b);
    else if (b->n) /* by name, for source_book_find */
        qsort(b->v, b->n, sizeof *b->v, cmp_name);
    return err;
}

void source_book_free(struct source_book *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].name);
        free(b->v[i].primary);
        free(b->v[i].region);
        json_decref(b->v[i].addresses);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* A binary search: /metrics asks once per test, an assignment poll once
 * per source endpoint, and a fleet has thousands of agents (names are
 * unique: the registry's key). */
const struct source_agent *source_book_find(const struct source_book *b, const char *agent)
{
    return agent && b->n ? bsearch(agent, b->v, b->n, sizeof *b->v, cmp_key) : NULL;
}

static int grab_addresses(void *arg, const struct store_agent *a)
{
    struct agent_addrs *out = arg;
    free(out->json);
    out->json = cmon_strdup(a->addresses ? a->addresses : "[]");
    return 1;
}

enum cmon_err agent_addrs_load(struct store *s, const char *agent, struct agent_addrs *out,
                               struct cmon_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    enum cmon_err err = s->ops->agent_get(s, agent, grab_addresses, out, eb);
    if (!err && !out->json)
        out->json = cmon_strdup("[]");
    if (!err && out->json) {
        out->arr = json_loads(out->json, 0, NULL);
        if (!json_is_array(out->arr)) { /* as stored, always an array: none otherwise */
            json_decref(out->arr);
            out->arr = json_array();
        }
    }
    if (!err && (!out->json || !out->arr))
        err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && out->n < AGENT_ADDRS_MAX && i < json_array_size(out->arr); i++) {
        const char *v = json_string_value(json_array_get(out->arr, i));
        if (v)
            out->v[out->n++] = v;
    }
    if (err)
        agent_addrs_free(out);
    return err;
}

void agent_addrs_free(struct agent_addrs *a)
{
    free(a->json);
    json_decref(a->arr);
    memset(a, 0, sizeof *a);
}

bool agent_addrs_member(const struct agent_addrs *a, const struct cmon_endpoint *ep,
                        const char *agent)
{
    return cmon_endpoint_has_agent(ep, agent, a->v, a->n);
}

static const struct source_agent *agent_of(const struct source_book *b, const struct store_test *t)
{
    return strcmp(t->source_type, "Agent") == 0 ? source_book_find(b, t->source_address) : NULL;
}

const char *source_address_of(const struct source_book *b, const struct store_test *t)
{
    const struct source_agent *a = agent_of(b, t);
    return a && a->primary[0] ? a->primary : t->source_address;
}

const char *source_region_of(const struct source_book *b, const struct store_test *t)
{
    const struct source_agent *a = agent_of(b, t);
    return a ? a->region : "";
}

void test_dims_of(const struct source_book *b, const struct store_test *t, struct test_dims *out)
{
    snprintf(out->port, sizeof out->port, "%d", t->port);
    const char *v[CMON_DIM__COUNT] = {
        [CMON_DIM_MONITOR] = t->monitor,
        [CMON_DIM_TEST_GROUP] = t->group,
        [CMON_DIM_SOURCE] = t->source,
        [CMON_DIM_DESTINATION] = t->destination,
        [CMON_DIM_TEST_CONFIG] = t->config,
        [CMON_DIM_PROTOCOL] = cmon_protocol_name(t->protocol),
        [CMON_DIM_SOURCE_ADDRESS] = source_address_of(b, t),
        [CMON_DIM_SOURCE_RESOURCE_ID] = t->source_resource_id,
        [CMON_DIM_SOURCE_TYPE] = t->source_type,
        [CMON_DIM_DEST_ADDRESS] = t->destination_address,
        [CMON_DIM_DEST_RESOURCE_ID] = t->destination_resource_id,
        [CMON_DIM_DEST_TYPE] = t->destination_type,
        [CMON_DIM_DEST_PORT] = out->port,
        [CMON_DIM_REGION] = source_region_of(b, t),
        [CMON_DIM_TEST_ID] = t->id,
    };
    for (int d = 0; d < CMON_DIM__COUNT; d++)
        out->v[d] = v[d] ? v[d] : "";
}

static bool matches(const struct source_agent *a, enum source_match how, const char *value)
{
    if (how == SOURCE_MATCH_REGION)
        return strcasecmp(a->region, value) == 0;
    if (how == SOURCE_MATCH_PRIMARY)
        return strcasecmp(a->primary, value) == 0;
    size_t i;
    json_t *addr;
    json_array_foreach(a->addresses, i, addr)
    {
        const char *s = json_string_value(addr);
        if (s && strcasestr(s, value))
            return true;
    }
    return false;
}

char *source_book_select(const struct source_book *b, enum source_match how, const char *value)
{
    json_t *names = json_array();
    for (size_t i = 0; names && i < b->n; i++) {
        if (matches(&b->v[i], how, value) &&
            json_array_append_new(names, json_string(b->v[i].name)) != 0) {
            json_decref(names);
            return NULL;
        }
    }
    char *text = names ? json_dumps(names, JSON_COMPACT) : NULL;
    json_decref(names);
    return text;
}
