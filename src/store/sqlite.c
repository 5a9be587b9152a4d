/* sqlite.c: the SQLite backend of store.h -- opening (WAL, busy timeout),
 * numbered migrations run at start (PRAGMA user_version), the statement
 * cache and the ops table.  A database written by a newer cmon is refused.
 * The other sqlite_*.c files implement the ops by topic. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_internal.h"
#include "store/views_sql.h"

#define SQ_TIME_TEXT(c) " strftime('%Y-%m-%dT%H:%M:%fZ', " c " / 1e9, 'unixepoch')"

/* Migration N brings the schema from version N to N+1.  Never edit a shipped
 * entry: append a new one. */
static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE monitors (name TEXT PRIMARY KEY, body TEXT NOT NULL,"
    " running INTEGER NOT NULL DEFAULT 1, created_ns INTEGER NOT NULL,"
    " updated_ns INTEGER NOT NULL);"
    "CREATE TABLE tests (id TEXT PRIMARY KEY, monitor TEXT NOT NULL, number INTEGER NOT NULL,"
    " test_group TEXT NOT NULL, source TEXT NOT NULL, source_address TEXT NOT NULL,"
    " source_type TEXT NOT NULL, destination TEXT NOT NULL, destination_address TEXT NOT NULL,"
    " destination_type TEXT NOT NULL, test_config TEXT NOT NULL, protocol INTEGER NOT NULL,"
    " target TEXT NOT NULL, port INTEGER NOT NULL, frequency_sec INTEGER NOT NULL,"
    " failed_pct_threshold REAL, rtt_threshold_ms REAL, group_disabled INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT 'no result yet',"
    " state_since_ns INTEGER NOT NULL, last_result_ns INTEGER, checks_failed_pct REAL,"
    " rtt_ms REAL, diagnostic TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX tests_monitor ON tests (monitor, number);"
    /* id: insertion order (max + 1) -- the roll-ups' watermark; retention
     * keeps the watermark in step when it empties the table */
    "CREATE TABLE results (id INTEGER PRIMARY KEY,"
    " test_id TEXT NOT NULL, start_ns INTEGER NOT NULL,"
    " agent TEXT NOT NULL, checks_total INTEGER NOT NULL, checks_failed INTEGER NOT NULL,"
    " rtt_min REAL, rtt_avg REAL, rtt_max REAL, rtt_jitter REAL, diagnostic TEXT NOT NULL,"
    " detail TEXT NOT NULL, http_status INTEGER NOT NULL, dns_ms REAL, connect_ms REAL,"
    " tls_ms REAL, first_byte_ms REAL);"
    "CREATE INDEX results_test_time ON results (test_id, start_ns);"
    "CREATE INDEX results_time ON results (start_ns);"
    /* roll-ups: sums so that averages over any span stay exact; folded from
     * raw rows with id > rollup_state.last_id */
    "CREATE TABLE rollup_state (one INTEGER PRIMARY KEY CHECK (one = 1),"
    " last_id INTEGER NOT NULL);"
    "INSERT INTO rollup_state VALUES (1, 0);"
    "CREATE TABLE rollup_1m (test_id TEXT NOT NULL, bucket_ns INTEGER NOT NULL,"
    " rounds INTEGER NOT NULL, failed_pct_sum REAL NOT NULL, failed_pct_min REAL NOT NULL,"
    " failed_pct_max REAL NOT NULL, rtt_n INTEGER NOT NULL, rtt_sum REAL NOT NULL,"
    " rtt_min REAL, rtt_max REAL, PRIMARY KEY (test_id, bucket_ns)) WITHOUT ROWID;"
    "CREATE TABLE rollup_1h (test_id TEXT NOT NULL, bucket_ns INTEGER NOT NULL,"
    " rounds INTEGER NOT NULL, failed_pct_sum REAL NOT NULL, failed_pct_min REAL NOT NULL,"
    " failed_pct_max REAL NOT NULL, rtt_n INTEGER NOT NULL, rtt_sum REAL NOT NULL,"
    " rtt_min REAL, rtt_max REAL, PRIMARY KEY (test_id, bucket_ns)) WITHOUT ROWID;"
    "CREATE TABLE paths (test_id TEXT NOT NULL, start_ns INTEGER NOT NULL, hops TEXT NOT NULL,"
    " PRIMARY KEY (test_id, start_ns)) WITHOUT ROWID;"
    "CREATE TABLE state_changes (test_id TEXT NOT NULL, at_ns INTEGER NOT NULL,"
    " from_state INTEGER NOT NULL, to_state INTEGER NOT NULL, reason TEXT NOT NULL);"
    "CREATE INDEX state_changes_test ON state_changes (test_id, at_ns);"
    "CREATE TABLE agents (name TEXT PRIMARY KEY, last_seen_ns INTEGER NOT NULL);"
    "CREATE TABLE agent_batches (agent TEXT NOT NULL, seq INTEGER NOT NULL,"
    " received_ns INTEGER NOT NULL, PRIMARY KEY (agent, seq)) WITHOUT ROWID;"
    "CREATE TABLE alert_rules (name TEXT PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE alert_events (id INTEGER PRIMARY KEY, rule TEXT NOT NULL,"
    " test_id TEXT NOT NULL, at_ns INTEGER NOT NULL, message TEXT NOT NULL);"
    "CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL,"
    " created_ns INTEGER NOT NULL);",
    /* 2: alerts wired into the server (sqlite_alerts.c) */
    SQ_MIGRATION_ALERTS,
    /* 3: registered remote agents (src/store/sqlite_agents.c) */
    "CREATE TABLE agent_registry (name TEXT PRIMARY KEY, version TEXT NOT NULL,"
    " addresses TEXT NOT NULL, registered_ns INTEGER NOT NULL, heartbeat_ns INTEGER NOT NULL,"
    " heartbeat_sec INTEGER NOT NULL, spool TEXT NOT NULL DEFAULT '{}');",
    /* 4: the region an agent reports (--region), the Region dimension */
    "ALTER TABLE agent_registry ADD COLUMN region TEXT NOT NULL DEFAULT '';",
    /* 5: the SourceResourceId and DestinationResourceId dimensions */
    "ALTER TABLE tests ADD COLUMN source_resource_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tests ADD COLUMN destination_resource_id TEXT NOT NULL DEFAULT '';",
    /* 6: readable views for the SQL endpoint (store/views_sql.h) */
    VIEWS_SQL(SQ_TIME_TEXT),
    /* 7: alert rules a monitor file holds: their monitor manages them */
    "ALTER TABLE alert_rules ADD COLUMN monitor TEXT;"
    "CREATE INDEX alert_rules_monitor ON alert_rules (monitor);",
    /* 8: the views spell the state as the API does (NotRunning) */
    VIEWS_DROP VIEWS_SQL(SQ_TIME_TEXT),
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static const char *const stmt_sql[SQ__COUNT] = {
    [SQ_MON_INSERT] = "INSERT INTO monitors (name, body, running, created_ns, updated_ns)"
                      " VALUES (?1, ?2, 1, ?3, ?3)",
    [SQ_MON_UPDATE] = "UPDATE monitors SET body = ?2, updated_ns = ?3 WHERE name = ?1",
    [SQ_MON_EXISTS] = "SELECT 1 FROM monitors WHERE name = ?1",
    [SQ_MON_GET] = "SELECT name, body, running, created_ns, updated_ns FROM monitors"
                   " WHERE name = ?1",
    [SQ_MON_LIST] = "SELECT name, body, running, created_ns, updated_ns FROM monitors"
                    " ORDER BY name",
    [SQ_MON_VERSIONS] = "SELECT name, '', running, created_ns, updated_ns FROM monitors"
                        " ORDER BY name",
    [SQ_MON_DELETE] = "DELETE FROM monitors WHERE name = ?1",
    [SQ_MON_RUNNING] = "UPDATE monitors SET running = ?2, updated_ns = ?3 WHERE name = ?1",
    [SQ_MON_COUNT] = "SELECT count(*) FROM monitors",
    [SQ_TESTS_DELETE_STALE] = "DELETE FROM tests WHERE monitor = ?1 AND id NOT IN"
                              " (SELECT value FROM json_each(?2))",
    [SQ_TEST_UPSERT] =
        "INSERT INTO tests (id, monitor, number, test_group, source, source_address,"
        " source_type, destination, destination_address, destination_type, test_config,"
        " protocol, target, port, frequency_sec, failed_pct_threshold, rtt_threshold_ms,"
        " group_disabled, state_since_ns, source_resource_id, destination_resource_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) ON CONFLICT (id) DO UPDATE SET"
        " monitor = ?2, number = ?3, test_group = ?4, source = ?5, source_address = ?6,"
        " source_type = ?7, destination = ?8, destination_address = ?9,"
        " destination_type = ?10, test_config = ?11, protocol = ?12, target = ?13, port = ?14,"
        " frequency_sec = ?15, failed_pct_threshold = ?16, rtt_threshold_ms = ?17,"
        " group_disabled = ?18, source_resource_id = ?20, destination_resource_id = ?21",
    [SQ_TESTS_DELETE] = "DELETE FROM tests WHERE monitor = ?1",
    [SQ_TEST_GET_STATE] = "SELECT state FROM tests WHERE id = ?1",
    [SQ_TEST_SET_STATE] = "UPDATE tests SET state = ?2, reason = ?3,"
                          " state_since_ns = CASE WHEN state = ?2 THEN state_since_ns ELSE ?4 END"
                          " WHERE id = ?1",
    [SQ_CHANGE_ADD] = "INSERT INTO state_changes (test_id, at_ns, from_state, to_state, reason)"
                      " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_CHANGES] = "SELECT test_id, at_ns, from_state, to_state, reason FROM state_changes"
                   " WHERE test_id = ?1 AND at_ns >= ?2 AND at_ns < ?3 ORDER BY at_ns, rowid",
    /* the index (test_id, at_ns, and the rowid it holds) read backwards: no sort */
    [SQ_CHANGE_LAST] = "SELECT test_id, at_ns, from_state, to_state, reason FROM state_changes"
                       " WHERE test_id = ?1 AND at_ns < ?2 ORDER BY at_ns DESC, rowid DESC LIMIT 1",
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_BATCH_MARK] = "INSERT INTO agent_batches (agent, seq, received_ns) VALUES (?1, ?2, ?3)"
                      " ON CONFLICT DO NOTHING",
    [SQ_RESULT_ADD] =
        "INSERT INTO results (test_id, start_ns, agent, checks_total, checks_failed, rtt_min,"
        " rtt_avg, rtt_max, rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms,"
        " tls_ms, first_byte_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16)",
/* Fold raw rows (?1, ?2] into a roll-up of width ?3, adding to what is there,
 * so late rounds land in their bucket exactly. */
#define ROLLUP_FOLD(table)                                                                         \
    "INSERT INTO " table " (test_id, bucket_ns, rounds, failed_pct_sum, failed_pct_min,"           \
    " failed_pct_max, rtt_n, rtt_sum, rtt_min, rtt_max) SELECT test_id, start_ns / ?3 * ?3,"       \
    " count(*), sum(100.0 * checks_failed / checks_total),"                                        \
    " min(100.0 * checks_failed / checks_total), max(100.0 * checks_failed / checks_total),"       \
    " count(rtt_avg), coalesce(sum(rtt_avg), 0), min(rtt_avg), max(rtt_avg) FROM results"          \
    " WHERE id > ?1 AND id <= ?2 GROUP BY 1, 2 ON CONFLICT (test_id, bucket_ns) DO UPDATE SET"     \
    " rounds = rounds + excluded.rounds, failed_pct_sum = failed_pct_sum + "                       \
    "excluded.failed_pct_sum,"                                                                     \
    " failed_pct_min = min(failed_pct_min, excluded.failed_pct_min),"                              \
    " failed_pct_max = max(failed_pct_max, excluded.failed_pct_max),"                              \
    " rtt_n = rtt_n + excluded.rtt_n, rtt_sum = rtt_sum + excluded.rtt_sum,"                       \
    " rtt_min = coalesce(min(rtt_min, excluded.rtt_min), rtt_min, excluded.rtt_min),"              \
    " rtt_max = coalesce(max(rtt_max, excluded.rtt_max), rtt_max, excluded.rtt_max)"
    [SQ_ROLLUP_1M] = ROLLUP_FOLD("rollup_1m"),
    [SQ_ROLLUP_1H] = ROLLUP_FOLD("rollup_1h"),
    [SQ_ROLLUP_RANGE] = "SELECT last_id, (SELECT coalesce(max(id), 0) FROM results)"
                        " FROM rollup_state",
    [SQ_ROLLUP_MARK] = "UPDATE rollup_state SET last_id = ?1",
    [SQ_TEST_LATEST] = "UPDATE tests SET last_result_ns = ?2, checks_failed_pct = ?3,"
                       " rtt_ms = ?4, diagnostic = ?5, detail = ?6 WHERE id = ?1"
                       " AND (last_result_ns IS NULL OR last_result_ns <= ?2)",
#define SQ_RESULT_COLS                                                                             \
    "SELECT agent, test_id, start_ns, checks_total, checks_failed, rtt_min, rtt_avg,"              \
    " rtt_max, rtt_jitter, diagnostic, detail, http_status, dns_ms, connect_ms, tls_ms,"           \
    " first_byte_ms FROM results WHERE "
    [SQ_RESULTS] = SQ_RESULT_COLS "test_id = ?1 AND start_ns >= ?2 AND start_ns < ?3"
                                  " ORDER BY start_ns LIMIT ?4",
    [SQ_RESULTS_MANY] = SQ_RESULT_COLS "test_id IN (SELECT value FROM json_each(?1))"
                                       " AND start_ns >= ?2 AND start_ns < ?3"
                                       " ORDER BY start_ns, test_id LIMIT ?4",
    /* the index (test_id, start_ns, and the rowid id) read backwards: no sort */
    [SQ_RESULT_LAST] = SQ_RESULT_COLS "test_id = ?1 AND start_ns >= ?2 AND start_ns < ?3"
                                      " ORDER BY start_ns DESC, id DESC LIMIT 1",
    [SQ_PATH_PUT] = "INSERT OR REPLACE INTO paths (test_id, start_ns, hops) VALUES (?1, ?2, ?3)",
    [SQ_PATH_LATEST] = "SELECT hops, start_ns FROM paths WHERE test_id = ?1"
                       " ORDER BY start_ns DESC LIMIT 1",
    [SQ_AGENT_SEEN] = "INSERT INTO agents (name, last_seen_ns) VALUES (?1, ?2)"
                      " ON CONFLICT (name) DO UPDATE SET last_seen_ns = max(last_seen_ns, ?2)",
    [SQ_AGENT_GET] = "SELECT last_seen_ns FROM agents WHERE name = ?1",
    [SQ_AGENT_ONE] = SQ_AGENT_ROWS(" WHERE r.name = ?1", " AND a.name = ?1"),
    [SQ_TESTS_ROWID_MAX] = "SELECT coalesce(max(rowid), 0) FROM tests",
    [SQ_EVENT_ADD] = "INSERT INTO alert_events (rule, test_id, at_ns, message)"
                     " VALUES (?1, ?2, ?3, ?4)",
    [SQ_EVENT_LIST] = "SELECT rule, test_id, at_ns, message FROM alert_events"
                      " WHERE at_ns >= ?1 ORDER BY at_ns, id LIMIT ?2",
    [SQ_TOKEN_ADD] = "INSERT INTO tokens (hash, role, name, created_ns) VALUES (?1, ?2, ?3, ?4)",
    [SQ_TOKEN_GET] = "SELECT role, name FROM tokens WHERE hash = ?1",
    [SQ_TOKEN_COUNT] = "SELECT count(*) FROM tokens",
};

