/* jsonpos.h: where each value of a JSON text is (line and column), by JSON
 * path ("testGroups[0].destinations[1]"), so validation errors can name
 * file:line:col.  jansson parses the values; this only records positions.
 * Pure; the index owns its path strings. */
#ifndef CMON_MODEL_JSONPOS_H
#define CMON_MODEL_JSONPOS_H

#include <stddef.h>

struct jpos_entry {
    char *path;
    int line, col;         /* where the value starts, 1-based */
    int key_line, key_col; /* where its key starts (object members), else = line/col */
};

struct jpos_index {
    struct jpos_entry *items;
    size_t n, cap;
};

/* 0 on success, -1 when the text is not well-formed JSON, too deep (> 64
 * levels) or memory ran out; the index then holds what was found so far. */
int jpos_build(const char *text, size_t len, struct jpos_index *idx);
const struct jpos_entry *jpos_find(const struct jpos_index *idx, const char *path);
void jpos_free(struct jpos_index *idx);

#endif
