/* postgres.c: the PostgreSQL backend of store.h -- connecting (libpq),
 * numbered migrations run under an advisory lock so that replicas starting
 * together migrate once, results partitions by day, the leader lock and the
 * ops table.  A database written by a newer cmon is refused.  The other
 * postgres_*.c files implement the ops by topic. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/pg_internal.h"
#include "store/views_sql.h"

#define PG_TIME_TEXT(c)                                                                            \
    " to_char(to_timestamp(" c " / 1e9) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#define PG_COLS_ROLLUP                                                                             \
    " (test_id TEXT NOT NULL, bucket_ns BIGINT NOT NULL, rounds BIGINT NOT NULL,"                  \
    " failed_pct_sum DOUBLE PRECISION NOT NULL, failed_pct_min DOUBLE PRECISION NOT NULL,"         \
    " failed_pct_max DOUBLE PRECISION NOT NULL, rtt_n BIGINT NOT NULL,"                            \
    " rtt_sum DOUBLE PRECISION NOT NULL, rtt_min DOUBLE PRECISION, rtt_max DOUBLE PRECISION,"      \
    " PRIMARY KEY (test_id, bucket_ns))"

/* Migration N brings the schema from version N to N+1.  Never edit a shipped
 * entry: append a new one.  Column names match the SQLite schema so that
 * `cmon migrate` copies table by table. */
/* The SQL endpoint's role reads the views, where the role exists and this
 * user may grant. */
