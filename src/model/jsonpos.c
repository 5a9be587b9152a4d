/* jsonpos.c: a small JSON scanner that records value positions by path. */
#include "model/jsonpos.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/text.h"

#define JPOS_MAX_DEPTH 64

struct scan {
    const char *s;
    size_t len, i;
    int line, col;
    struct jpos_index *idx;
};

static void advance(struct scan *sc)
{
    unsigned char c = (unsigned char)sc->s[sc->i++];
    if (c == '\n') {
        sc->line++;
        sc->col = 1;
    } else if ((c & 0xC0) != 0x80) { /* count code points, not UTF-8 bytes */
        sc->col++;
    }
}

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->len && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i])
        advance(sc);
}

static int add_entry(struct scan *sc, const char *path, int line, int col, int kline, int kcol)
{
    struct jpos_index *idx = sc->idx;
    if (!cmon_grow(&idx->items, &idx->cap, idx->n + 1, sizeof *idx->items))
        return -1;
    char *copy = strdup(path);
    if (!copy)
        return -1;
    idx->items[idx->n++] = (struct jpos_entry){copy, line, col, kline, kcol};
    return 0;
}

/* Scan a string at sc->i (the opening quote); append its decoded text to out
 * when out is non-NULL. */
static int scan_string(struct scan *sc, struct cmon_buf *out)
{
    advance(sc); /* opening quote */
    while (sc->i < sc->len) {
        char c = sc->s[sc->i];
        if (c == '"') {
            advance(sc);
            return 0;
        }
        if ((unsigned char)c < 0x20)
            return -1;
        if (c == '\\') {
            advance(sc);
            if (sc->i >= sc->len)
                return -1;
            char e = sc->s[sc->i];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = strchr(from, e);
            if (hit && e) {
                if (out)
                    cmon_buf_append(out, to + (hit - from), 1);
            } else if (e == 'u') {
                if (out) /* kept raw: keys with \u escapes are rare */
                    cmon_buf_append(out, "\\u", 2);
            } else {
                return -1;
            }
            advance(sc);
            continue;
        }
        if (out)
            cmon_buf_append(out, &sc->s[sc->i], 1);
        advance(sc);
    }
    return -1;
}

static int scan_value(struct scan *sc, struct cmon_buf *path, int kline, int kcol, int depth);

static int scan_container(struct scan *sc, struct cmon_buf *path, int depth, bool object)
{
    char close = object ? '}' : ']';
    advance(sc);
    skip_ws(sc);
    if (sc->i < sc->len && sc->s[sc->i] == close) {
        advance(sc);
        return 0;
    }
    size_t base = path->len;
    for (size_t n = 0;; n++) {
        skip_ws(sc);
        int kline = sc->line, kcol = sc->col;
        if (object) {
            if (sc->i >= sc->len || sc->s[sc->i] != '"')
                return -1;
            if (base > 0)
                cmon_buf_append(path, ".", 1);
            if (scan_string(sc, path))
                return -1;
            skip_ws(sc);
            if (sc->i >= sc->len || sc->s[sc->i] != ':')
                return -1;
            advance(sc);
            skip_ws(sc);
        } else {
            cmon_buf_printf(path, "[%zu]", n);
        }
        if (path->oom || scan_value(sc, path, kline, kcol, depth + 1))
            return -1;
        path->len = base;
        path->data[base] = '\0';
        skip_ws(sc);
        if (sc->i >= sc->len)
            return -1;
        if (sc->s[sc->i] == ',') {
            advance(sc);
            continue;
        }
        if (sc->s[sc->i] != close)
            return -1;
        advance(sc);
        return 0;
    }
}

static int scan_value(struct scan *sc, struct cmon_buf *path, int kline, int kcol, int depth)
{
    if (depth > JPOS_MAX_DEPTH)
        return -1;
    skip_ws(sc);
    if (sc->i >= sc->len)
        return -1;
    int line = sc->line, col = sc->col;
    if (kline == 0) {
        kline = line;
        kcol = col;
    }
    if (add_entry(sc, path->data ? path->data : "", line, col, kline, kcol))
        return -1;
    char c = sc->s[sc->i];
    if (c == '{' || c == '[')
        return scan_container(sc, path, depth, c == '{');
    if (c == '"')
        return scan_string(sc, NULL);
    /* number, true, false, null: consume the token */
    size_t start = sc->i;
    while (sc->i < sc->len && strchr("+-.0123456789eEtrufalsn", sc->s[sc->i]) && sc->s[sc->i])
        advance(sc);
    return sc->i > start ? 0 : -1;
}

int jpos_build(const char *text, size_t len, struct jpos_index *idx)
{
    memset(idx, 0, sizeof *idx);
    struct scan sc = {text, len, 0, 1, 1, idx};
    struct cmon_buf path;
    cmon_buf_init(&path);
    cmon_buf_puts(&path, "");
    int rc = scan_value(&sc, &path, 0, 0, 0);
    cmon_buf_free(&path);
    return rc;
}

const struct jpos_entry *jpos_find(const struct jpos_index *idx, const char *path)
{
    for (size_t i = 0; i < idx->n; i++) {
        if (strcmp(idx->items[i].path, path) == 0)
            return &idx->items[i];
    }
    return NULL;
}

void jpos_free(struct jpos_index *idx)
{
    for (size_t i = 0; i < idx->n; i++)
        free(idx->items[i].path);
    free(idx->items);
    memset(idx, 0, sizeof *idx);
}
