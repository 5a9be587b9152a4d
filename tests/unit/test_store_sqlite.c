/* test_store_sqlite.c: what only the SQLite backend does -- WAL mode,
 * migrations recorded in user_version, refusing a newer database, URL forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static int pragma_int(const char *path, const char *pragma, char *text, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, pragma, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
        if (text)
            snprintf(text, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_migrations_and_newer_db(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmon-sqlite-XXXXXX", path[128], url[160], mode[32];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a/b/cmon.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    struct store *s = NULL;
    struct cmon_errbuf eb;
    /* read-only open of a missing database fails instead of creating it */
    assert_int_equal(store_open(url, STORE_READ_ONLY, &s, &eb), CMON_ERR_STORE);
    assert_int_equal(store_open(url, STORE_READ_WRITE, &s, &eb), CMON_OK);
    assert_string_equal(s->ops->name, "sqlite");
    assert_int_equal(s->ops->version, STORE_OPS_VERSION);
    store_close(s);
    assert_int_equal(pragma_int(path, "PRAGMA user_version", NULL, 0), 8); /* migrations 1-8 */
    pragma_int(path, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    /* reopening runs no migration twice */
    assert_int_equal(store_open(url, STORE_READ_WRITE, &s, &eb), CMON_OK);
    store_close(s);

    assert_int_equal(pragma_int(path, "PRAGMA user_version = 99", NULL, 0), -1);
    assert_int_equal(store_open(url, STORE_READ_WRITE, &s, &eb), CMON_ERR_UNSUPPORTED);
    char want[256];
    snprintf(want, sizeof want,
             "%s: database schema version 99 is newer than this cmon "
             "supports (8); upgrade cmon or use another --store",
             path);
    assert_string_equal(eb.msg, want);
    assert_null(s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_urls(void **state)
{
    (void)state;
    struct store *s = NULL;
    struct cmon_errbuf eb;
    /* postgres URLs go to libpq (a socket directory that does not exist: no traffic) */
    assert_int_equal(store_open("postgresql://cmon@/cmon?host=/nonexistent-cmon-dir",
                                STORE_READ_WRITE, &s, &eb),
                     CMON_ERR_STORE);
    assert_memory_equal(eb.msg, "postgres: connect: ", 19);
    assert_null(s);
    assert_int_equal(store_open("mysql://x", STORE_READ_WRITE, &s, &eb), CMON_ERR_INVALID);
    assert_int_equal(store_open("sqlite:", STORE_READ_WRITE, &s, &eb), CMON_ERR_INVALID);
    assert_int_equal(store_open("sqlite::memory:", STORE_READ_WRITE, &s, &eb), CMON_OK);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrations_and_newer_db),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
