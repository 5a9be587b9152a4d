/* test_store_url.h: the store a store-backed unit test runs on -- a fresh
 * SQLite database in a new temporary directory, or, when
 * CMON_TEST_STORE_URL is a postgres:// URL (tests/integration/
 * test_pg_store.sh sets it), that database emptied (public schema dropped
 * and made again), so the same assertions run on both backends.
 * Ownership: fills the caller's buffers; the caller removes dir (non-empty
 * only for SQLite).  Threads: the test's. */
#ifndef CMON_TEST_STORE_URL_H
#define CMON_TEST_STORE_URL_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0 on success; dir_tmpl like "/tmp/cmon-x-XXXXXX" (dir gets it, mkdtemp'd). */
static inline int test_store_url(const char *dir_tmpl, char *dir, size_t dir_cap, char *url,
                                 size_t url_cap)
{
    const char *env = getenv("CMON_TEST_STORE_URL");
    dir[0] = '\0';
    if (env && strncmp(env, "postgres", 8) == 0) {
        PGconn *c = PQconnectdb(env);
        int ok = PQstatus(c) == CONNECTION_OK;
        if (ok) {
            PQsetNoticeProcessor(c, NULL, NULL);
            PGresult *r = PQexec(c, "SET client_min_messages = warning;"
                                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
        }
        if (!ok)
            fprintf(stderr, "reset %s: %s", env, PQerrorMessage(c));
        PQfinish(c);
        snprintf(url, url_cap, "%s", env);
        return ok ? 0 : -1;
    }
    snprintf(dir, dir_cap, "%s", dir_tmpl);
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, url_cap, "sqlite:%s/cmon.db", dir);
    return 0;
}

#endif
