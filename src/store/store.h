/* store.h: cmon's storage interface (DESIGN section 8) -- one list of
 * operations (STORE_OPS) that every backend (SQLite, PostgreSQL) implements
 * in full, so callers never change when a backend is added and never ask
 * which backend they have: real differences are capability bits (caps).
 * Callers call through the table: s->ops->monitor_get(s, ...).  Ops that
 * depend on the time are given it (now_ns): the store reads no clock.
 * Ownership: a struct store is owned by whoever opened it and freed with
 * store_close().  Rows handed to callbacks point into backend memory that is
 * valid only during the callback: copy what you keep.
 * Threads: one struct store (one connection) is used by one thread at a time;
 * open one per thread.  Backends must allow a writer and many readers at once. */
#ifndef CMON_STORE_STORE_H
#define CMON_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "model/alert_rule.h"
#include "model/dims.h"
#include "model/monitor.h"
#include "model/result.h"
#include "model/state.h"

#define STORE_OPS_VERSION 1
#define STORE_DEFAULT_URL "sqlite:./cmon-data/cmon.db"
#define STORE_DEFAULT_RETENTION_DAYS 30

enum store_mode {
    STORE_READ_WRITE, /* runs migrations at open */
    STORE_READ_ONLY,  /* refuses every write; the API's and the SQL endpoint's */
};

/* One monitor as stored: the JSON body it was applied with (as sent). */
struct store_monitor {
    const char *name;
    const char *body; /* JSON text */
    bool running;     /* false after POST .../stop */
    int64_t created_ns, updated_ns;
};

/* One expanded test: its static definition (written by monitor_put) and its
 * live figures (written by ingest and the evaluator). */
struct store_test {
    const char *id;
    const char *monitor, *group, *source, *source_address, *source_type;
    const char *destination, *destination_address, *destination_type, *config;
    /* the endpoints' resourceId, else their cmon id (model/dims.h) */
    const char *source_resource_id, *destination_resource_id;
    enum cmon_protocol protocol;
    const char *target;
    int port, number, frequency_sec;
    bool has_failed_pct_threshold;
    double failed_pct_threshold;
    bool has_rtt_threshold;
    double rtt_threshold_ms;
    bool group_disabled;
    bool monitor_running; /* read side only (from the monitor) */
    /* live (read side only) */
    enum cmon_state state;
    const char *reason, *diagnostic, *detail;
    bool has_result;
    int64_t last_result_ns; /* round start of the latest result */
    double checks_failed_pct;
    bool has_rtt;
    double rtt_ms;
    int64_t state_since_ns;
};

/* Filters of the views (DESIGN 10); NULL/false fields do not filter. */
enum store_scope {
    STORE_SCOPE_ALL,
    STORE_SCOPE_SOURCES,
    STORE_SCOPE_DESTINATIONS,
    STORE_SCOPE_TEST_GROUPS,
    STORE_SCOPE_TEST_CONFIGS,
    STORE_SCOPE_MONITORS,
};
struct store_test_filter {
    const char *monitor;
    const char *test_id;
    bool has_state;
    enum cmon_state state;
    bool has_protocol;
    enum cmon_protocol protocol;
    const char *search;     /* case-insensitive substring */
    enum store_scope scope; /* where search looks */
    /* scope sources: a JSON array of agent names whose tests the search also
     * finds (the agents with an address containing it; NULL: none) */
    const char *source_agents;
    /* a JSON array of test ids: only these tests (NULL: any) */
    const char *ids_json;
    /* exact names (NULL: any): test group, source, destination, test
     * configuration, and the destination's type (the DestinationType
     * dimension: Agent, ExternalAddress or a compound source's kind) */
    const char *group, *source, *destination, *config, *destination_type;
};

/* The tests' name columns the views filter on exactly (store_test_filter's
 * group, source, destination, destination_type, config), for test_distinct. */
enum store_test_field {
    STORE_TF_GROUP,
    STORE_TF_SOURCE,
    STORE_TF_DESTINATION,
    STORE_TF_DEST_TYPE,
    STORE_TF_CONFIG,
};

/* A round result as stored (agent = who ran it).  history: stored as raw
 * history only, never the test's live figures (a round older than a day
 * when it arrives: a spool replayed after a long outage). */
struct store_result {
    const char *agent;
    struct cmon_round_result r;
    bool history;
};

