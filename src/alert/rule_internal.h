/* rule_internal.h: helpers shared by rule.c and action.c -- the parse driver
 * (JSON text or value -> validated object, problems sorted by position) and
 * string-vector utilities.  Internal to src/alert; pure, thread-safe. */
#ifndef CMON_ALERT_RULE_INTERNAL_H
#define CMON_ALERT_RULE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "model/monitor.h"
#include "model/validate.h"

/* Fill the object at out (zeroed, size bytes) from j, recording problems. */
typedef void (*alert_parse_fn)(struct vctx *v, const json_t *j, const char *base, void *out);
typedef void (*alert_free_fn)(void *obj);

/* Parse text (duplicate keys rejected) with positions, then run parse.  On
 * CMON_OK *out is a new object; otherwise NULL with problems in probs. */
enum cmon_err alert_parse_text(const char *text, size_t len, struct cmon_problems *probs,
                               size_t size, void **out, alert_parse_fn parse,
                               alert_free_fn free_fn);
/* The same from a value, without positions; prefix starts every path. */
enum cmon_err alert_parse_value(const json_t *j, const char *prefix, struct cmon_problems *probs,
                                size_t size, void **out, alert_parse_fn parse,
                                alert_free_fn free_fn);

/* Free n strings and the array. */
void alert_strv_free(char **v, size_t n);
/* A JSON array of n strings (a new reference). */
json_t *alert_strv_to_json(char *const *v, size_t n);

#endif
