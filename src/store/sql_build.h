/* sql_build.h: SQL text the SQLite and PostgreSQL backends share (the
 * metric query, the tests view), built for one dialect (placeholders ?N or
 * $N::type, substring search, collation, and each backend's own source of
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

/* The tests view (store_ops.test_query) for filter f (NULL: every test),
 * in (monitor, number) order.  Parameters are numbered 1..n in params order;
 * STATE and PROTOCOL take integers, the others text.  Columns: the order
 * test_from_row in each backend reads (29 columns). */
enum sql_test_param {
    SQL_TP_MONITOR,
    SQL_TP_TEST_ID,
    SQL_TP_STATE,
    SQL_TP_PROTOCOL,
    SQL_TP_SEARCH,
    SQL_TP_SOURCE_AGENTS, /* text: a JSON array */
    SQL_TP_IDS,           /* text: a JSON array of test ids */
    SQL_TP_GROUP,         /* the exact names of store_test_filter */
    SQL_TP_SOURCE,
    SQL_TP_DESTINATION,
    SQL_TP_CONFIG,
    SQL_TP_DEST_TYPE,
};
#define SQL_TESTS_MAX_PARAMS 12
struct sql_tests {
    char sql[2048];
    enum sql_test_param params[SQL_TESTS_MAX_PARAMS];
    int n;
};
void sql_build_tests(enum sql_dialect d, const struct store_test_filter *f, struct sql_tests *out);
/* The value of a text parameter p of f (NULL for STATE and PROTOCOL). */
const char *sql_test_param_text(const struct store_test_filter *f, enum sql_test_param p);

/* The distinct non-empty values of one test field (store_ops.test_distinct),
 * in byte order; parameter 1 is the row limit (integer).  Returns 0, or -1
 * for an unknown field or a too small cap. */
int sql_build_distinct(enum sql_dialect d, enum store_test_field field, char *sql, size_t cap);

#endif