enum store_metric { STORE_METRIC_FAILED_PCT, STORE_METRIC_RTT };
enum store_agg { STORE_AGG_AVG, STORE_AGG_MIN, STORE_AGG_MAX };
/* Metric filters are over the dimensions of model/dims.h.  Values match
 * exactly (case-insensitive), except CMON_DIM_SOURCE_ADDRESS and
 * CMON_DIM_REGION: those hold a JSON array of agent names (the server
 * resolves addresses and regions through the agents' reports), matching
 * the tests sourced at one of them. */
#define STORE_MAX_DIM_FILTERS 16
struct store_metric_query {
    enum store_metric metric;
    enum store_agg agg;
    int64_t interval_ns;    /* bucket width; >= 1 h uses hourly roll-ups, >= 1 min minute ones */
    int64_t from_ns, to_ns; /* [from, to) */
    struct {
        enum cmon_dim dim;
        const char *value;
    } filters[STORE_MAX_DIM_FILTERS];
    size_t n_filters;
};

enum store_role { STORE_ROLE_READER, STORE_ROLE_ADMIN, STORE_ROLE_AGENT };

/* A registered remote agent (DESIGN 7), or one known only from its results
 * (registered false: the embedded agent of `cmon run`, old named tokens). */
struct store_agent {
    const char *name;
    const char *version;
    const char *addresses; /* JSON array text of strings; the first is the primary */
    const char *region;    /* "" when it gave none */
    bool registered;
    int64_t registered_ns;
    int64_t heartbeat_ns; /* 0: none yet */
    int heartbeat_sec;    /* the agent's announced heartbeat period */
    int64_t last_seen_ns; /* latest heartbeat or results, 0 when never */
    const char *spool;    /* JSON object text: the agent's spool counters */
};

struct store_state_change {
    const char *test_id;
    int64_t at_ns;
    enum cmon_state from, to;
    const char *reason;
};

/* One test for tests_last, and where its results window starts. */
struct store_last_query {
    const char *test_id;
    int64_t results_from_ns;
};

/* GET /api/v1/alerts filters; NULL fields do not filter. */
struct store_alert_filter {
    const char *state; /* "pending", "firing", "resolved" */
    const char *rule;
    const char *monitor; /* any of the alert's monitors */
};

struct store;

/* One stored path: start of the round it was traced in, and its JSON. */
typedef int (*store_path_cb)(void *arg, int64_t start_ns, const char *path_json);
typedef int (*store_monitor_cb)(void *arg, const struct store_monitor *m);
typedef int (*store_test_cb)(void *arg, const struct store_test *t);
typedef int (*store_result_cb)(void *arg, const struct store_result *r);
typedef int (*store_point_cb)(void *arg, int64_t bucket_ns, double value, int64_t samples);
typedef int (*store_change_cb)(void *arg, const struct store_state_change *c);
typedef int (*store_agent_cb)(void *arg, const struct store_agent *a);
typedef int (*store_value_cb)(void *arg, const char *value);
/* tests_last: the i-th test's newest state change and round (NULL: none). */
typedef int (*store_last_cb)(void *arg, size_t i, const struct store_state_change *c,
                             const struct store_result *r);
/* Callbacks return 0 to continue, non-zero to stop (the op then returns CMON_OK). */

/* What a backend can do that another cannot (store_ops.caps). */
enum store_cap {
    /* several servers may share the store (the writers' background jobs then
     * run on one leader at a time: store_leader_try) */
    STORE_CAP_REPLICAS = 1u << 0,
};

/* Every operation, once: X(return type, name, (parameters)).  struct
 * store_ops gets a slot per entry, and each backend's table and prototypes
 * are generated from it (sqlite_internal.h, pg_internal.h), so adding an op
 * is this one line plus its two implementations.  Every op is required: a
 * backend that lacks one does not link. */
