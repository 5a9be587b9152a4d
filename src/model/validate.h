/* validate.h: the validation context shared by the monitor parser's files
 * (monitor.c for the monitor, endpoints.c, configs.c) -- typed field access
 * that records a problem with its position instead of failing fast.
 * Internal to src/model. */
#ifndef CMON_MODEL_VALIDATE_H
#define CMON_MODEL_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>

#include "model/jsonpos.h"
#include "model/monitor.h"

struct vctx {
    const struct jpos_index *pos;
    size_t strip;               /* chars of "properties." to strip from shown paths */
    struct cmon_problems *probs;
    bool oom;
};

/* Path helpers: out = base + "." + key, or base + "[i]". */
void vpath_key(char *out, size_t outlen, const char *base, const char *key);
void vpath_idx(char *out, size_t outlen, const char *base, size_t i);

/* Record a problem at the value (or, at_key, at the member's key) of path. */
void vproblem(struct vctx *v, const char *path, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A problem at path unless name is a valid object name (monitors, rules,
 * action groups: cmon_monitor_name_valid); kind starts the message
 * ("monitor", "rule", "action group"). */
void vcheck_name(struct vctx *v, const char *path, const char *kind, const char *name);

/* Report every member of obj not in known[] (with a did-you-mean), skipping
 * the read-only ones in ignored[] (either list may be NULL). */
void vcheck_fields(struct vctx *v, const json_t *obj, const char *path,
                   const char *const *known, const char *const *ignored);

/* Typed getters: NULL/false when absent (and required -> problem) or of the
 * wrong type (problem). */
const json_t *vget(struct vctx *v, const json_t *obj, const char *base, const char *key,
                   json_type type, bool required);
const char *vget_string(struct vctx *v, const json_t *obj, const char *base, const char *key,
                        bool required);
bool vget_int(struct vctx *v, const json_t *obj, const char *base, const char *key, long lo,
              long hi, long *out);
bool vget_number(struct vctx *v, const json_t *obj, const char *base, const char *key,
                 double *out);
bool vget_bool(struct vctx *v, const json_t *obj, const char *base, const char *key, bool *out);
/* A name: 1-80 printable characters. */
const char *vget_name(struct vctx *v, const json_t *obj, const char *base, const char *kind);

/* Match s case-insensitively against choices; on failure record a problem with
 * a did-you-mean and return -1. */
int vchoice(struct vctx *v, const char *path, const char *what, const char *s,
            const char *const *choices);

char *vstrdup(struct vctx *v, const char *s);

/* Parse text (duplicate keys rejected) and index its positions into *pos,
 * setting v->pos.  NULL after recording the JSON syntax error at its
 * line:column; otherwise the caller decrefs the root and jpos_free()s pos. */
json_t *vload(struct vctx *v, const char *text, size_t len, struct jpos_index *pos);

/* Parsers of the properties' sections (endpoints.c, configs.c). */
bool vparse_endpoint(struct vctx *v, const json_t *j, const char *path, struct cmon_endpoint *ep);
bool vparse_config(struct vctx *v, const json_t *j, const char *path, struct cmon_test_config *c);
bool vparse_status_range(const char *s, struct cmon_status_range *r);

/* One monitor at base ("" for the whole document), in any of the accepted
 * forms (ARM envelope or template resource, bare properties).  Returns the
 * monitor, complete only when no problem was recorded (NULL: out of memory). */
struct cmon_monitor *vparse_monitor(struct vctx *v, const json_t *obj, const char *base,
                                    const char *default_name);

void cmon_endpoint_clear(struct cmon_endpoint *ep);
void cmon_config_clear(struct cmon_test_config *c);

#endif
