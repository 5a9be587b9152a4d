/* table.h: the CLI's tables for people -- rows of strings collected first,
 * then printed with every column as wide as its widest cell (UTF-8 aware),
 * two spaces apart, numbers right-aligned, the last column unpadded, so a
 * long name never pushes a row out of line.
 * Ownership: the table copies every cell; cli_table_print frees it all.
 * Single-threaded (the CLI's main thread). */
#ifndef CMON_CLI_TABLE_H
#define CMON_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_TABLE_MAX_COLS 12

struct cli_table {
    size_t n_cols, n_rows, cap_rows;
    const char *heads[CLI_TABLE_MAX_COLS];
    bool right[CLI_TABLE_MAX_COLS]; /* right-align (numbers) */
    char **cells;                   /* n_rows * n_cols, row-major */
    bool oom;
};

/* heads: the column titles; a title starting with '>' right-aligns the
 * column (the '>' is not shown). */
void cli_table_init(struct cli_table *t, size_t n_cols, const char *const *heads);
/* One row of n_cols cells (NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Print to stdout and free the rows. */
void cli_table_print(struct cli_table *t);

#endif
