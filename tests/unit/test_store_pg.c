/* test_store_pg.c: what only the PostgreSQL backend does -- the schema
 * version table and refusing a newer database, day partitions created on
 * ingest and dropped whole by retention, the leader lock moving to another
 * connection when its holder goes away, exactly-once batches across
 * connections, the SQL endpoint's role, upgrading a schema-1 database,
 * replicas racing to register one agent, alerts saved by the leader only,
 * `cmon migrate` copying everything (agents and alerts included), and a
 * test field's distinct values in byte order under an ICU collation.
 * Needs CMON_TEST_STORE_URL (postgres://...); tests/integration/
 * test_pg_store.sh starts a cluster and runs it.  Without the URL it exits
 * 77 (skipped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "store/copy.h"
#include "store/leader.h"
#include "store/store.h"
#include "test_alert_rows.h"

#define DAY (86400 * CMON_NS_PER_SEC)
#define D0 (20455 * DAY) /* 2026-01-02T00:00:00Z */
#define SCHEMA "7"       /* the PostgreSQL schema version this cmon writes */

static const char *url(void)
{
    return getenv("CMON_TEST_STORE_URL");
}

/* One SQL statement on a fresh connection; returns the first value (or ""). */
static void sql1(const char *sql, char *out, size_t cap)
{
    PGconn *c = PQconnectdb(url());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, NULL, NULL);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    if (out)
        snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

static int reset(void **state)
{
    (void)state;
    sql1("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public",
         NULL, 0);
    return 0;
}

static struct store *open_rw(void)
{
    struct store *s = NULL;
    struct cmon_errbuf eb;
    if (store_open(url(), STORE_READ_WRITE, &s, &eb))
        fail_msg("store_open: %s", eb.msg);
    return s;
}

static void test_schema_version(void **state)
{
    (void)state;
    struct store *s = open_rw();
    assert_string_equal(s->ops->name, "postgres");
    assert_int_equal(s->ops->version, STORE_OPS_VERSION);
    store_close(s);
    s = open_rw(); /* a second open migrates nothing */
    store_close(s);
    char v[32];
    sql1("SELECT version FROM cmon_schema", v, sizeof v);
    assert_string_equal(v, SCHEMA);
    sql1("SELECT count(*) FROM cmon_schema", v, sizeof v);
    assert_string_equal(v, "1");
    sql1("UPDATE cmon_schema SET version = 99", NULL, 0);
    struct cmon_errbuf eb;
    assert_int_equal(store_open(url(), STORE_READ_WRITE, &s, &eb), CMON_ERR_UNSUPPORTED);
    assert_non_null(strstr(eb.msg, "database schema version 99 is newer than this cmon supports "
                                   "(" SCHEMA "); upgrade cmon or use another --store"));
    assert_int_equal(store_open(url(), STORE_READ_ONLY, &s, &eb), CMON_ERR_UNSUPPORTED);
}

static void *open_close(void *arg)
{
    struct store *s = NULL;
    struct cmon_errbuf eb;
    enum cmon_err *err = arg;
    *err = store_open(url(), STORE_READ_WRITE, &s, &eb);
    if (*err)
        fprintf(stderr, "concurrent open: %s\n", eb.msg);
    store_close(s);
    return NULL;
}

/* Replicas starting at once: the advisory lock lets one migrate, the
 * others wait and find the schema current. */
static void test_concurrent_migrations(void **state)
{
    (void)state;
    pthread_t th[4];
    enum cmon_err errs[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, open_close, &errs[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(errs[i], CMON_OK);
    }
    char v[32];
    sql1("SELECT string_agg(version::text, ',') FROM cmon_schema", v, sizeof v);
    assert_string_equal(v, SCHEMA);
}

static void ingest_at(struct store *s, int64_t start_ns, int n)
{
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->tx_begin(s, &eb), CMON_OK);
    for (int i = 0; i < n; i++) {
        struct store_result r = {.agent = "a\tb\\c"};
        snprintf(r.r.test_id, sizeof r.r.test_id, "t%d", i);
        r.r.start_ns = start_ns + i;
        r.r.checks_total = 4;
        r.r.checks_failed = 1;
        snprintf(r.r.detail, sizeof r.r.detail, "line\nbreak");
        r.r.dns_ms = r.r.connect_ms = r.r.tls_ms = r.r.first_byte_ms = -1;
        if (s->ops->ingest_result(s, &r, &eb))
            fail_msg("ingest: %s", eb.msg);
    }
    if (s->ops->tx_commit(s, &eb))
        fail_msg("commit: %s", eb.msg);
}

