/* agent_body.c: agent-protocol body rules and decoders (agent_body.h). */
#include "model/agent_body.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/monitor.h"

bool cmon_agent_name_valid(const char *name)
{
    return name && strlen(name) <= CMON_AGENT_NAME_MAX && cmon_monitor_name_valid(name);
}

bool cmon_agent_text_valid(const char *s, size_t max)
{
    if (!s || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

#define AGENT_MAX_ADDRESSES 32
#define AGENT_TEXT_MAX 64
#define AGENT_SPOOL_MAX 1024

static enum cmon_err refuse(struct cmon_agent_err *e, const char *code, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum cmon_err refuse(struct cmon_agent_err *e, const char *code, const char *field,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    return CMON_ERR_INVALID;
}

/* A reported string that is logged or shown; jansson keeps "\u0000" when
 * asked to, so the length is checked against strlen too. */
static bool text_ok(const json_t *v, size_t max)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
           cmon_agent_text_valid(json_string_value(v), max);
}

static enum cmon_err only_keys(const json_t *body, const char *const *allowed,
                               struct cmon_agent_err *e)
{
    const char *key;
    json_t *v;
    if (!json_is_object(body))
        return refuse(e, "invalid_parameter", NULL, "the body must be a JSON object");
    json_object_foreach((json_t *)body, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(key, allowed[i]) != 0)
            i++;
        if (!allowed[i])
            return refuse(e, "invalid_parameter", key, "unknown field '%.40s'", key);
    }
    return CMON_OK;
}

static enum cmon_err decode_addresses(const json_t *addr, struct cmon_agent_facts *f,
                                      struct cmon_agent_err *e)
{
    bool ok = !addr || (json_is_array(addr) && json_array_size(addr) <= AGENT_MAX_ADDRESSES);
    for (size_t i = 0; ok && addr && i < json_array_size(addr); i++)
        ok = text_ok(json_array_get(addr, i), AGENT_TEXT_MAX);
    if (!ok)
        return refuse(e, "invalid_parameter", "addresses",
                      "addresses must be an array of at most %d strings (<= %d bytes, no "
                      "control characters)",
                      AGENT_MAX_ADDRESSES, AGENT_TEXT_MAX);
    f->addresses = addr ? json_dumps(addr, JSON_COMPACT) : strdup("[]");
    return f->addresses ? CMON_OK : CMON_ERR_NOMEM;
}

/* version, addresses, heartbeatSec: what both bodies carry. */
static enum cmon_err decode_facts(const json_t *body, struct cmon_agent_facts *f,
                                  struct cmon_agent_err *e)
{
    const json_t *ver = json_object_get(body, "version"),
                 *hb = json_object_get(body, "heartbeatSec"), *reg = json_object_get(body, "region");
    if (ver && !text_ok(ver, AGENT_TEXT_MAX))
        return refuse(e, "invalid_parameter", "version",
                      "version must be a string of at most %d bytes without control characters",
                      AGENT_TEXT_MAX);
    if (reg && !text_ok(reg, CMON_AGENT_NAME_MAX))
        return refuse(e, "invalid_parameter", "region",
                      "region must be a string of at most %d bytes without control characters",
                      CMON_AGENT_NAME_MAX);
    f->region = reg ? json_string_value(reg) : "";
    if (hb && (!json_is_integer(hb) || json_integer_value(hb) < 1 || json_integer_value(hb) > 300))
        return refuse(e, "invalid_parameter", "heartbeatSec", "heartbeatSec must be 1..300");
    f->version = ver ? json_string_value(ver) : "";
    f->heartbeat_sec = hb ? (int)json_integer_value(hb) : 0;
    return decode_addresses(json_object_get(body, "addresses"), f, e);
}

enum cmon_err cmon_agent_register_decode(const json_t *body, struct cmon_agent_facts *f,
                                         struct cmon_agent_err *e)
{
    static const char *const allowed[] = {"name",         "version", "addresses",
                                          "heartbeatSec", "region",  NULL};
    memset(f, 0, sizeof *f);
    enum cmon_err err = only_keys(body, allowed, e);
    if (err)
        return err;
    f->name = json_string_value(json_object_get(body, "name"));
    if (!cmon_agent_name_valid(f->name))
        return refuse(e, "invalid_parameter", "name",
                      "name must be 1-%d characters of [A-Za-z0-9._-], not starting with '.' "
                      "or '-'",
                      CMON_AGENT_NAME_MAX);
    return decode_facts(body, f, e);
}

enum cmon_err cmon_agent_heartbeat_decode(const json_t *body, struct cmon_agent_facts *f,
                                          struct cmon_agent_err *e)
{
    static const char *const allowed[] = {"version", "addresses", "heartbeatSec",
                                          "spool",   "region",    NULL};
    memset(f, 0, sizeof *f);
    enum cmon_err err = only_keys(body, allowed, e);
    const json_t *spool = json_object_get(body, "spool");
    if (!err && spool && !json_is_object(spool))
        err = refuse(e, "invalid_parameter", "spool", "spool must be an object");
    if (!err && !(f->spool = spool ? json_dumps(spool, JSON_COMPACT) : strdup("{}")))
        err = CMON_ERR_NOMEM;
    if (!err && strlen(f->spool) > AGENT_SPOOL_MAX)
        err = refuse(e, "invalid_parameter", "spool", "spool is too large");
    return err ? err : decode_facts(body, f, e);
}

void cmon_agent_facts_free(struct cmon_agent_facts *f)
{
    free(f->addresses);
    free(f->spool);
    f->addresses = f->spool = NULL;
}

/* One element decoder of a batch array, over void so rounds and paths
 * share the loop that names the bad element. */
typedef enum cmon_err (*elem_decode_fn)(const json_t *j, void *out, struct cmon_errbuf *eb);

static enum cmon_err round_decode(const json_t *j, void *out, struct cmon_errbuf *eb)
{
    return cmon_round_from_json(j, out, eb);
}

static enum cmon_err path_decode(const json_t *j, void *out, struct cmon_errbuf *eb)
{
    return cmon_path_report_from_json(j, out, eb);
}

/* Decode the array arr (at most max elements of size each) into a new
 * array *out; an absent array is empty when optional. */
static enum cmon_err decode_array(const json_t *arr, const char *name, size_t max, bool optional,
                                  size_t size, elem_decode_fn decode, void **out, size_t *n_out,
                                  struct cmon_agent_err *e)
{
    size_t n = json_array_size(arr);
    if (!arr && optional)
        return CMON_OK;
    if (!json_is_array(arr) || n > max)
        return refuse(e, "invalid_parameter", name, "%s must be an array of at most %zu items",
                      name, max);
    char *items = calloc(n ? n : 1, size);
    if (!(*out = items))
        return CMON_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        struct cmon_errbuf eb = {{0}};
        if (decode(json_array_get(arr, i), items + i * size, &eb) != CMON_OK) {
            char field[32];
            snprintf(field, sizeof field, "%s[%zu]", name, i);
            return refuse(e, "validation_failed", field, "%s: %.200s", field, eb.msg);
        }
    }
    *n_out = n;
    return CMON_OK;
}

