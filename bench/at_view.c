/* at_view.c: benchmark of the views at= (server/views_at.c): a store with
 * TESTS tests and a history -- DAYS days of state changes, PER_DAY per test
 * per day, and HOURS hours of 60-s rounds before now -- then
 * views_test_query (what GET /api/v1/tests?at= runs, minus HTTP and JSON)
 * at two past moments: 30 minutes ago (rounds in every test's window) and
 * half-way through the history (none).  Each query runs REPEAT times on a
 * read-only store, as the API's readers open it; prints the median and the
 * fastest, and a hash of the answer, so that two builds' answers compare.
 * Asserts nothing.
 * usage: at_view fill URL [TESTS] [DAYS] [PER_DAY] [HOURS]
 *        at_view query URL [REPEAT]
 * URL: sqlite:PATH or postgres://...; query reads the moments fill chose
 * from the store (the first state change, the newest round). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/diag.h"
#include "server/server_internal.h"
#include "store/store.h"

#define DAY_NS (86400LL * CMON_NS_PER_SEC)
#define TX_ROWS 20000

static void die(const char *what, const struct cmon_errbuf *eb)
{
    fprintf(stderr, "at_view: %s: %s\n", what, eb->msg);
    exit(1);
}

/* Writes go in transactions of TX_ROWS: a new one after each TX_ROWS. */
static void tx_step(struct store *s, size_t done)
{
    struct cmon_errbuf eb;
    if (done % TX_ROWS == 0 && ((done && s->ops->tx_commit(s, &eb)) || s->ops->tx_begin(s, &eb)))
        die("transaction", &eb);
}

static void tx_end(struct store *s)
{
    struct cmon_errbuf eb;
    if (s->ops->tx_commit(s, &eb))
        die("commit", &eb);
}

static void fill_tests(struct store *s, size_t n, char (*ids)[17], int64_t now)
{
    struct store_test *t = calloc(n, sizeof *t);
    char(*groups)[24] = calloc(n, sizeof *groups);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 17, "%016zx", i + 1);
        snprintf(groups[i], sizeof groups[i], "g%zu", i / 100);
        t[i] = (struct store_test){.id = ids[i],
                                   .number = (int)i + 1,
                                   .group = groups[i],
                                   .source = "agent",
                                   .destination = "dst",
                                   .config = "tcp",
                                   .protocol = CMON_PROTO_TCP,
                                   .target = "127.0.0.1",
                                   .port = 80,
                                   .frequency_sec = 60};
    }
    struct cmon_errbuf eb;
    if (s->ops->monitor_put(s, "bench", "{}", t, n, NULL, 0, now, NULL, &eb))
        die("monitor_put", &eb);
    free(groups);
    free(t);
}

/* Changes in time order, each test its own phase; the states cycle
 * Pass, Warning, Fail, so every write is a change. */
static void fill_changes(struct store *s, size_t n, char (*ids)[17], int64_t from, int days,
                         int per_day)
{
    static const enum cmon_state cycle[] = {CMON_STATE_PASS, CMON_STATE_WARNING,
                                            CMON_STATE_FAIL};
    static const char *const reasons[] = {"", "ChecksFailedPercent 30 > 10",
                                          "ChecksFailedPercent 100 > 50"};
    size_t done = 0, total = n * (size_t)days * (size_t)per_day;
    for (int64_t k = 0; k < (int64_t)days * per_day; k++) {
        for (size_t i = 0; i < n; i++) {
            tx_step(s, done);
            size_t c = (size_t)(k + (int64_t)i) % 3;
            int64_t at = from + k * (DAY_NS / per_day) + (int64_t)(i % 600) * CMON_NS_PER_SEC;
            struct cmon_errbuf eb;
            bool changed;
            if (s->ops->test_set_state(s, ids[i], cycle[c], reasons[c], at, &changed, &eb))
                die("test_set_state", &eb);
            done++;
        }
    }
    tx_end(s);
    printf("at_view: %zu state changes\n", total);
}

static void fill_results(struct store *s, size_t n, char (*ids)[17], int64_t now, int hours)
{
    size_t done = 0;
    int64_t rounds = (int64_t)hours * 60;
    for (int64_t k = 0; k < rounds; k++) {
        for (size_t i = 0; i < n; i++) {
            tx_step(s, done);
            struct store_result r = {.agent = "agent"};
            memcpy(r.r.test_id, ids[i], 17);
            r.r.start_ns = now - (rounds - k) * 60 * CMON_NS_PER_SEC +
                           (int64_t)(i % 60) * CMON_NS_PER_SEC;
            r.r.checks_total = 10;
            r.r.checks_failed = (uint32_t)((k + (int64_t)i) % 7 == 0 ? 3 : 0);
            r.r.has_rtt = true;
            r.r.rtt_min_ms = 0.1, r.r.rtt_avg_ms = 0.2 + (double)(k % 10) / 10,
            r.r.rtt_max_ms = 2;
            r.r.diagnostic = r.r.checks_failed ? CMON_DIAG_CONNECTION_REFUSED : CMON_DIAG_NONE;
            r.r.dns_ms = r.r.connect_ms = r.r.tls_ms = r.r.first_byte_ms = -1;
            struct cmon_errbuf eb;
            if (s->ops->ingest_result(s, &r, &eb))
                die("ingest_result", &eb);
            done++;
        }
    }
    tx_end(s);
    printf("at_view: %zu results\n", done);
}