enum cmon_err sq_fail(struct sqlite_store *ss, struct cmon_errbuf *eb, const char *what)
{
    /* the extended code tells the many "disk I/O error"s apart (e.g. 522
     * SQLITE_IOERR_SHORT_READ, 4618 SQLITE_IOERR_SHMOPEN) */
    int rc = sqlite3_extended_errcode(ss->db);
    if (rc == SQLITE_IOERR || (rc & 0xff) != SQLITE_IOERR)
        return cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s: %s", what, sqlite3_errmsg(ss->db));
    return cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s: %s (extended code %d)", what,
                     sqlite3_errmsg(ss->db), rc);
}

sqlite3_stmt *sq_stmt(struct sqlite_store *ss, enum sq_stmt id, struct cmon_errbuf *eb)
{
    sqlite3_stmt *st = ss->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(ss->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            sq_fail(ss, eb, "prepare");
            return NULL;
        }
        ss->stmts[id] = st;
        return st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

enum cmon_err sq_exec_stmt(struct sqlite_store *ss, sqlite3_stmt *st, struct cmon_errbuf *eb,
                           const char *what)
{
    int rc = sqlite3_step(st);
    enum cmon_err err = CMON_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = sq_fail(ss, eb, what);
    sqlite3_reset(st);
    return err;
}

enum cmon_err sq_exec(struct sqlite_store *ss, const char *sql, struct cmon_errbuf *eb)
{
    char *msg = NULL;
    if (sqlite3_exec(ss->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        enum cmon_err err = cmon_fail(eb, CMON_ERR_STORE, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return err;
    }
    return CMON_OK;
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void sq_bind_opt_double(sqlite3_stmt *st, int i, bool has, double v)
{
    if (has)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

const char *sq_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static int user_version(struct sqlite_store *ss)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(ss->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Run the migrations the database lacks, each in its own transaction. */
static enum cmon_err migrate(struct sqlite_store *ss, const char *path, struct cmon_errbuf *eb)
{
    int v = user_version(ss);
    if (v < 0)
        return sq_fail(ss, eb, "read schema version");
    if (v > N_MIGRATIONS)
        return cmon_fail(eb, CMON_ERR_UNSUPPORTED,
                         "%s: database schema version %d is newer than this cmon supports "
                         "(%d); upgrade cmon or use another --store",
                         path, v, N_MIGRATIONS);
    if (ss->mode == STORE_READ_ONLY) {
        if (v < N_MIGRATIONS)
            return cmon_fail(eb, CMON_ERR_STORE,
                             "%s: database schema version %d is older than %d; start "
                             "the server once (read-write) to migrate it",
                             path, v, N_MIGRATIONS);
        return CMON_OK;
    }
    for (; v < N_MIGRATIONS; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        enum cmon_err err = sq_exec(ss, "BEGIN IMMEDIATE", eb);
        if (!err)
            err = sq_exec(ss, migrations[v], eb);
        if (!err)
            err = sq_exec(ss, sql, eb);
        if (!err)
            err = sq_exec(ss, "COMMIT", eb);
        if (err) {
            sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
            return err;
        }
    }
    return CMON_OK;
}

static void sq_close(struct store *s)
{
    struct sqlite_store *ss = sq_of(s);
    for (int i = 0; i < SQ__COUNT; i++)
        sqlite3_finalize(ss->stmts[i]);
    sqlite3_finalize(ss->test_by_id);
    sqlite3_finalize(ss->result_add_many);
    sq_stage_free(ss);
    sqlite3_close(ss->db);
    free(ss);
}

/* One server per SQLite database: always the leader (store/leader.h). */
enum cmon_err sq_leader_try(struct store *s, bool *leader, struct cmon_errbuf *eb)
{
    (void)s, (void)eb;
    *leader = true;
    return CMON_OK;
}

/* One server per SQLite database, whose one writer thread runs one write
 * at a time: nothing to wait for. */
enum cmon_err sq_config_serial(struct store *s, bool hold, struct cmon_errbuf *eb)
{
    (void)s, (void)hold, (void)eb;
    return CMON_OK;
}

static const struct store_ops sqlite_ops = {
    .version = STORE_OPS_VERSION,
    .name = "sqlite",
    .close = sq_close,
#define SQ_OP_SLOT(ret, op, args) .op = sq_##op,
    STORE_OPS(SQ_OP_SLOT)
#undef SQ_OP_SLOT
};

/* mkdir -p of path's directory (for a new database file). */
static enum cmon_err make_parent_dirs(const char *path, struct cmon_errbuf *eb)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return cmon_fail(eb, CMON_ERR_INVALID, "store path too long");
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return cmon_fail(eb, CMON_ERR_IO, "mkdir %s: %s", dir, strerror(errno));
        *p = '/';
    }
    return CMON_OK;
}

static enum cmon_err sq_configure(struct sqlite_store *ss, const char *path, struct cmon_errbuf *eb)
{
    sqlite3_busy_timeout(ss->db, 10000);
    sqlite3_extended_result_codes(ss->db, 1);
    if (ss->mode == STORE_READ_WRITE) {
        /* WAL: readers never block the writer.  FULL: each commit syncs the
         * WAL, so a batch acked to an agent (which then drops it from its
         * spool) survives power loss too; NORMAL would only survive process
         * crashes.  The ingest commits up to 50k results at once, so the one
         * sync per commit costs no measurable throughput (bench/RESULTS.md). */
        enum cmon_err err = sq_exec(ss,
                                    "PRAGMA journal_mode = WAL;"
                                    "PRAGMA synchronous = FULL;"
                                    "PRAGMA cache_size = -65536;"
                                    "PRAGMA temp_store = MEMORY;"
                                    "PRAGMA foreign_keys = OFF;",
                                    eb);
        if (err)
            return err;
    } else {
        enum cmon_err err = sq_exec(ss, "PRAGMA query_only = 1", eb);
        if (err)
            return err;
    }
    return migrate(ss, path, eb);
}

/* The database holds token hashes and webhook secrets: owner-only.  SQLite
 * gives the -wal and -shm files the main file's mode, so creating (or
 * tightening) the main file 0600 covers all three, whatever the umask or a
 * pre-existing directory allows.  No umask: it is process-wide. */
static enum cmon_err secure_db_file(const char *path, struct cmon_errbuf *eb)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cmon_fail(eb, CMON_ERR_IO, "open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) != 0) {
        close(fd);
        return cmon_fail(eb, CMON_ERR_IO, "chmod 0600 %s: %s", path, strerror(errno));
    }
    close(fd);
    static const char *const side[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s%s", path, side[i]) < (int)sizeof p)
            chmod(p, 0600); /* from an older cmon; ENOENT is fine */
    }
    return CMON_OK;
}

enum cmon_err store_sqlite_open(const char *path, enum store_mode mode, struct store **out,
                                struct cmon_errbuf *eb)
{
    if (mode == STORE_READ_WRITE && strcmp(path, ":memory:") != 0) {
        enum cmon_err err = make_parent_dirs(path, eb);
        if (!err)
            err = secure_db_file(path, eb);
        if (err)
            return err;
    }
    struct sqlite_store *ss = calloc(1, sizeof *ss);
    if (!ss)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    ss->base.ops = &sqlite_ops;
    ss->mode = mode;
    int flags = SQLITE_OPEN_NOMUTEX |
                (mode == STORE_READ_ONLY ? SQLITE_OPEN_READONLY
                                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path, &ss->db, flags, NULL) != SQLITE_OK) {
        enum cmon_err err = cmon_fail(eb, CMON_ERR_STORE, "open %s: %s", path,
                                      ss->db ? sqlite3_errmsg(ss->db) : "out of memory");
        sq_close(&ss->base);
        return err;
    }
    enum cmon_err err = sq_configure(ss, path, eb);
    if (err) {
        sq_close(&ss->base);
        return err;
    }
    *out = &ss->base;
    return CMON_OK;
}