static int check_agent(void *arg, const struct store_result *r)
{
    int *n = arg;
    assert_string_equal(r->agent, "a\tb\\c"); /* COPY escaping round-trips */
    assert_string_equal(r->r.detail, "line\nbreak");
    assert_true(r->r.dns_ms < 0);
    (*n)++;
    return 0;
}

static void test_partitions_and_retention(void **state)
{
    (void)state;
    struct store *s = open_rw();
    struct cmon_errbuf eb;
    ingest_at(s, D0 + 3600 * CMON_NS_PER_SEC, 3);
    ingest_at(s, D0 + DAY + 60 * CMON_NS_PER_SEC, 2);
    char v[64];
    sql1("SELECT to_regclass('results_d20455') IS NOT NULL AND"
         " to_regclass('results_d20456') IS NOT NULL",
         v, sizeof v);
    assert_string_equal(v, "t");
    sql1("SELECT count(*) FROM results_d20455", v, sizeof v);
    assert_string_equal(v, "3");
    int n = 0;
    assert_int_equal(s->ops->result_query(s, "t0", 0, INT64_MAX, 10, check_agent, &n, &eb),
                     CMON_OK);
    assert_int_equal(n, 2);
    /* retention at the start of day 2: day 1 is dropped whole */
    int64_t deleted = 0;
    assert_int_equal(s->ops->retention(s, D0 + DAY, &deleted, &eb), CMON_OK);
    assert_int_equal(deleted, 3);
    sql1("SELECT to_regclass('results_d20455') IS NULL", v, sizeof v);
    assert_string_equal(v, "t");
    /* the roll-ups kept day 1 (retention folds first) */
    sql1("SELECT sum(rounds) FROM rollup_1h", v, sizeof v);
    assert_string_equal(v, "5");
    /* a late round for a dropped day recreates its partition */
    ingest_at(s, D0 + 7200 * CMON_NS_PER_SEC, 1);
    sql1("SELECT count(*) FROM results", v, sizeof v);
    assert_string_equal(v, "3");
    store_close(s);
}

/* The next replica's periodic tries, at most 10 s (backends exit asynchronously). */
static bool try_until_leader(struct store *s)
{
    struct cmon_errbuf eb;
    bool leader = false;
    for (int i = 0; i < 500 && !leader; i++) {
        assert_int_equal(store_leader_try(s, &leader, &eb), CMON_OK);
        if (!leader)
            usleep(20000);
    }
    return leader;
}

static void test_leader_lock_moves(void **state)
{
    (void)state;
    struct store *a = open_rw(), *b = open_rw();
    struct cmon_errbuf eb;
    bool la = false, lb = true;
    assert_int_equal(store_leader_try(a, &la, &eb), CMON_OK);
    assert_int_equal(store_leader_try(b, &lb, &eb), CMON_OK);
    assert_true(la);
    assert_false(lb);
    assert_int_equal(store_leader_try(a, &la, &eb), CMON_OK); /* still held */
    assert_true(la);
    char v[32];
    sql1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", v, sizeof v);
    assert_string_equal(v, "1"); /* re-checks do not stack the lock */
    store_close(a); /* the holder goes away: the lock is freed when its backend exits */
    assert_true(try_until_leader(b));
    /* the holder's backend is killed (a replica's connection dies) */
    sql1("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'", NULL, 0);
    struct store *c = open_rw();
    assert_true(try_until_leader(c));
    lb = true;
    store_leader_try(b, &lb, &eb); /* b notices it lost the connection, reconnects */
    assert_false(lb);
    store_close(b);
    store_close(c);
}

/* A database at schema 1 (before alerts and agents joined PostgreSQL) is
 * brought to the current schema on open. */
static void test_upgrade_from_schema_1(void **state)
{
    (void)state;
    store_close(open_rw());
    sql1("DROP VIEW v_tests, v_results, v_state_changes;"
         "DROP TABLE action_groups, alerts, alert_transitions, agent_registry;"
         "ALTER TABLE tests DROP COLUMN source_resource_id, DROP COLUMN destination_resource_id;"
         "ALTER TABLE alert_rules DROP COLUMN monitor;"
         "UPDATE cmon_schema SET version = 1",
         NULL, 0);
    struct store *s = open_rw();
    char v[32];
    sql1("SELECT version FROM cmon_schema", v, sizeof v);
    assert_string_equal(v, SCHEMA);
    struct cmon_errbuf eb;
    assert_int_equal(
        test_group_put(s, "{\"name\":\"g\",\"webhooks\":[{\"url\":\"http://127.0.0.1:9/\"}]}", NULL,
                       &eb),
        CMON_OK);
    store_close(s);
}