static int fill(const char *url, size_t n, int days, int per_day, int hours)
{
    struct cmon_errbuf eb;
    struct store *s;
    if (store_open(url, STORE_READ_WRITE, &s, &eb))
        die("open", &eb);
    int64_t now = cmon_wall_ns() / (60 * CMON_NS_PER_SEC) * (60 * CMON_NS_PER_SEC);
    char(*ids)[17] = calloc(n, sizeof *ids);
    int64_t t0 = cmon_mono_ns();
    fill_tests(s, n, ids, now);
    fill_changes(s, n, ids, now - (int64_t)days * DAY_NS, days, per_day);
    fill_results(s, n, ids, now, hours);
    printf("at_view: filled %zu tests in %.1f s\n", n,
           (double)(cmon_mono_ns() - t0) / CMON_NS_PER_SEC);
    free(ids);
    store_close(s);
    return 0;
}

struct answer {
    size_t tests;
    uint64_t hash; /* FNV-1a over what the API shows of each test */
    int64_t first_change, newest_round;
};

static void mix(uint64_t *h, const void *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        *h = (*h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
}

static int take(void *arg, const struct store_test *t)
{
    struct answer *a = arg;
    a->tests++;
    mix(&a->hash, t->id, strlen(t->id));
    mix(&a->hash, &t->state, sizeof t->state);
    mix(&a->hash, &t->state_since_ns, sizeof t->state_since_ns);
    mix(&a->hash, t->reason, strlen(t->reason));
    mix(&a->hash, &t->has_result, sizeof t->has_result);
    if (t->has_result) {
        mix(&a->hash, &t->last_result_ns, sizeof t->last_result_ns);
        mix(&a->hash, &t->checks_failed_pct, sizeof t->checks_failed_pct);
        mix(&a->hash, &t->rtt_ms, sizeof t->rtt_ms);
        mix(&a->hash, t->diagnostic, strlen(t->diagnostic));
        mix(&a->hash, t->detail, strlen(t->detail));
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void timed(struct store *s, const char *label, const struct store_test_filter *f,
                  int64_t at, int repeat)
{
    int64_t *ns = calloc((size_t)repeat, sizeof *ns);
    struct answer a = {0};
    for (int k = 0; k < repeat; k++) {
        a = (struct answer){.hash = 14695981039346656037ULL};
        struct cmon_errbuf eb;
        int64_t t0 = cmon_mono_ns();
        if (views_test_query(s, f, at, take, &a, &eb))
            die("views_test_query", &eb);
        ns[k] = cmon_mono_ns() - t0;
    }
    qsort(ns, (size_t)repeat, sizeof *ns, cmp_i64);
    printf("at_view[%s] %-30s %6zu tests  median %9.1f ms  fastest %9.1f ms  answer %016" PRIx64
           "\n",
           s->ops->name, label, a.tests, (double)ns[repeat / 2] / 1e6, (double)ns[0] / 1e6,
           a.hash);
    free(ns);
}

static int bound(void *arg, const struct store_state_change *c)
{
    ((struct answer *)arg)->first_change = c->at_ns;
    return 1;
}

static int newest(void *arg, const struct store_result *r)
{
    ((struct answer *)arg)->newest_round = r->r.start_ns;
    return 0;
}

static int query(const char *url, int repeat)
{
    struct cmon_errbuf eb;
    struct store *s;
    if (store_open(url, STORE_READ_ONLY, &s, &eb))
        die("open", &eb);
    /* the moments: from the first test's history (state_changes and
     * result_query exist in every build compared) */
    struct answer m = {0};
    if (s->ops->state_changes(s, "0000000000000001", 0, INT64_MAX, bound, &m, &eb) ||
        s->ops->result_query(s, "0000000000000001", 0, INT64_MAX, 1000000, newest, &m, &eb))
        die("history bounds", &eb);
    if (!m.first_change || !m.newest_round) {
        fprintf(stderr, "at_view: the store has no history: run fill first\n");
        return 1;
    }
    int64_t recent = m.newest_round - 30 * 60 * CMON_NS_PER_SEC;
    int64_t middle = m.first_change + (recent - m.first_change) / 2;
    struct store_test_filter fail = {.has_state = true, .state = CMON_STATE_FAIL};
    struct store_test_filter group = {.group = "g1"};
    timed(s, "all tests, 30 min ago", NULL, recent, repeat);
    timed(s, "state=Fail, 30 min ago", &fail, recent, repeat);
    timed(s, "one group (100), 30 min ago", &group, recent, repeat);
    timed(s, "all tests, mid-history", NULL, middle, repeat);
    timed(s, "live (no at=)", NULL, 0, repeat);
    store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], argc > 3 ? strtoul(argv[3], NULL, 10) : 10000,
                    argc > 4 ? atoi(argv[4]) : 30, argc > 5 ? atoi(argv[5]) : 4,
                    argc > 6 ? atoi(argv[6]) : 2);
    if (argc >= 3 && strcmp(argv[1], "query") == 0)
        return query(argv[2], argc > 3 ? atoi(argv[3]) : 5);
    fprintf(stderr, "usage: at_view fill URL [TESTS] [DAYS] [PER_DAY] [HOURS]\n"
                    "       at_view query URL [REPEAT]\n");
    return 2;
}
