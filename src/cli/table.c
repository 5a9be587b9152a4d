/* table.c: the CLI's tables, sized to their content (table.h). */
#include "cli/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

void cli_table_init(struct cli_table *t, size_t n_cols, const char *const *heads)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols < CLI_TABLE_MAX_COLS ? n_cols : CLI_TABLE_MAX_COLS;
    for (size_t c = 0; c < t->n_cols; c++) {
        t->right[c] = heads[c][0] == '>';
        t->heads[c] = heads[c] + t->right[c];
    }
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    /* rows of n_cols cells: one element of the array is a whole row */
    if (!cmon_grow(&t->cells, &t->cap_rows, t->n_rows + 1, t->n_cols * sizeof *t->cells)) {
        t->oom = true;
        return;
    }
    char **row = t->cells + t->n_rows * t->n_cols;
    for (size_t c = 0; c < t->n_cols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        t->oom |= !row[c];
    }
    t->n_rows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_row(const struct cli_table *t, const char *const *cells, const size_t *w)
{
    for (size_t c = 0; c < t->n_cols; c++) {
        const char *s = cells[c] ? cells[c] : "-";
        size_t pad = w[c] > width(s) ? w[c] - width(s) : 0;
        bool last = c + 1 == t->n_cols;
        if (t->right[c])
            printf("%*s%s", (int)pad, "", s);
        else
            printf("%s%*s", s, last ? 0 : (int)pad, "");
        fputs(last ? "\n" : "  ", stdout);
    }
}

void cli_table_print(struct cli_table *t)
{
    size_t w[CLI_TABLE_MAX_COLS];
    for (size_t c = 0; c < t->n_cols; c++) {
        w[c] = width(t->heads[c]);
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t cw = width(t->cells[r * t->n_cols + c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    }
    print_row(t, t->heads, w);
    for (size_t r = 0; r < t->n_rows; r++)
        print_row(t, (const char *const *)t->cells + r * t->n_cols, w);
    if (t->oom)
        fputs("cmon: out of memory: rows are missing from this table\n", stderr);
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