/* Replicas registering one agent at the same time: each registration
 * revokes the others' tokens, so after every round of simultaneous
 * registrations exactly one agent token is valid. */
#define RACERS 4
#define RACE_ROUNDS 30
struct race {
    pthread_barrier_t go;
    int k;
    int failed;
    int tokens_after[RACE_ROUNDS];
};

static void *register_racer(void *arg)
{
    struct race *r = arg;
    int k = __atomic_fetch_add(&r->k, 1, __ATOMIC_SEQ_CST);
    struct store *s = NULL;
    struct cmon_errbuf eb;
    if (store_open(url(), STORE_READ_WRITE, &s, &eb))
        __atomic_store_n(&r->failed, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        char hash[32];
        int64_t next;
        snprintf(hash, sizeof hash, "h-%d-%d", k, i);
        pthread_barrier_wait(&r->go); /* all register at once */
        if (s && s->ops->agent_register(s, "racer", hash, "1", "[]", "", 10, D0 + i, &next, &eb))
            __atomic_store_n(&r->failed, 1, __ATOMIC_SEQ_CST);
        pthread_barrier_wait(&r->go);
        if (k == 0) {
            char v[32];
            sql1("SELECT count(*) FROM tokens WHERE role = 'agent' AND name = 'racer'", v,
                 sizeof v);
            r->tokens_after[i] = atoi(v);
        }
    }
    store_close(s);
    return NULL;
}

static void test_register_race(void **state)
{
    (void)state;
    store_close(open_rw()); /* migrate first */
    struct race r = {.k = 0};
    pthread_barrier_init(&r.go, NULL, RACERS);
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, register_racer, &r), 0);
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r.go);
    assert_int_equal(r.failed, 0);
    for (int i = 0; i < RACE_ROUNDS; i++)
        assert_int_equal(r.tokens_after[i], 1);
    char v[32];
    sql1("SELECT count(*) FROM agent_registry", v, sizeof v);
    assert_string_equal(v, "1");
}

static json_t *one_alert(const char *key, const char *state, int64_t at)
{
    return json_pack("[{s:s, s:s, s:s, s:[s], s:{s:I}}]", "key", key, "rule", "r", "state", state,
                     "monitors", "m", "timesNs", "pending", (json_int_t)at);
}

static size_t n_active(struct store *s)
{
    json_t *out = NULL;
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->alert_active(s, &out, &eb), CMON_OK);
    size_t n = json_array_size(out);
    json_decref(out);
    return n;
}

/* Only the leader's connection saves alerts; a standby's save is refused,
 * and after a takeover the new leader reads what the old one stored. */
static void test_alert_save_leader_only(void **state)
{
    (void)state;
    struct store *a = open_rw(), *b = open_rw();
    struct cmon_errbuf eb;
    bool la = false, lb = true;
    assert_int_equal(store_leader_try(a, &la, &eb), CMON_OK);
    assert_int_equal(store_leader_try(b, &lb, &eb), CMON_OK);
    assert_true(la);
    assert_false(lb);
    json_t *items = one_alert("k1", "firing", D0), *none = json_array();
    assert_int_equal(a->ops->alert_save(a, items, none, D0, &eb), CMON_OK);
    json_t *other = one_alert("k2", "firing", D0);
    assert_int_equal(b->ops->alert_save(b, other, none, D0, &eb), CMON_ERR_PERM);
    assert_string_equal(eb.msg, "postgres: not the leader: alerts not saved");
    assert_int_equal(n_active(b), 1); /* nothing of b's arrived */
    store_close(a);
    assert_true(try_until_leader(b));
    assert_int_equal(n_active(b), 1); /* the new leader restores k1 */
    assert_int_equal(b->ops->alert_save(b, other, none, D0 + 1, &eb), CMON_OK);
    assert_int_equal(n_active(b), 2);
    json_decref(items);
    json_decref(other);
    json_decref(none);
    store_close(b);
}