#define STORE_OPS(X) \
    /* Monitors.  monitor_put replaces the monitor, its tests and the alert                        \
     * rules its file holds (rules[i]->monitor is name: see alert_rule_put) in                     \
     * one transaction; tests keeping their id keep their live state; rules                        \
     * it held before and no longer does are deleted.  A rule name taken by                        \
     * another monitor or the alerts API: CMON_ERR_EXISTS, nothing written. */                     \
    X(enum cmon_err, monitor_put, (struct store *s, const char *name, const char *body,            \
        const struct store_test *tests, size_t n_tests,                                            \
        const struct cmon_alert_rule *const *rules, size_t n_rules, int64_t now_ns,                \
        bool *created, struct cmon_errbuf *eb))                                                    \
    X(enum cmon_err, monitor_get, (struct store *s, const char *name, store_monitor_cb cb,         \
        void *arg, struct cmon_errbuf *eb))                                                        \
    X(enum cmon_err, monitor_list, (struct store *s, store_monitor_cb cb, void *arg,               \
        struct cmon_errbuf *eb))                                                                   \
    /* The same rows with body "" (unread): what a version needs (name,                            \
     * running, updated_ns), for every agent's assignment poll. */                                 \
    X(enum cmon_err, monitor_versions, (struct store *s, store_monitor_cb cb, void *arg,           \
        struct cmon_errbuf *eb))                                                                   \
    /* Deletes the monitor's tests and the alert rules it manages too. */                         \
    X(enum cmon_err, monitor_delete, (struct store *s, const char *name, struct cmon_errbuf *eb))  \
    X(enum cmon_err, monitor_set_running, (struct store *s, const char *name, bool running,        \
        int64_t now_ns, struct cmon_errbuf *eb))                                                   \
    X(enum cmon_err, monitor_count, (struct store *s, size_t *n, struct cmon_errbuf *eb))          \
    /* Tests, in (monitor, number) order. */                                                       \
    X(enum cmon_err, test_query, (struct store *s, const struct store_test_filter *f,              \
        store_test_cb cb, void *arg, struct cmon_errbuf *eb))                                      \
    /* Record the evaluator's verdict; a state change is kept in history with                      \
     * time and reason.  *changed tells whether the state differs. */                              \
    X(enum cmon_err, test_set_state, (struct store *s, const char *test_id, enum cmon_state st,    \
        const char *reason, int64_t now_ns, bool *changed, struct cmon_errbuf *eb))                \
    /* A test's live figures from r as ingest sets them from a round (not                         \
     * when the stored figures are newer): a compound source's members'                            \
     * rounds combined (model/members.h), with the summed checks.  In the                          \
     * caller's transaction when there is one. */                                                  \
    X(enum cmon_err, test_set_live, (struct store *s, const struct cmon_round_result *r,           \
        struct cmon_errbuf *eb))                                                                   \
    X(enum cmon_err, state_changes, (struct store *s, const char *test_id, int64_t from_ns,        \
        int64_t to_ns, store_change_cb cb, void *arg, struct cmon_errbuf *eb))                     \
    /* The distinct non-empty values of one field over every test, in byte                         \
     * order (case-sensitive), at most limit (the filter bar's selectors). */                      \
    X(enum cmon_err, test_distinct, (struct store *s, enum store_test_field field, size_t limit,   \
        store_value_cb cb, void *arg, struct cmon_errbuf *eb))                                     \
    /* The transaction API: the writer opens one transaction for many                              \
     * results (and heartbeats, state verdicts); the caller owns the batching                      \
     * policy.  Ops that make their own transaction (monitor_put, ...) are not                     \
     * called inside one. */                                                                       \
    X(enum cmon_err, tx_begin, (struct store *s, struct cmon_errbuf *eb))                          \
    X(enum cmon_err, tx_commit, (struct store *s, struct cmon_errbuf *eb))                         \
    X(void, tx_rollback, (struct store *s))                                                        \
    /* Ingest, inside a transaction: mark agent batches, add results.                              \
     * batch_mark sets *dup when (agent, seq) was stored before: the caller                        \
     * then skips that batch's results (exactly once). */                                          \
    X(enum cmon_err, ingest_batch_mark, (struct store *s, const char *agent, int64_t seq,          \
        int64_t now_ns, bool *dup, struct cmon_errbuf *eb))                                        \
    X(enum cmon_err, ingest_result, (struct store *s, const struct store_result *r,                \
        struct cmon_errbuf *eb))                                                                   \
    /* Raw results of one test in [from, to), oldest first, at most limit. */                      \
    X(enum cmon_err, result_query, (struct store *s, const char *test_id, int64_t from_ns,         \
        int64_t to_ns, size_t limit, store_result_cb cb, void *arg, struct cmon_errbuf *eb))       \
    /* Raw results of several tests (ids_json: a JSON array of test ids) in                        \
     * [from, to), oldest first (ties by test id), at most limit. */                               \
    X(enum cmon_err, result_query_many, (struct store *s, const char *ids_json, int64_t from_ns,   \
        int64_t to_ns, size_t limit, store_result_cb cb, void *arg, struct cmon_errbuf *eb))       \
    /* Aggregated series over the tests matching the filters. */                                   \
    X(enum cmon_err, metric_query, (struct store *s, const struct store_metric_query *q,           \
        store_point_cb cb, void *arg, struct cmon_errbuf *eb))                                     \
    /* Fold raw results not yet rolled up into the 1-minute and 1-hour                             \
     * roll-ups (the writer thread calls it every few seconds; metric                              \
     * queries add the rows not yet folded, so they never lag). */                                 \
    X(enum cmon_err, rollup, (struct store *s, int64_t now_ns, int64_t *folded,                    \
        struct cmon_errbuf *eb))                                                                   \
    /* Delete raw results (and paths, state history) older than before_ns,                         \
     * after folding them into the roll-ups, which stay until deleted. */                          \
    X(enum cmon_err, retention, (struct store *s, int64_t before_ns, int64_t *deleted,             \
        struct cmon_errbuf *eb))                                                                   \
    /* Paths (traceroute), one JSON document per round. */                                         \
    X(enum cmon_err, path_put, (struct store *s, const char *test_id, int64_t start_ns,            \
        const char *hops_json, struct cmon_errbuf *eb))                                            \
    X(enum cmon_err, path_latest, (struct store *s, const char *test_id, char **hops_json,         \
        int64_t *start_ns, struct cmon_errbuf *eb))                                                \
    /* Agents: last contact. */                                                                    \
    X(enum cmon_err, agent_seen, (struct store *s, const char *name, int64_t now_ns,               \
        struct cmon_errbuf *eb))                                                                   \
    X(enum cmon_err, agent_last_seen, (struct store *s, const char *name, int64_t *ns,             \
        struct cmon_errbuf *eb))                                                                   \
    /* Alert rules (typed rows, model/alert_rule.h) and fired events.                              \
     * alert_rule_put stores r by its name (*created: the name was new; may                        \
     * be NULL); a rule a monitor manages (r->monitor) only through                                \
     * monitor_put: here CMON_ERR_EXISTS names the monitor when the stored                         \
     * rule's manager differs from r->monitor.  alert_rule_delete refuses a                        \
     * managed rule the same way.  alert_rule_list: every rule by name, owned                      \
     * by the caller (rows that no longer validate: out->invalid). */                              \
    X(enum cmon_err, alert_rule_put, (struct store *s, const struct cmon_alert_rule *r,            \
        bool *created, struct cmon_errbuf *eb))                                                    \
    X(enum cmon_err, alert_rule_delete, (struct store *s, const char *name,                        \
        struct cmon_errbuf *eb))                                                                   \
    X(enum cmon_err, alert_rule_list, (struct store *s, struct cmon_alert_rule_list *out,          \
        struct cmon_errbuf *eb))                                                                   \
    X(enum cmon_err, alert_event_add, (struct store *s, const char *rule, const char *test_id,     \
        int64_t at_ns, const char *message, struct cmon_errbuf *eb))                               \
    X(enum cmon_err, alert_event_list, (struct store *s, int64_t from_ns, size_t limit,            \
        json_t **out, struct cmon_errbuf *eb))                                                     \
    /* Tokens: only the SHA-256 (hex) of a token is stored. */                                     \
    X(enum cmon_err, token_add, (struct store *s, const char *hash_hex, enum store_role role,      \
        const char *name, int64_t now_ns, struct cmon_errbuf *eb))                                 \
    /* CMON_ERR_NOTFOUND if unknown; name (may be NULL) gets the token's name,                     \
     * which for agent tokens is the agent's name. */                                              \
    X(enum cmon_err, token_lookup, (struct store *s, const char *hash_hex, enum store_role *role,  \
        char *name, size_t name_cap, struct cmon_errbuf *eb))                                      \
    X(enum cmon_err, token_count, (struct store *s, size_t *n, struct cmon_errbuf *eb))            \
    /* Read-only SQL over the result tables: at most max_rows rows, aborted                        \
     * after timeout_ms.  *out = {"columns": [...], "rows": [[...]...],                            \
     * "truncated": bool}. */                                                                      \
    X(enum cmon_err, sql_query, (struct store *s, const char *sql, size_t max_rows,                \
        int timeout_ms, json_t **out, struct cmon_errbuf *eb))                                     \
    /* Paths of one test with start in [from, to), oldest first, at most                           \
     * limit; cb returns non-zero to stop. */                                                      \
    X(enum cmon_err, path_query, (struct store *s, const char *test_id, int64_t from_ns,           \
        int64_t to_ns, size_t limit, store_path_cb cb, void *arg, struct cmon_errbuf *eb))         \
    /* For each of tests[0..n), in that order: its newest state change before                     \
     * to_ns and its newest raw result in [results_from_ns, to_ns) (among                         \
     * equal times, the row stored last), NULL when none: cb(arg, i, c, r).                        \
     * One index lookup each, all in one statement or snapshot (views at=). */                     \
    X(enum cmon_err, tests_last, (struct store *s, const struct store_last_query *tests, size_t n, \
        int64_t to_ns, store_last_cb cb, void *arg, struct cmon_errbuf *eb))                       \
    /* ---- alerts wired into the server (docs/alerts.md) ---- */                                  \
    /* Action groups (typed rows) by name, webhook secrets included (the API                       \
     * masks them).  *created tells whether the name was new (may be NULL). */                     \
    X(enum cmon_err, action_group_put, (struct store *s, const struct cmon_action_group *g,        \
        bool *created, struct cmon_errbuf *eb))                                                    \
    X(enum cmon_err, action_group_delete, (struct store *s, const char *name,                      \
        struct cmon_errbuf *eb))                                                                   \
    /* Every group by name, owned by the caller. */                                                \
    X(enum cmon_err, action_group_list, (struct store *s, struct cmon_action_group_list *out,      \
        struct cmon_errbuf *eb))                                                                   \
    /* One evaluation's outcome, in one transaction: upsert every item (JSON of                    \
     * cmon_alert_instance_to_json) as the episode (key, startsAt); drop                           \
     * pending episodes not among items (they ended silently); append each                         \
     * transition {"key", "rule", "event": "firing"|"resolved", "atNs", "value"}                   \
     * to the history. */                                                                          \
    X(enum cmon_err, alert_save, (struct store *s, const json_t *items, const json_t *transitions, \
        int64_t now_ns, struct cmon_errbuf *eb))                                                   \
    /* *out = the pending and firing instances (JSON), to restore the                              \
     * evaluator after a restart or on a new leader. */                                            \
    X(enum cmon_err, alert_active, (struct store *s, json_t **out, struct cmon_errbuf *eb))        \
    /* Episodes, newest first: *out = instance JSON array of at most limit,                        \
     * from offset; *more when there are further rows. */                                          \
    X(enum cmon_err, alert_query, (struct store *s, const struct store_alert_filter *f,            \
        size_t offset, size_t limit, json_t **out, bool *more, struct cmon_errbuf *eb))            \
    /* Transition history of one alert key, oldest first: *out = [{"event",                        \
     * "at" (RFC 3339), "value"}]. */                                                              \
    X(enum cmon_err, alert_transitions, (struct store *s, const char *key, json_t **out,           \
        struct cmon_errbuf *eb))                                                                   \
    /* Forget resolved episodes that ended, and transitions that happened,                         \
     * before before_ns (the server applies raw-result retention). */                              \
    X(enum cmon_err, alert_prune, (struct store *s, int64_t before_ns, int64_t *deleted,           \
        struct cmon_errbuf *eb))                                                                   \
    /* ---- remote agents ---- */                                                                  \
    /* Remote agents (DESIGN 7, docs/agents.md).  agent_register, in one                           \
     * transaction: revoke every agent-role token named name, add token_hash                       \
     * as its new agent token, and record (or refresh) the agent; *next_seq                        \
     * gets one past the highest batch sequence stored for it (0 if none), so                      \
     * an agent that lost its spool never reuses a number. */                                      \
    X(enum cmon_err, agent_register, (struct store *s, const char *name, const char *token_hash,   \
        const char *version, const char *addresses_json, const char *region, int heartbeat_sec,    \
        int64_t now_ns, int64_t *next_seq, struct cmon_errbuf *eb))                                \
    /* A heartbeat: CMON_ERR_NOTFOUND when the agent is not registered. */                         \
    X(enum cmon_err, agent_heartbeat, (struct store *s, const char *name, const char *version,     \
        const char *addresses_json, const char *region, const char *spool_json, int heartbeat_sec, \
        int64_t now_ns, struct cmon_errbuf *eb))                                                   \
    /* Registered agents and agents seen through results, by name. */                              \
    X(enum cmon_err, agent_list, (struct store *s, store_agent_cb cb, void *arg,                   \
        struct cmon_errbuf *eb))                                                                   \
    /* The one agent agent_list would give under name: cb once, or never                           \
     * when there is none (the writer's per-transaction lookups). */                               \
    X(enum cmon_err, agent_get, (struct store *s, const char *name, store_agent_cb cb, void *arg,  \
        struct cmon_errbuf *eb))                                                                   \
    /* Forget a registered agent and revoke its tokens (CMON_ERR_NOTFOUND if                       \
     * neither exists). */                                                                         \
    X(enum cmon_err, agent_delete, (struct store *s, const char *name, struct cmon_errbuf *eb))    \
    /* The tests with these ids (sorted by strcmp, no duplicates), in any                          \
     * order (store_test_query_each is the generic way, one test_query per id). */                 \
    X(enum cmon_err, test_query_ids, (struct store *s, const char *const *ids, size_t n,           \
        store_test_cb cb, void *arg, struct cmon_errbuf *eb))                                      \
    /* Leadership among replicas (leader.h): SQLite is always the leader. */                       \
    X(enum cmon_err, leader_try, (struct store *s, bool *leader, struct cmon_errbuf *eb))          \
    /* One-off writes (monitors, alert rules, action groups, tokens, agents)                       \
     * check what is stored and then write, in steps: hold = true waits until                      \
     * no other replica's connection runs one, false lets the next one go.                         \
     * SQLite has one server per database: nothing to wait for. */                                \
    X(enum cmon_err, config_serial, (struct store *s, bool hold, struct cmon_errbuf *eb))

