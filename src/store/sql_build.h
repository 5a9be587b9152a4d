/* sql_build.h: SQL text the SQLite and PostgreSQL backends share, built for
 * one dialect (placeholders ?N or $N::type, and each backend's own source of
 * rows not rolled up yet).  Pure functions: text in a caller's buffer.
 * Ownership: nothing is allocated; the caller owns sql.  Threads: any. */
#ifndef CMON_STORE_SQL_BUILD_H
#define CMON_STORE_SQL_BUILD_H

#include <stddef.h>

#include "store/store.h"

enum sql_dialect { SQL_SQLITE, SQL_POSTGRES };

/* The metric query of q (store_ops.metric_query): parameters 1 bucket
 * width, 2 from, 3 to (integers), 4.. the filter values in order (text).
 * Rows: bucket start, value, samples, oldest first.  Returns 0, or -1 when
 * q is invalid (interval, metric, aggregation, filters) or cap too small. */
int sql_build_metric(enum sql_dialect d, const struct store_metric_query *q, char *sql, size_t cap);

#endif
