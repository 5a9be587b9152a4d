/* validate.c: problem recording and typed JSON field access for validation. */
#include "model/validate.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/grow.h"
#include "model/monitor.h"
#include "core/text.h"

void vpath_key(char *out, size_t outlen, const char *base, const char *key)
{
    if (base[0])
        snprintf(out, outlen, "%s.%s", base, key);
    else
        snprintf(out, outlen, "%s", key);
}

void vpath_idx(char *out, size_t outlen, const char *base, size_t i)
{
    snprintf(out, outlen, "%s[%zu]", base, i);
}

static void problems_push(struct vctx *v, int line, int col, const char *path, char *msg)
{
    struct cmon_problems *p = v->probs;
    if (!cmon_grow(&p->items, &p->cap, p->n + 1, sizeof *p->items)) {
        v->oom = true;
        free(msg);
        return;
    }
    char *pc = strdup(path);
    if (!pc || !msg) {
        v->oom = true;
        free(pc);
        free(msg);
        return;
    }
    p->items[p->n++] = (struct cmon_problem){line, col, pc, msg};
}

void vproblem(struct vctx *v, const char *path, bool at_key, const char *fmt, ...)
{
    int line = 0, col = 0;
    const struct jpos_entry *e = v->pos ? jpos_find(v->pos, path) : NULL;
    if (e) {
        line = at_key ? e->key_line : e->line;
        col = at_key ? e->key_col : e->col;
    }
    const char *shown = path;
    if (v->strip && strncmp(path, "properties", 10) == 0)
        shown = strlen(path) > v->strip ? path + v->strip : "";
    struct cmon_buf b;
    cmon_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    char tmp[600];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cmon_buf_puts(&b, tmp);
    problems_push(v, line, col, shown, cmon_buf_take(&b));
}

static bool in_list(const char *key, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (strcmp(key, list[i]) == 0)
            return true;
    }
    return false;
}

void vcheck_name(struct vctx *v, const char *path, const char *kind, const char *name)
{
    if (!cmon_monitor_name_valid(name))
        vproblem(v, path, false,
                 "%s name \"%s\" must be 1-80 characters of letters, digits, '.', '_' or '-', "
                 "not starting with '.' or '-'",
                 kind, name);
}

void vcheck_fields(struct vctx *v, const json_t *obj, const char *path, const char *const *known,
                   const char *const *ignored)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (in_list(key, known) || in_list(key, ignored))
            continue;
        char p[512];
        vpath_key(p, sizeof p, path, key);
        size_t n = 0;
        while (known && known[n])
            n++;
        const char *guess = cmon_suggest(key, known, n);
        /* a field of the wrong case is the commonest typo: say so exactly */
        for (size_t i = 0; i < n && !guess; i++) {
            if (strcasecmp(key, known[i]) == 0)
                guess = known[i];
        }
        if (guess)
            vproblem(v, p, true, "unknown field \"%s\" (did you mean \"%s\"?)", key, guess);
        else
            vproblem(v, p, true, "unknown field \"%s\"", key);
    }
}

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

const json_t *vget(struct vctx *v, const json_t *obj, const char *base, const char *key,
                   json_type type, bool required)
{
    char p[512];
    vpath_key(p, sizeof p, base, key);
    const json_t *j = json_object_get(obj, key);
    if (!j) {
        if (required)
            vproblem(v, base, false, "missing required field \"%s\"", key);
        return NULL;
    }
    json_type t = json_typeof(j);
    bool ok = t == type || (type == JSON_TRUE && t == JSON_FALSE) ||
              (type == JSON_REAL && t == JSON_INTEGER);
    if (!ok) {
        vproblem(v, p, false, "must be %s, not %s", type_name(type), type_name(t));
        return NULL;
    }
    return j;
}

const char *vget_string(struct vctx *v, const json_t *obj, const char *base, const char *key,
                        bool required)
{
    const json_t *j = vget(v, obj, base, key, JSON_STRING, required);
    return j ? json_string_value(j) : NULL;
}

bool vget_int(struct vctx *v, const json_t *obj, const char *base, const char *key, long lo,
              long hi, long *out)
{
    char p[512];
    vpath_key(p, sizeof p, base, key);
    const json_t *j = json_object_get(obj, key);
    if (!j)
        return false;
    if (!json_is_integer(j)) {
        vproblem(v, p, false, "must be an integer, not %s", type_name(json_typeof(j)));
        return false;
    }
    json_int_t x = json_integer_value(j);
    if (x < lo || x > hi) {
        vproblem(v, p, false, "must be between %ld and %ld, got %lld", lo, hi, (long long)x);
        return false;
    }
    *out = (long)x;
    return true;
}

bool vget_number(struct vctx *v, const json_t *obj, const char *base, const char *key, double *out)
{
    const json_t *j = vget(v, obj, base, key, JSON_REAL, false);
    if (!j)
        return false;
    *out = json_number_value(j);
    return isfinite(*out);
}

bool vget_bool(struct vctx *v, const json_t *obj, const char *base, const char *key, bool *out)
{
    const json_t *j = vget(v, obj, base, key, JSON_TRUE, false);
    if (!j)
        return false;
    *out = json_is_true(j);
    return true;
}

const char *vget_name(struct vctx *v, const json_t *obj, const char *base, const char *kind)
{
    const char *s = vget_string(v, obj, base, "name", true);
    if (!s)
        return NULL;
    char p[512];
    vpath_key(p, sizeof p, base, "name");
    size_t len = strlen(s);
    if (len == 0 || len > 80) {
        vproblem(v, p, false, "%s name must be 1-80 characters long", kind);
        return NULL;
    }
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            vproblem(v, p, false, "%s name must not contain control characters", kind);
            return NULL;
        }
    }
    return s;
}

int vchoice(struct vctx *v, const char *path, const char *what, const char *s,
            const char *const *choices)
{
    size_t n = 0;
    for (; choices[n]; n++) {
        if (strcasecmp(s, choices[n]) == 0)
            return (int)n;
    }
    const char *guess = cmon_suggest(s, choices, n);
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s\"%s\"", i ? ", " : "", choices[i]);
    }
    if (guess)
        vproblem(v, path, false, "unknown %s \"%s\" (did you mean \"%s\"?); use one of %s", what, s,
                 guess, list);
    else
        vproblem(v, path, false, "unknown %s \"%s\"; use one of %s", what, s, list);
    return -1;
}

char *vstrdup(struct vctx *v, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        v->oom = true;
    return d;
}

json_t *vload(struct vctx *v, const char *text, size_t len, struct jpos_index *pos)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        size_t before = v->probs->n;
        vproblem(v, "", false, "invalid JSON: %s", jerr.text);
        if (v->probs->n > before) {
            v->probs->items[before].line = jerr.line > 0 ? jerr.line : 1;
            v->probs->items[before].col = jerr.column > 0 ? jerr.column : 1;
        }
        return NULL;
    }
    jpos_build(text, len, pos);
    v->pos = pos;
    return root;
}
