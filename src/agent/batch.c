/* batch.c: batch cutting and halving (batch.h).  Sizes are measured with
 * jansson's own serializer (json_dumpb without a buffer), so the budget
 * counts exactly what goes on the wire. */
#include "agent/batch.h"

#include <stdlib.h>
#include <string.h>

#define ENVELOPE_BYTES 256

size_t agent_batch_budget(size_t max_bytes)
{
    size_t margin = max_bytes / 16 + ENVELOPE_BYTES;
    return max_bytes > 2 * margin ? max_bytes - margin : max_bytes / 2;
}

static size_t item_bytes(const json_t *item)
{
    return json_dumpb(item, NULL, 0, JSON_COMPACT) + 1; /* and its comma */
}

/* How many leading items of arr fit in *budget (at most max, and at least
 * one when must_take); *budget shrinks by what they take. */
static size_t fit(const json_t *arr, size_t max, size_t *budget, int must_take)
{
    size_t n = 0;
    while (n < json_array_size(arr) && n < max) {
        size_t b = item_bytes(json_array_get(arr, n));
        if (b > *budget && !(must_take && n == 0))
            break;
        *budget = b > *budget ? 0 : *budget - b;
        n++;
    }
    return n;
}

static json_t *take_prefix(json_t *arr, size_t n)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++)
        json_array_append(out, json_array_get(arr, i));
    for (size_t i = 0; out && i < n; i++)
        json_array_remove(arr, 0);
    return out;
}

static char *batch_text(uint64_t seq, const char *spool_id, json_t *rounds, json_t *paths)
{
    json_t *b =
        json_pack("{s:I, s:o, s:o}", "batch", (json_int_t)seq, "results", rounds, "paths", paths);
    if (b && spool_id && *spool_id)
        json_object_set_new(b, "spoolId", json_string(spool_id));
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    return text;
}

char *agent_batch_cut(json_t *rounds, json_t *paths, const struct agent_batch_limits *lim,
                      uint64_t seq, const char *spool_id, uint32_t *n_results)
{
    size_t budget = agent_batch_budget(lim->max_bytes);
    size_t nr = fit(rounds, lim->max_rounds, &budget, 1);
    size_t np = fit(paths, lim->max_paths, &budget, nr == 0);
    json_t *r = take_prefix(rounds, nr), *p = take_prefix(paths, np);
    if (!r || !p) {
        json_decref(r);
        json_decref(p);
        return NULL;
    }
    *n_results = (uint32_t)nr;
    return batch_text(seq, spool_id, r, p);
}

/* The items [from, to) of results-then-paths as a batch text. */
static char *slice(json_t *res, json_t *paths, size_t from, size_t to, uint64_t seq,
                   const char *spool_id, uint32_t *n_results)
{
    json_t *r = json_array(), *p = json_array();
    size_t nr = json_array_size(res);
    for (size_t i = from; r && p && i < to; i++) {
        if (i < nr)
            json_array_append(r, json_array_get(res, i));
        else
            json_array_append(p, json_array_get(paths, i - nr));
    }
    *n_results = (uint32_t)json_array_size(r);
    if (!r || !p) {
        json_decref(r);
        json_decref(p);
        return NULL;
    }
    return batch_text(seq, spool_id, r, p);
}

enum cmon_err agent_batch_halve(const char *text, size_t len, uint64_t seq_a, uint64_t seq_b,
                                struct agent_batch_half out[2], struct cmon_errbuf *eb)
{
    json_t *b = json_loadb(text, len, 0, NULL);
    json_t *res = json_object_get(b, "results"), *paths = json_object_get(b, "paths");
    const char *spool_id = json_string_value(json_object_get(b, "spoolId"));
    memset(out, 0, 2 * sizeof *out);
    if (!json_is_array(res) || (paths && !json_is_array(paths))) {
        json_decref(b);
        return cmon_fail(eb, CMON_ERR_INVALID, "not a results batch");
    }
    size_t n = json_array_size(res) + json_array_size(paths);
    enum cmon_err err = CMON_OK;
    if (n < 2) {
        err = cmon_fail(eb, CMON_ERR_LIMIT, "a single item cannot be split");
    } else {
        out[0].text = slice(res, paths, 0, n / 2, seq_a, spool_id, &out[0].n_results);
        out[1].text = slice(res, paths, n / 2, n, seq_b, spool_id, &out[1].n_results);
        if (!out[0].text || !out[1].text) {
            free(out[0].text);
            free(out[1].text);
            memset(out, 0, 2 * sizeof *out);
            err = cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
        }
    }
    json_decref(b);
    return err;
}

size_t agent_batch_items(const char *text, size_t len, size_t *n_results)
{
    json_t *b = json_loadb(text, len, 0, NULL);
    *n_results = json_array_size(json_object_get(b, "results"));
    size_t n = *n_results + json_array_size(json_object_get(b, "paths"));
    json_decref(b);
    return n;
}
