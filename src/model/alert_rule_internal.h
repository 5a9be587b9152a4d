/* alert_rule_internal.h: helpers shared by alert_rule.c and alert_action.c -- the parse driver
 * (JSON text or value -> validated object, problems sorted by position) and
 * string-vector utilities.  Internal to src/model (src/alert uses the string vectors); pure, thread-safe. */
#ifndef CMON_MODEL_ALERT_RULE_INTERNAL_H
#define CMON_MODEL_ALERT_RULE_INTERNAL_H

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

/* One rule at base, recording problems in v (with positions when v has
 * them); *r is filled (zeroed first), complete only without problems.  The
 * monitor parser uses it for a monitor file's alertRules. */
struct cmon_alert_rule;
void vparse_alert_rule(struct vctx *v, const json_t *obj, const char *base,
                       struct cmon_alert_rule *r);

/* The compact JSON text of j, consumed (NULL: out of memory or j NULL). */
char *alert_dumps(json_t *j);
/* An object parsed from text, or NULL when it does not validate. */
void *alert_loads(const char *text, size_t size, alert_parse_fn parse, alert_free_fn free_fn);

/* Free n strings and the array. */
void alert_strv_free(char **v, size_t n);
/* A JSON array of n strings (a new reference). */
json_t *alert_strv_to_json(char *const *v, size_t n);

#endif