static void test_batches_across_connections(void **state)
{
    (void)state;
    struct store *a = open_rw(), *b = open_rw();
    struct cmon_errbuf eb;
    bool dup = true;
    assert_int_equal(a->ops->tx_begin(a, &eb), CMON_OK);
    assert_int_equal(a->ops->ingest_batch_mark(a, "agent-1", 7, D0, &dup, &eb), CMON_OK);
    assert_false(dup);
    assert_int_equal(a->ops->tx_commit(a, &eb), CMON_OK);
    assert_int_equal(b->ops->tx_begin(b, &eb), CMON_OK);
    assert_int_equal(b->ops->ingest_batch_mark(b, "agent-1", 7, D0, &dup, &eb), CMON_OK);
    assert_true(dup);
    b->ops->tx_rollback(b);
    store_close(a);
    store_close(b);
}

static void test_sql_role(void **state)
{
    (void)state;
    store_close(open_rw());
    struct store *ro = NULL;
    struct cmon_errbuf eb;
    json_t *out = NULL;
    assert_int_equal(store_open(url(), STORE_READ_ONLY, &ro, &eb), CMON_OK);
    assert_int_equal(
        ro->ops->sql_query(ro, "SELECT count(*) AS n FROM tests;", 10, 1000, &out, &eb), CMON_OK);
    char *text = json_dumps(out, JSON_COMPACT);
    assert_string_equal(text, "{\"columns\":[\"n\"],\"rows\":[[0]],\"truncated\":false}");
    free(text);
    json_decref(out);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT * FROM agent_batches", 10, 1000, &out, &eb),
                     CMON_ERR_INVALID);
    assert_string_equal(eb.msg, "permission denied for table agent_batches");
    assert_int_equal(
        ro->ops->sql_query(ro, "SELECT set_config('role', 'cmon', true)", 10, 1000, &out, &eb),
        CMON_ERR_INVALID);
    assert_int_equal(ro->ops->sql_query(ro, "SELECT ';' AS x -- a; comment", 10, 1000, &out, &eb),
                     CMON_OK);
    json_decref(out);
    /* memory: a row over 1 MiB fails in the server, rows past 8 MiB are cut */
    assert_int_equal(
        ro->ops->sql_query(ro, "SELECT repeat(md5(g::text), 100000) FROM generate_series(1, 3) g",
                           10, 2000, &out, &eb),
        CMON_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "cmon: a row is larger than 1048576 bytes"));
    assert_int_equal(ro->ops->sql_query(ro,
                                        "SELECT repeat(md5(g::text), 20000) AS v "
                                        "FROM generate_series(1, 100) g",
                                        100, 2000, &out, &eb),
                     CMON_OK);
    size_t kept = json_array_size(json_object_get(out, "rows"));
    assert_true(kept >= 12 && kept <= 14); /* 640 kB each: ~13 under 8 MiB */
    assert_true(json_is_true(json_object_get(out, "truncated")));
    json_decref(out);
    /* the role ends with the query: the connection reads tokens again */
    size_t n = 9;
    assert_int_equal(ro->ops->token_count(ro, &n, &eb), CMON_OK);
    assert_int_equal(n, 0);
    store_close(ro);
}

static int count_results(void *arg, const struct store_result *r)
{
    (*(int *)arg)++;
    return 0;
}

static int one_point(void *arg, int64_t bucket, double v, int64_t samples)
{
    assert_int_equal(bucket, D0);
    assert_int_equal(samples, 2);
    *(double *)arg = v;
    return 0;
}

static void note_table(void *arg, const char *table, int64_t rows)
{
    char *log = arg;
    size_t n = strlen(log);
    snprintf(log + n, 512 - n, "%s=%lld ", table, (long long)rows);
}

/* cmon migrate: a SQLite store with monitors, states, results (some rolled
 * up, some not), tokens and rules arrives whole. */
