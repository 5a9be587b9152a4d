/* sqlite_paths.c: path history queries (traceroute paths of one test over a
 * time range).  Prepared per call: history is read rarely, by people. */
#include <sqlite3.h>

#include "store/sqlite_internal.h"

enum cmon_err sq_path_query(struct store *s, const char *test_id, int64_t from_ns, int64_t to_ns,
                            size_t limit, store_path_cb cb, void *arg, struct cmon_errbuf *eb)
{
    struct sqlite_store *ss = sq_of(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(ss->db,
                           "SELECT start_ns, hops FROM paths WHERE test_id = ?1 AND start_ns >= ?2"
                           " AND start_ns < ?3 ORDER BY start_ns LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_fail(ss, eb, "prepare path query");
    sqlite3_bind_text(st, 1, test_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from_ns);
    sqlite3_bind_int64(st, 3, to_ns);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(limit > 1000000 ? 1000000 : limit));
    enum cmon_err err = CMON_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb(arg, sqlite3_column_int64(st, 0), sq_col_text(st, 1)) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(ss, eb, "read paths");
    sqlite3_finalize(st);
    return err;
}
