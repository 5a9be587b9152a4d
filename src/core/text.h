/* text.h: small string helpers -- a growable buffer, edit distance for
 * "did you mean" suggestions, and a NULL-safe strdup.  Pure, thread-safe. */
#ifndef CMON_CORE_TEXT_H
#define CMON_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* A growable NUL-terminated buffer.  Owns data; free with cmon_buf_free().
 * On allocation failure the buffer sets oom and further appends do nothing. */
struct cmon_buf {
    char *data;
    size_t len, cap;
    bool oom;
};

void cmon_buf_init(struct cmon_buf *b);
void cmon_buf_free(struct cmon_buf *b);
void cmon_buf_append(struct cmon_buf *b, const char *s, size_t n);
void cmon_buf_puts(struct cmon_buf *b, const char *s);
void cmon_buf_printf(struct cmon_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* key="value" as a Prometheus label: backslash, quote and newline in value
 * escaped (the text exposition format). */
void cmon_buf_prom_label(struct cmon_buf *b, const char *key, const char *value);
/* Hand the string to the caller (who frees it); the buffer is empty after. */
char *cmon_buf_take(struct cmon_buf *b);

/* Levenshtein distance, case-insensitive; large strings count as far apart. */
size_t cmon_edit_distance(const char *a, const char *b);
/* The candidate closest to word if it is close enough to be a likely typo
 * (distance <= len/3; words under 3 characters only match case-insensitively), else NULL.  NULL candidates are skipped. */
const char *cmon_suggest(const char *word, const char *const *candidates, size_t n);

/* strdup that returns NULL for NULL. */
char *cmon_strdup(const char *s);

#endif