enum cmon_err cmon_agent_batch_decode(const json_t *body, struct cmon_agent_batch *b,
                                      struct cmon_agent_err *e)
{
    memset(b, 0, sizeof *b);
    const json_t *batch = json_object_get(body, "batch"), *sid = json_object_get(body, "spoolId");
    const char *spool_id = json_string_value(sid);
    if (!json_is_object(body))
        return refuse(e, "invalid_parameter", NULL, "the body must be a JSON object");
    if (!json_is_integer(batch) || json_integer_value(batch) < 0 ||
        json_integer_value(batch) >= CMON_AGENT_BATCH_LIMIT)
        return refuse(e, "invalid_parameter", "batch",
                      "batch must be the batch's sequence number (an integer 0..2^62-1)");
    if (sid && (!spool_id || strlen(spool_id) != 16 || strspn(spool_id, "0123456789abcdef") != 16))
        return refuse(e, "invalid_parameter", "spoolId",
                      "spoolId must be the spool's id: 16 lowercase hex characters");
    b->seq = json_integer_value(batch);
    snprintf(b->spool_id, sizeof b->spool_id, "%s", spool_id ? spool_id : "");
    void *res = NULL, *paths = NULL; /* no type-punned stores through void ** */
    enum cmon_err err =
        decode_array(json_object_get(body, "results"), "results", CMON_AGENT_MAX_BATCH_RESULTS,
                     false, sizeof *b->results, round_decode, &res, &b->n_results, e);
    b->results = res;
    if (!err)
        err = decode_array(json_object_get(body, "paths"), "paths", CMON_AGENT_MAX_BATCH_PATHS,
                           true, sizeof *b->paths, path_decode, &paths, &b->n_paths, e);
    b->paths = paths;
    if (err)
        cmon_agent_batch_free(b);
    return err;
}

void cmon_agent_batch_free(struct cmon_agent_batch *b)
{
    free(b->results);
    free(b->paths);
    b->results = NULL;
    b->paths = NULL;
    b->n_results = b->n_paths = 0;
}
