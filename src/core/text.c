/* text.c: buffer, edit distance and suggestion helpers. */
#include "core/text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmon_buf_init(struct cmon_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void cmon_buf_free(struct cmon_buf *b)
{
    free(b->data);
    cmon_buf_init(b);
}

static bool buf_reserve(struct cmon_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void cmon_buf_append(struct cmon_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cmon_buf_puts(struct cmon_buf *b, const char *s)
{
    cmon_buf_append(b, s, strlen(s));
}

void cmon_buf_prom_label(struct cmon_buf *b, const char *key, const char *v)
{
    cmon_buf_puts(b, key);
    cmon_buf_puts(b, "=\"");
    while (*v) {
        size_t run = strcspn(v, "\\\"\n"); /* plain bytes go in one piece */
        cmon_buf_append(b, v, run);
        v += run;
        if (*v) {
            cmon_buf_puts(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\");
            v++;
        }
    }
    cmon_buf_puts(b, "\"");
}

void cmon_buf_printf(struct cmon_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *cmon_buf_take(struct cmon_buf *b)
{
    char *s = b->data;
    if (!s && !b->oom)
        s = calloc(1, 1);
    if (b->oom) {
        free(s);
        s = NULL;
    }
    cmon_buf_init(b);
    return s;
}

/* Optimal string alignment distance: insert, delete, substitute, and swap of
 * two neighbours ("shpo" -> "shop" is 1), case-insensitive. */
size_t cmon_edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][MAXLEN + 1];
    if (la > MAXLEN || lb > MAXLEN)
        return (size_t)-1 / 2;
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *cmon_suggest(const char *word, const char *const *candidates, size_t n)
{
    /* one edit per three characters; words under three get none (a one-letter
     * name is one edit from every other one-letter name) */
    size_t len = strlen(word), limit = len < 3 ? 0 : len / 3 < 1 ? 1 : len / 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = cmon_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

char *cmon_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}