static void test_copy_from_sqlite(void **state)
{
    (void)state;
    char dir[] = "/tmp/cmon-copy-XXXXXX", from[128];
    assert_non_null(mkdtemp(dir));
    snprintf(from, sizeof from, "sqlite:%s/cmon.db", dir);
    struct store *sq = NULL;
    struct cmon_errbuf eb;
    assert_int_equal(store_open(from, STORE_READ_WRITE, &sq, &eb), CMON_OK);
    struct store_test t = {.id = "t0",
                           .number = 1,
                           .group = "g",
                           .source = "a",
                           .destination = "d",
                           .config = "c",
                           .protocol = CMON_PROTO_TCP,
                           .port = 80,
                           .frequency_sec = 30};
    assert_int_equal(sq->ops->monitor_put(sq, "m", "{}", &t, 1, NULL, 0, D0, NULL, &eb), CMON_OK);
    ingest_at(sq, D0 + 60 * CMON_NS_PER_SEC, 1);
    int64_t folded;
    assert_int_equal(sq->ops->rollup(sq, cmon_wall_ns(), &folded, &eb), CMON_OK);
    ingest_at(sq, D0 + 120 * CMON_NS_PER_SEC, 1); /* not rolled up yet */
    bool changed;
    assert_int_equal(
        sq->ops->test_set_state(sq, "t0", CMON_STATE_WARNING, "why", D0, &changed, &eb), CMON_OK);
    assert_int_equal(sq->ops->token_add(sq, "hash1", STORE_ROLE_ADMIN, "me", D0, &eb), CMON_OK);
    assert_int_equal(test_rule_put(sq, TEST_RULE_JSON("r", 10), "m", NULL, &eb), CMON_OK);
    int64_t next;
    assert_int_equal(
        sq->ops->agent_register(sq, "ag", "hash2", "1.0", "[\"198.18.1.2\"]", "", 10, D0, &next, &eb),
        CMON_OK);
    assert_int_equal(
        test_group_put(sq, "{\"name\":\"ops\",\"webhooks\":[{\"url\":\"http://127.0.0.1:9/\"}]}",
                       NULL, &eb),
        CMON_OK);
    json_t *items = one_alert("r{x=\"1\"}", "firing", D0);
    json_t *tr = json_pack("[{s:s, s:s, s:s, s:I, s:f}]", "key", "r{x=\"1\"}", "rule", "r", "event",
                           "firing", "atNs", (json_int_t)D0, "value", 12.5);
    assert_int_equal(sq->ops->alert_save(sq, items, tr, D0, &eb), CMON_OK);
    store_close(sq);

    char log[512] = "";
    assert_int_equal(store_copy_sqlite_to_postgres(from, url(), note_table, log, &eb), CMON_OK);
    assert_string_equal(log, "monitors=1 tests=1 results=2 rollup_pending=1 rollup_1m=1 "
                             "rollup_1h=1 paths=0 state_changes=1 agents=0 agent_batches=0 "
                             "alert_rules=1 alert_events=0 tokens=2 agent_registry=1 "
                             "action_groups=1 alerts=1 alert_transitions=1 ");
    struct store *pg = open_rw();
    int n = 0;
    assert_int_equal(pg->ops->result_query(pg, "t0", 0, INT64_MAX, 10, count_results, &n, &eb),
                     CMON_OK);
    assert_int_equal(n, 2);
    struct store_metric_query q = {.metric = STORE_METRIC_FAILED_PCT,
                                   .agg = STORE_AGG_AVG,
                                   .interval_ns = 3600 * CMON_NS_PER_SEC,
                                   .from_ns = D0,
                                   .to_ns = D0 + DAY};
    assert_int_equal(pg->ops->rollup(pg, cmon_wall_ns(), &folded, &eb), CMON_OK);
    assert_int_equal(folded, 1); /* the queued row, once */
    enum store_role role;
    assert_int_equal(pg->ops->token_lookup(pg, "hash1", &role, NULL, 0, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_ADMIN);
    double avg = -1;
    assert_int_equal(pg->ops->metric_query(pg, &q, one_point, &avg, &eb), CMON_OK);
    assert_float_equal(avg, 25.0, 1e-9); /* both rounds: 1 of 4 checks failed */
    assert_int_equal(pg->ops->token_lookup(pg, "hash2", &role, NULL, 0, &eb), CMON_OK);
    assert_int_equal(role, STORE_ROLE_AGENT);
    json_t *got = NULL;
    assert_int_equal(pg->ops->alert_active(pg, &got, &eb), CMON_OK);
    assert_true(json_equal(got, items));
    json_decref(got);
    assert_int_equal(pg->ops->alert_transitions(pg, "r{x=\"1\"}", &got, &eb), CMON_OK);
    char *text = json_dumps(got, JSON_COMPACT);
    assert_string_equal(text, "[{\"event\":\"firing\",\"at\":\"2026-01-02T00:00:00.000Z\","
                              "\"value\":12.5}]");
    free(text);
    json_decref(got);
    struct cmon_action_group_list groups;
    assert_int_equal(pg->ops->action_group_list(pg, &groups, &eb), CMON_OK);
    assert_int_equal(groups.n, 1);
    assert_string_equal(groups.items[0]->webhooks[0].url, "http://127.0.0.1:9/");
    cmon_action_group_list_free(&groups);
    struct cmon_alert_rule_list rules; /* the managing monitor comes along */
    assert_int_equal(pg->ops->alert_rule_list(pg, &rules, &eb), CMON_OK);
    assert_int_equal(rules.n, 1);
    assert_string_equal(rules.items[0]->monitor, "m");
    cmon_alert_rule_list_free(&rules);
    assert_int_equal(pg->ops->agent_heartbeat(pg, "ag", "1.1", "[]", "", "{}", 10, D0 + 1, &eb),
                     CMON_OK); /* registered on PostgreSQL too */
    json_decref(items);
    json_decref(tr);
    /* a second copy into a database with data is refused */
    assert_int_equal(store_copy_sqlite_to_postgres(from, url(), NULL, NULL, &eb), CMON_ERR_EXISTS);
    store_close(pg);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int join_value(void *arg, const char *v)
{
    size_t len = strlen(arg);
    snprintf((char *)arg + len, 128 - len, "%s%s", len ? "|" : "", v);
    return 0;
}

/* test_distinct answers in byte order whatever the column's collation: here
 * an ICU one (lower case first, letters before case), where a plain ORDER BY
 * would give app|App|tg1|Zeta. */
static void test_distinct_byte_order(void **state)
{
    (void)state;
    char icu[8];
    sql1("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'", icu, sizeof icu);
    if (strcmp(icu, "1") != 0)
        skip(); /* a PostgreSQL built without ICU: no other collation to try */
    struct store *s = open_rw();
    struct store_test t[4];
    const char *groups[] = {"tg1", "Zeta", "app", "App"};
    char ids[4][17];
    for (int i = 0; i < 4; i++) {
        snprintf(ids[i], sizeof ids[i], "%016x", 0xc000 + i);
        t[i] = (struct store_test){.id = ids[i], .number = i + 1, .group = groups[i],
                                   .source = "a", .source_address = "a", .source_type = "Agent",
                                   .destination = "d", .destination_address = "d",
                                   .destination_type = "ExternalAddress", .config = "c",
                                   .protocol = CMON_PROTO_TCP, .target = "d", .port = 80,
                                   .frequency_sec = 30};
    }
    struct cmon_errbuf eb;
    assert_int_equal(s->ops->monitor_put(s, "m", "{}", t, 4, NULL, 0, D0, NULL, &eb), CMON_OK);
    sql1("DROP VIEW v_tests, v_results, v_state_changes;" /* they read the column */
         "ALTER TABLE tests ALTER COLUMN test_group TYPE text COLLATE \"und-x-icu\"",
         NULL, 0);
    char plain[64];
    sql1("SELECT string_agg(test_group, '|' ORDER BY test_group) FROM tests", plain, sizeof plain);
    assert_string_equal(plain, "app|App|tg1|Zeta"); /* the collation is in force */
    char got[128] = "";
    assert_int_equal(s->ops->test_distinct(s, STORE_TF_GROUP, 10, join_value, got, &eb), CMON_OK);
    assert_string_equal(got, "App|Zeta|app|tg1");
    store_close(s);
}

int main(void)
{
    if (!url() || strncmp(url(), "postgres", 8) != 0) {
        fprintf(stderr, "SKIP: CMON_TEST_STORE_URL is not a postgres:// URL "
                        "(tests/integration/test_pg_store.sh runs this with a cluster)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_schema_version, reset),
        cmocka_unit_test_setup(test_concurrent_migrations, reset),
        cmocka_unit_test_setup(test_partitions_and_retention, reset),
        cmocka_unit_test_setup(test_leader_lock_moves, reset),
        cmocka_unit_test_setup(test_batches_across_connections, reset),
        cmocka_unit_test_setup(test_sql_role, reset),
        cmocka_unit_test_setup(test_copy_from_sqlite, reset),
        cmocka_unit_test_setup(test_upgrade_from_schema_1, reset),
        cmocka_unit_test_setup(test_register_race, reset),
        cmocka_unit_test_setup(test_alert_save_leader_only, reset),
        cmocka_unit_test_setup(test_distinct_byte_order, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
