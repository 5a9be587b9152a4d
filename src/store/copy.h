/* copy.h: `cmon migrate` -- copy a single-node SQLite installation into an
 * empty PostgreSQL database, table by table (raw results, roll-ups, state
 * history, tokens, alert rules and events, registered agents, action groups,
 * alert episodes and their history: everything), in one PostgreSQL
 * transaction, so a failed copy leaves the target empty.
 * Threads: any one thread; opens and closes its own connections. */
#ifndef CMON_STORE_COPY_H
#define CMON_STORE_COPY_H

#include <stdint.h>

#include "core/err.h"

/* Called after each table with the number of rows copied. */
typedef void (*store_copy_progress)(void *arg, const char *table, int64_t rows);

/* from: "sqlite:PATH"; to: "postgres://..." (migrated first; must hold no
 * monitors, tests, results or tokens: CMON_ERR_EXISTS otherwise). */
enum cmon_err store_copy_sqlite_to_postgres(const char *from, const char *to,
                                            store_copy_progress progress, void *arg,
                                            struct cmon_errbuf *eb);

#endif