struct store_ops {
    int version;      /* STORE_OPS_VERSION the backend was written against */
    const char *name; /* "sqlite", for messages only: callers test caps */
    unsigned caps;    /* enum store_cap bits */
    void (*close)(struct store *s);
#define STORE_OP_SLOT(ret, op, args) ret(*op) args;
    STORE_OPS(STORE_OP_SLOT)
#undef STORE_OP_SLOT
};

struct store {
    const struct store_ops *ops;
};

/* Open a store from its URL: "sqlite:PATH" (directories are created) or
 * "postgres://..." / "postgresql://..." (a libpq connection URI).  Refuses a database
 * written by a newer cmon with a clear message. */
enum cmon_err store_open(const char *url, enum store_mode mode, struct store **out,
                         struct cmon_errbuf *eb);
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

const char *store_role_name(enum store_role r); /* "reader", "admin", "agent" */
bool store_role_parse(const char *s, enum store_role *out);
/* SHA-256 of token as 64 lowercase hex chars + NUL. */
void store_token_hash(const char *token, char out[65]);
/* The tests with the given ids (sorted by strcmp, no duplicates); cb may
 * stop the walk by returning non-zero.  _each is the generic way, one
 * test_query per id. */
enum cmon_err store_test_query_ids(struct store *s, const char *const *ids, size_t n,
                                   store_test_cb cb, void *arg, struct cmon_errbuf *eb);