#define PG_VIEWS_GRANT                                                                             \
    "DO $$ BEGIN"                                                                                  \
    " IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'cmon_sql') THEN"                            \
    "  GRANT SELECT ON v_tests, v_results, v_state_changes TO cmon_sql;"                           \
    " END IF;"                                                                                     \
    " EXCEPTION WHEN insufficient_privilege THEN NULL;"                                            \
    " END $$;"

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE monitors (name TEXT PRIMARY KEY, body TEXT NOT NULL,"
    " running BOOLEAN NOT NULL DEFAULT true, created_ns BIGINT NOT NULL,"
    " updated_ns BIGINT NOT NULL);"
    "CREATE TABLE tests (id TEXT PRIMARY KEY, monitor TEXT NOT NULL, number INTEGER NOT NULL,"
    " test_group TEXT NOT NULL, source TEXT NOT NULL, source_address TEXT NOT NULL,"
    " source_type TEXT NOT NULL, destination TEXT NOT NULL, destination_address TEXT NOT NULL,"
    " destination_type TEXT NOT NULL, test_config TEXT NOT NULL, protocol INTEGER NOT NULL,"
    " target TEXT NOT NULL, port INTEGER NOT NULL, frequency_sec INTEGER NOT NULL,"
    " failed_pct_threshold DOUBLE PRECISION, rtt_threshold_ms DOUBLE PRECISION,"
    " group_disabled BOOLEAN NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT 'no result yet', state_since_ns BIGINT NOT NULL,"
    " last_result_ns BIGINT, checks_failed_pct DOUBLE PRECISION, rtt_ms DOUBLE PRECISION,"
    " diagnostic TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '')"
    /* every round rewrites its test's live figures: room on each page keeps
     * those updates HOT (no index writes) */
    " WITH (fillfactor = 50);"
    "CREATE INDEX tests_monitor ON tests (monitor, number);"
    /* raw results, one partition per UTC day: retention drops whole days */
    "CREATE TABLE results (test_id TEXT NOT NULL, start_ns BIGINT NOT NULL,"
    " agent TEXT NOT NULL, checks_total INTEGER NOT NULL, checks_failed INTEGER NOT NULL,"
    " rtt_min DOUBLE PRECISION, rtt_avg DOUBLE PRECISION, rtt_max DOUBLE PRECISION,"
    " rtt_jitter DOUBLE PRECISION, diagnostic TEXT NOT NULL, detail TEXT NOT NULL,"
    " http_status INTEGER NOT NULL, dns_ms DOUBLE PRECISION, connect_ms DOUBLE PRECISION,"
    " tls_ms DOUBLE PRECISION, first_byte_ms DOUBLE PRECISION) PARTITION BY RANGE (start_ns);"
    "CREATE INDEX results_test_time ON results (test_id, start_ns);"
    /* rows not yet folded into the roll-ups: a queue, so that concurrent
     * writers on several replicas never race a watermark */
    "CREATE TABLE rollup_pending (test_id TEXT NOT NULL, start_ns BIGINT NOT NULL,"
    " failed_pct DOUBLE PRECISION NOT NULL, rtt_avg DOUBLE PRECISION);"
    "CREATE TABLE rollup_1m" PG_COLS_ROLLUP ";"
    "CREATE TABLE rollup_1h" PG_COLS_ROLLUP ";"
    "CREATE TABLE paths (test_id TEXT NOT NULL, start_ns BIGINT NOT NULL, hops TEXT NOT NULL,"
    " PRIMARY KEY (test_id, start_ns));"
    "CREATE TABLE state_changes (id BIGSERIAL PRIMARY KEY, test_id TEXT NOT NULL,"
    " at_ns BIGINT NOT NULL, from_state INTEGER NOT NULL, to_state INTEGER NOT NULL,"
    " reason TEXT NOT NULL);"
    "CREATE INDEX state_changes_test ON state_changes (test_id, at_ns);"
    "CREATE TABLE agents (name TEXT PRIMARY KEY, last_seen_ns BIGINT NOT NULL);"
    "CREATE TABLE agent_batches (agent TEXT NOT NULL, seq BIGINT NOT NULL,"
    " received_ns BIGINT NOT NULL, PRIMARY KEY (agent, seq));"
    "CREATE TABLE alert_rules (name TEXT PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE alert_events (id BIGSERIAL PRIMARY KEY, rule TEXT NOT NULL,"
    " test_id TEXT NOT NULL, at_ns BIGINT NOT NULL, message TEXT NOT NULL);"
    "CREATE TABLE tokens (hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL,"
    " created_ns BIGINT NOT NULL);"
    /* the read-only SQL endpoint runs as cmon_sql, which reads the result
     * tables only; without CREATEROLE the endpoint says so instead */
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cmon_sql') THEN"
    "  CREATE ROLE cmon_sql NOLOGIN; END IF;"
    " GRANT SELECT ON monitors, tests, results, rollup_1m, rollup_1h, paths, state_changes,"
    "  alert_events TO cmon_sql;"
    " EXECUTE format('GRANT USAGE ON SCHEMA %I TO cmon_sql', current_schema());"
    " IF NOT pg_has_role(current_user, 'cmon_sql', 'MEMBER') THEN"
    "  EXECUTE format('GRANT cmon_sql TO %I', current_user); END IF;"
    " EXCEPTION WHEN insufficient_privilege THEN"
    "  RAISE NOTICE 'cmon: no CREATEROLE: the SQL endpoint stays off';"
    " END $$;",
    /* 2: alerts wired into the server (postgres_alerts.c) and registered
     * remote agents (postgres_agents.c), as SQLite's migrations 2 and 3 */
    "CREATE TABLE action_groups (name TEXT PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE alerts (key TEXT NOT NULL, starts_ns BIGINT NOT NULL, rule TEXT NOT NULL,"
    " state TEXT NOT NULL, updated_ns BIGINT NOT NULL, monitors JSONB NOT NULL,"
    " body TEXT NOT NULL, PRIMARY KEY (key, starts_ns));"
    "CREATE INDEX alerts_state ON alerts (state);"
    "CREATE INDEX alerts_starts ON alerts (starts_ns);"
    "CREATE TABLE alert_transitions (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL,"
    " rule TEXT NOT NULL, event TEXT NOT NULL, at_ns BIGINT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL);"
    "CREATE INDEX alert_transitions_key ON alert_transitions (key, at_ns);"
    "CREATE TABLE agent_registry (name TEXT PRIMARY KEY, version TEXT NOT NULL,"
    " addresses TEXT NOT NULL, registered_ns BIGINT NOT NULL, heartbeat_ns BIGINT NOT NULL,"
    " heartbeat_sec INTEGER NOT NULL, spool TEXT NOT NULL DEFAULT '{}');"
    /* the SQL endpoint reads alert history as on SQLite (not action groups:
     * their webhooks hold secrets) */
    "DO $$ BEGIN"
    " IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'cmon_sql') THEN"
    "  GRANT SELECT ON alerts, alert_transitions TO cmon_sql; END IF;"
    " EXCEPTION WHEN insufficient_privilege THEN NULL;"
    " END $$;",
    /* 3: the region an agent reports (--region), the Region dimension */
    "ALTER TABLE agent_registry ADD COLUMN region TEXT NOT NULL DEFAULT '';",
    /* 4: the SourceResourceId and DestinationResourceId dimensions */
    "ALTER TABLE tests ADD COLUMN source_resource_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE tests ADD COLUMN destination_resource_id TEXT NOT NULL DEFAULT '';",
    /* 5: readable views for the SQL endpoint (store/views_sql.h) */
    VIEWS_SQL(PG_TIME_TEXT) PG_VIEWS_GRANT,
    /* 6: alert rules a monitor file holds: their monitor manages them */
    "ALTER TABLE alert_rules ADD COLUMN monitor TEXT;"
    "CREATE INDEX alert_rules_monitor ON alert_rules (monitor);",
    /* 7: the views spell the state as the API does (NotRunning) */
    VIEWS_DROP VIEWS_SQL(PG_TIME_TEXT) PG_VIEWS_GRANT,
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

enum cmon_err pg_fail_res(struct pg_store *ps, const PGresult *res, struct cmon_errbuf *eb,
                          const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = PQerrorMessage(ps->conn);
    char clean[400];
    snprintf(clean, sizeof clean, "%s", msg);
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = '\0';
    enum cmon_err err = state && strcmp(state, "57014") == 0 ? CMON_ERR_TIMEOUT : CMON_ERR_STORE;
    return cmon_fail(eb, err, "postgres: %s: %s", what, clean);
}

PGresult *pg_query(struct pg_store *ps, const char *sql, int n, const char *const *vals,
                   struct cmon_errbuf *eb, const char *what)
{
    /* without parameters: the simple protocol, which allows several statements */
    PGresult *res =
        n ? PQexecParams(ps->conn, sql, n, NULL, vals, NULL, NULL, 0) : PQexec(ps->conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    pg_fail_res(ps, res, eb, what);
    PQclear(res);
    return NULL;
}

/* Names of the statements pg_query_prepared knows, one bit each. */
static const char *const prepared_names[] = {"cmon_test_by_id", "cmon_set_state"};

PGresult *pg_query_prepared(struct pg_store *ps, const char *name, const char *sql, int n,
                            const char *const *vals, struct cmon_errbuf *eb, const char *what)
{
    unsigned bit = 0;
    for (unsigned i = 0; i < sizeof prepared_names / sizeof prepared_names[0]; i++) {
        if (strcmp(prepared_names[i], name) == 0)
            bit = 1u << i;
    }
    if (!bit)
        return pg_query(ps, sql, n, vals, eb, what);
    if (!(ps->prepared & bit)) {
        PGresult *p = PQprepare(ps->conn, name, sql, n, NULL);
        bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;
        if (!ok)
            pg_fail_res(ps, p, eb, what);
        PQclear(p);
        if (!ok)
            return NULL;
        ps->prepared |= bit;
    }
    PGresult *res = PQexecPrepared(ps->conn, name, n, vals, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    pg_fail_res(ps, res, eb, what);
    PQclear(res);
    return NULL;
}

enum cmon_err pg_exec(struct pg_store *ps, const char *sql, int n, const char *const *vals,
                      long long *affected, struct cmon_errbuf *eb, const char *what)
{
    PGresult *res = pg_query(ps, sql, n, vals, eb, what);
    if (!res)
        return CMON_ERR_STORE;
    if (affected)
        *affected = atoll(PQcmdTuples(res));
    PQclear(res);
    return CMON_OK;
}

enum cmon_err pg_begin(struct pg_store *ps, struct cmon_errbuf *eb)
{
    return pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
}

enum cmon_err pg_end(struct pg_store *ps, enum cmon_err err, struct cmon_errbuf *eb)
{
    if (!err)
        err = pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    if (err)
        PQclear(PQexec(ps->conn, "ROLLBACK"));
    return err;
}

/* The decimal digits of u, written backwards ending at end; returns the first. */
static char *digits_before(char *end, uint64_t u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

/* Without printf: the ingest writes several numbers per result. */
const char *pg_i64(char *buf, int64_t v)
{
    char tmp[24];
    char *p = digits_before(tmp + sizeof tmp, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

const char *pg_dbl(char *buf, bool has, double v)
{
    if (!has)
        return NULL;
    /* Most figures are the double nearest to m / 10^6 for an integer m (an
     * RTT measured in nanoseconds, a whole percentage): both that division
     * and PostgreSQL's parse of the decimal "m / 10^6" round the same exact
     * number to nearest, so the short decimal reads back as exactly v.  It
     * spares "%.17g" (a third of the ingest's own CPU in a profile); every
     * other v still gets the 17 digits that read back exactly. */
    if (fabs(v) < 1e9) {
        long long m = llround(v * 1e6);
        if ((double)m / 1e6 == v) {
            uint64_t u = m < 0 ? 0 - (uint64_t)m : (uint64_t)m;
            char tmp[32], *end = tmp + sizeof tmp, *p = end;
            unsigned frac = (unsigned)(u % 1000000);
            if (frac) {
                int w = 6;
                while (frac % 10 == 0) {
                    frac /= 10;
                    w--;
                }
                for (; w > 0; w--, frac /= 10)
                    *--p = (char)('0' + frac % 10);
                *--p = '.';
            }
            p = digits_before(p, u / 1000000);
            if (m < 0)
                *--p = '-';
            size_t n = (size_t)(end - p);
            memcpy(buf, p, n);
            buf[n] = '\0';
            return buf;
        }
    }
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

int64_t pg_col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double pg_col_dbl(const PGresult *r, int row, int col)
{
    return strtod(PQgetvalue(r, row, col), NULL);
}

bool pg_col_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

bool pg_col_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

int64_t pg_day_of(int64_t ns)
{
    int64_t d = ns / PG_NS_PER_DAY;
    return (ns % PG_NS_PER_DAY < 0) ? d - 1 : d;
}

void pg_partition_name(char *buf, size_t cap, int64_t day, const char *suffix)
{
    snprintf(buf, cap, "results_d%s%lld%s", day < 0 ? "m" : "", (long long)llabs(day), suffix);
}

/* Serialised by an advisory transaction lock: replicas may race for a day.
 * Runs in the caller's transaction when there is one. */
static enum cmon_err create_partition(struct pg_store *ps, int64_t day, struct cmon_errbuf *eb)
{
    char sql[256], hi[32] = "MAXVALUE";
    int64_t lo = day * PG_NS_PER_DAY;
    /* the last representable day ends at MAXVALUE instead of overflowing */
    if (day < INT64_MAX / PG_NS_PER_DAY)
        snprintf(hi, sizeof hi, "%lld", (long long)(lo + PG_NS_PER_DAY));
    char name[40];
    pg_partition_name(name, sizeof name, day, "");
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s PARTITION OF results FOR VALUES FROM (%lld) TO (%s)",
             name, (long long)lo, hi);
    return pg_exec(ps, sql, 0, NULL, NULL, eb, "create results partition");
}

enum cmon_err pg_ensure_partitions(struct pg_store *ps, const int64_t *days, size_t n,
                                   struct cmon_errbuf *eb)
{
    char list[PG_MAX_STAGE_DAYS * 24 + 4] = "{";
    size_t len = 1;
    for (size_t i = 0; i < n && i < PG_MAX_STAGE_DAYS; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%lld", i ? "," : "",
                                (long long)days[i]);
    snprintf(list + len, sizeof list - len, "}");
    const char *vals[] = {list};
    PGresult *res =
        pg_query(ps,
                 "SELECT d FROM unnest($1::bigint[]) d"
                 " WHERE to_regclass('results_d' || replace(d::text, '-', 'm')) IS NULL",
                 1, vals, eb, "look up partitions");
    if (!res)
        return CMON_ERR_STORE;
    enum cmon_err err = CMON_OK;
    char a[24], b[24];
    const char *lk[] = {pg_i64(a, PG_LOCK_SPACE), pg_i64(b, PG_LOCK_PARTITION)};
    if (PQntuples(res) > 0)
        err = pg_exec(ps, "SELECT pg_advisory_xact_lock($1::int, $2::int)", 2, lk, NULL, eb,
                      "lock partitions");
    for (int i = 0; !err && i < PQntuples(res); i++)
        err = create_partition(ps, pg_col_i64(res, i, 0), eb);
    PQclear(res);
    return err;
}

/* Yesterday to the day after tomorrow, so ingest rarely creates one. */
static enum cmon_err precreate_partitions(struct pg_store *ps, struct cmon_errbuf *eb)
{
    int64_t today = pg_day_of(cmon_wall_ns());
    int64_t days[] = {today - 1, today, today + 1, today + 2};
    enum cmon_err err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
    if (!err)
        err = pg_ensure_partitions(ps, days, 4, eb);
    if (!err)
        return pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
    PQclear(PQexec(ps->conn, "ROLLBACK"));
    return err;
}

static enum cmon_err schema_version(struct pg_store *ps, int *v, struct cmon_errbuf *eb)
{
    PGresult *res = pg_query(ps,
                             "SELECT CASE WHEN to_regclass('cmon_schema') IS NULL THEN -1"
                             " ELSE (SELECT version FROM cmon_schema) END",
                             0, NULL, eb, "read schema version");
    if (!res)
        return CMON_ERR_STORE;
    *v = pg_col_null(res, 0, 0) ? 0 : (int)pg_col_i64(res, 0, 0);
    PQclear(res);
    return CMON_OK;
}

static enum cmon_err migrate_locked(struct pg_store *ps, struct cmon_errbuf *eb)
{
    int v = 0;
    enum cmon_err err = pg_exec(ps,
                                "CREATE TABLE IF NOT EXISTS cmon_schema (version INTEGER NOT NULL);"
                                "INSERT INTO cmon_schema SELECT 0"
                                " WHERE NOT EXISTS (SELECT FROM cmon_schema)",
                                0, NULL, NULL, eb, "create schema table");
    if (!err)
        err = schema_version(ps, &v, eb);
    if (!err && v > N_MIGRATIONS)
        err = cmon_fail(eb, CMON_ERR_UNSUPPORTED,
                        "%s: database schema version %d is newer than this cmon supports "
                        "(%d); upgrade cmon or use another --store",
                        PQdb(ps->conn), v, N_MIGRATIONS);
    for (; !err && v < N_MIGRATIONS; v++) {
        char ver[24];
        const char *vals[] = {pg_i64(ver, v + 1)};
        err = pg_exec(ps, "BEGIN", 0, NULL, NULL, eb, "begin");
        if (!err)
            err = pg_exec(ps, migrations[v], 0, NULL, NULL, eb, "migrate");
        if (!err)
            err = pg_exec(ps, "UPDATE cmon_schema SET version = $1::int", 1, vals, NULL, eb,
                          "record schema version");
        if (!err)
            err = pg_exec(ps, "COMMIT", 0, NULL, NULL, eb, "commit");
        if (err)
            PQclear(PQexec(ps->conn, "ROLLBACK"));
    }
    return err;
}

static enum cmon_err migrate(struct pg_store *ps, struct cmon_errbuf *eb)
{
    char a[24], b[24];
    const char *lk[] = {pg_i64(a, PG_LOCK_SPACE), pg_i64(b, PG_LOCK_MIGRATE)};
    if (ps->mode == STORE_READ_ONLY) {
        int v = 0;
        enum cmon_err err = schema_version(ps, &v, eb);
        if (!err && v != N_MIGRATIONS)
            err = cmon_fail(eb, v > N_MIGRATIONS ? CMON_ERR_UNSUPPORTED : CMON_ERR_STORE,
                            "%s: database schema version %d, this cmon needs %d; start the "
                            "server once (read-write) to migrate it",
                            PQdb(ps->conn), v < 0 ? 0 : v, N_MIGRATIONS);
        return err;
    }
    enum cmon_err err =
        pg_exec(ps, "SELECT pg_advisory_lock($1::int, $2::int)", 2, lk, NULL, eb, "lock schema");
    if (err)
        return err;
    err = migrate_locked(ps, eb);
    PQclear(PQexecParams(ps->conn, "SELECT pg_advisory_unlock($1::int, $2::int)", 2, NULL, lk, NULL,
                         NULL, 0));
    if (!err)
        err = precreate_partitions(ps, eb);
    return err;
}

static void pg_close(struct store *s)
{
    struct pg_store *ps = pg_of(s);
    pg_touched_clear(ps);
    PQfinish(ps->conn);
    pg_stage_free(ps);
    pg_states_free(ps);
    free(ps->seen);
    free(ps);
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg; /* "relation already exists, skipping" and the like */
}

static const struct store_ops pg_ops = {
    .version = STORE_OPS_VERSION,
    .name = "postgres",
    .caps = STORE_CAP_REPLICAS,
    .close = pg_close,
#define PG_OP_SLOT(ret, op, args) .op = pg_##op,
    STORE_OPS(PG_OP_SLOT)
#undef PG_OP_SLOT
};

/* Session settings: UTC, no client-side surprises, read-only when asked. */
static enum cmon_err configure(struct pg_store *ps, struct cmon_errbuf *eb)
{
    PQsetNoticeProcessor(ps->conn, quiet_notice, NULL);
    enum cmon_err err = pg_exec(ps,
                                "SET TIME ZONE 'UTC'; SET client_min_messages = warning;"
                                "SET extra_float_digits = 3",
                                0, NULL, NULL, eb, "configure session");
    if (!err && ps->mode == STORE_READ_ONLY)
        err = pg_exec(ps, "SET default_transaction_read_only = on", 0, NULL, NULL, eb,
                      "configure session");
    if (!err)
        err = migrate(ps, eb);
    if (!err && ps->mode == STORE_READ_WRITE)
        err = pg_exec(ps,
                      "CREATE TEMP TABLE ingest_live " PG_INGEST_LIVE_COLS
                      " ON COMMIT DELETE ROWS",
                      0, NULL, NULL, eb, "create staging table");
    return err;
}

enum cmon_err store_pg_open(const char *url, enum store_mode mode, struct store **out,
                            struct cmon_errbuf *eb)
{
    struct pg_store *ps = calloc(1, sizeof *ps);
    if (!ps)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    ps->base.ops = &pg_ops;
    ps->mode = mode;
    ps->conn = PQconnectdb(url);
    if (!ps->conn || PQstatus(ps->conn) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", ps->conn ? PQerrorMessage(ps->conn) : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        pg_close(&ps->base);
        return cmon_fail(eb, CMON_ERR_STORE, "postgres: connect: %s", msg);
    }
    enum cmon_err err = configure(ps, eb);
    if (err) {
        pg_close(&ps->base);
        return err;
    }
    *out = &ps->base;
    return CMON_OK;
}

/* Session-level lock: PostgreSQL releases it when this connection ends,
 * which is what hands leadership over when a replica dies. */
enum cmon_err pg_leader_try(struct store *s, bool *leader, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    ps->leader_tried = true;
    if (PQstatus(ps->conn) != CONNECTION_OK) {
        ps->leader = false;
        ps->prepared = 0; /* a new session has none */
        PQreset(ps->conn);
        if (PQstatus(ps->conn) != CONNECTION_OK) {
            *leader = false;
            return cmon_fail(eb, CMON_ERR_STORE, "postgres: reconnect failed");
        }
        PQsetNoticeProcessor(ps->conn, quiet_notice, NULL);
        pg_exec(ps, "SET TIME ZONE 'UTC'; SET extra_float_digits = 3", 0, NULL, NULL, NULL, "");
        pg_exec(ps,
                "CREATE TEMP TABLE IF NOT EXISTS ingest_live " PG_INGEST_LIVE_COLS
                " ON COMMIT DELETE ROWS",
                0, NULL, NULL, NULL, "");
    }
    char a[24], b[24];
    const char *lk[] = {pg_i64(a, PG_LOCK_SPACE), pg_i64(b, PG_LOCK_LEADER)};
    const char *sql = ps->leader ? "SELECT true" /* alive: the lock is still ours */
                                 : "SELECT pg_try_advisory_lock($1::int, $2::int)";
    PGresult *res =
        pg_query(ps, sql, ps->leader ? 0 : 2, ps->leader ? NULL : lk, eb, "leader lock");
    if (!res) {
        ps->leader = false;
        *leader = false;
        return CMON_ERR_STORE;
    }
    ps->leader = pg_col_bool(res, 0, 0);
    PQclear(res);
    *leader = ps->leader;
    return CMON_OK;
}

/* A session lock, not a transaction's: the one-off writes make their own
 * transactions (monitor_put, ...), and the checks before them must see what
 * another replica's write committed.  Released before the next one-off
 * write; a connection that dies releases it with its session. */
enum cmon_err pg_config_serial(struct store *s, bool hold, struct cmon_errbuf *eb)
{
    struct pg_store *ps = pg_of(s);
    char a[24], b[24];
    const char *lk[] = {pg_i64(a, PG_LOCK_SPACE), pg_i64(b, PG_LOCK_CONFIG)};
    if (hold)
        return pg_exec(ps, "SELECT pg_advisory_lock($1::int, $2::int)", 2, lk, NULL, eb,
                       "wait for other replicas' writes");
    if (PQtransactionStatus(ps->conn) != PQTRANS_IDLE) /* a write left its transaction open */
        PQclear(PQexec(ps->conn, "ROLLBACK"));
    return pg_exec(ps, "SELECT pg_advisory_unlock($1::int, $2::int)", 2, lk, NULL, eb,
                   "let other replicas' writes go");
}