enum cmon_err store_test_query_each(struct store *s, const char *const *ids, size_t n,
                                    store_test_cb cb, void *arg, struct cmon_errbuf *eb);
/* For the backends: the tests' ids as JSON array text (caller frees), or
 * NULL when out of memory. */
char *store_test_ids_json(const struct store_test *tests, size_t n);
/* The same for a list of ids. */
char *store_ids_json(const char *const *ids, size_t n);
/* For the backends' ingest: by[] holds a transaction's live rounds in arrival
 * order, pointing into one array.  Keeps each test's newest (the last to
 * arrive among equal starts: what one update per result in arrival order
 * leaves, as each applies only when not older than the stored one) in by[0..k),
 * sorted by test id, and returns k. */
size_t store_newest_per_test(const struct cmon_round_result **by, size_t n);
/* For the backends: the rules' names as JSON array text (caller frees), or
 * NULL when out of memory. */
char *store_rule_names_json(const struct cmon_alert_rule *const *rules, size_t n);
/* For the backends: whether want (the managing monitor, NULL: the alerts
 * API) may write or delete the rule name, stored (exists) as managed by
 * stored (NULL: the API's): CMON_OK, or CMON_ERR_EXISTS saying who manages it. */
enum cmon_err store_rule_owner_check(const char *name, bool exists, const char *stored,
                                     const char *want, struct cmon_errbuf *eb);
/* For the backends: one stored row into a list (a body that no longer
 * validates goes to out->invalid). */
enum cmon_err store_rule_row(struct cmon_alert_rule_list *out, const char *name, const char *body,
                             const char *monitor, struct cmon_errbuf *eb);
enum cmon_err store_group_row(struct cmon_action_group_list *out, const char *name,
                              const char *body, struct cmon_errbuf *eb);
/* A new random token "cmon_" + 40 hex chars (45 chars + NUL). */
enum cmon_err store_token_new(char out[64], struct cmon_errbuf *eb);

#endif
