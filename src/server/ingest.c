/* ingest.c: the bounded ingest queue and the thread that drains it.  Each
 * wake-up takes everything queued (up to a batch limit) into one transaction:
 * exactly-once marks for agent batches, raw results, roll-ups, then the
 * touched tests' states -- so a commit costs one fsync for many rounds. */
#include "server/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "model/path.h"
#include "server/evaluator.h"
#include "server/server_internal.h"
#include "store/store.h"

#define INGEST_MAX_TX_RESULTS 50000

struct ingest_item {
    struct ingest_item *next;
    char agent[64];
    char mark[96]; /* exactly-once key: "agent" or "agent/spoolId" */
    int64_t seq;
    struct cmon_round_result *results;
    size_t n;
    struct cmon_path_report *paths;
    size_t n_paths;
    struct ingest_wait *wait;
    bool duplicate;
};

struct ingest {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ingest_item *head, *tail;
    size_t queued, max_queued;
    bool stop;
    struct store *store;
    const struct cmon_log *log;
    struct ingest_stats stats;
};

void ingest_wait_init(struct ingest_wait *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

void ingest_wait_destroy(struct ingest_wait *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

void ingest_wait_for(struct ingest_wait *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static void wait_finish(struct ingest_wait *w, enum cmon_err err, bool dup, const char *msg)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    w->duplicate = dup;
    snprintf(w->msg, sizeof w->msg, "%s", msg ? msg : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void item_free(struct ingest_item *it)
{
    free(it->results);
    free(it->paths);
    free(it);
}

/* Take queued items up to INGEST_MAX_TX_RESULTS (at least one). */
static struct ingest_item *take_items(struct ingest *ing, size_t *n_results)
{
    struct ingest_item *first = ing->head, *last = NULL, *it = ing->head;
    size_t n = 0;
    while (it && (n == 0 || n + it->n <= INGEST_MAX_TX_RESULTS)) {
        n += it->n;
        last = it;
        it = it->next;
    }
    if (!last)
        return NULL;
    ing->head = last->next;
    if (!ing->head)
        ing->tail = NULL;
    last->next = NULL;
    ing->queued -= n;
    *n_results = n;
    return first;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Evaluate each distinct test the batch touched, inside the transaction. */
static enum cmon_err eval_touched(struct ingest *ing, struct ingest_item *items, size_t n,
                                  struct cmon_errbuf *eb)
{
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (struct ingest_item *it = items; it; it = it->next) {
        for (size_t i = 0; !it->duplicate && i < it->n; i++)
            ids[k++] = it->results[i].test_id;
    }
    qsort(ids, k, sizeof *ids, cmp_id);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || strcmp(ids[i], ids[u - 1]) != 0)
            ids[u++] = ids[i];
    }
    enum cmon_err err = eval_test_ids(ing->store, ids, u, cmon_wall_ns(), NULL, eb);
    free(ids);
    return err;
}

static enum cmon_err store_items(struct ingest *ing, struct ingest_item *items, size_t n,
                                 struct cmon_errbuf *eb)
{
    struct store *s = ing->store;
    enum cmon_err err = s->ops->ingest_begin(s, eb);
    int64_t now = cmon_wall_ns();
    for (struct ingest_item *it = items; !err && it; it = it->next) {
        it->duplicate = false;
        if (it->seq >= 0)
            err = s->ops->ingest_batch_mark(s, it->mark, it->seq, now, &it->duplicate, eb);
        if (!err && it->agent[0])
            err = s->ops->agent_seen(s, it->agent, now, eb);
        for (size_t i = 0; !err && !it->duplicate && i < it->n; i++) {
            struct store_result r = {.agent = it->agent, .r = it->results[i]};
            /* a replay older than a day is history, not the test's present */
            r.history = r.r.start_ns < now &&
                        (uint64_t)now - (uint64_t)r.r.start_ns > CMON_ROUND_LIVE_AGE_NS;
            err = s->ops->ingest_result(s, &r, eb);
        }
        for (size_t i = 0; !err && !it->duplicate && i < it->n_paths; i++)
            err = paths_store(s, it->agent, &it->paths[i], eb);
    }
    if (!err)
        err = eval_touched(ing, items, n, eb);
    if (!err)
        err = s->ops->ingest_commit(s, eb);
    if (err)
        s->ops->ingest_rollback(s);
    return err;
}

static void finish_items(struct ingest *ing, struct ingest_item *items, enum cmon_err err,
                         const char *msg)
{
    while (items) {
        struct ingest_item *next = items->next;
        pthread_mutex_lock(&ing->mu);
        if (err)
            ing->stats.results_dropped += items->n;
        else if (items->duplicate)
            ing->stats.batches_duplicate++;
        else
            ing->stats.results_stored += items->n;
        pthread_mutex_unlock(&ing->mu);
        wait_finish(items->wait, err, items->duplicate, msg);
        item_free(items);
        items = next;
    }
}

static void *ingest_main(void *arg)
{
    struct ingest *ing = arg;
    pthread_mutex_lock(&ing->mu);
    for (;;) {
        while (!ing->head && !ing->stop)
            pthread_cond_wait(&ing->cv, &ing->mu);
        if (!ing->head && ing->stop)
            break;
        size_t n = 0;
        struct ingest_item *items = take_items(ing, &n);
        pthread_mutex_unlock(&ing->mu);
        struct cmon_errbuf eb = {{0}};
        enum cmon_err err = store_items(ing, items, n, &eb);
        if (err)
            cmon_error(ing->log, "ingest failed", "results=%zu err=%s", n, eb.msg);
        finish_items(ing, items, err, eb.msg);
        pthread_mutex_lock(&ing->mu);
        if (!err)
            ing->stats.batches_committed++;
    }
    pthread_mutex_unlock(&ing->mu);
    return NULL;
}

enum cmon_err ingest_start(const char *store_url, size_t max_queued_results,
                           const struct cmon_log *log, struct ingest **out, struct cmon_errbuf *eb)
{
    struct ingest *ing = calloc(1, sizeof *ing);
    if (!ing)
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    enum cmon_err err = store_open(store_url, STORE_READ_WRITE, &ing->store, eb);
    if (err) {
        free(ing);
        return err;
    }
    ing->max_queued = max_queued_results ? max_queued_results : 100000;
    ing->log = log;
    pthread_mutex_init(&ing->mu, NULL);
    pthread_cond_init(&ing->cv, NULL);
    if (pthread_create(&ing->thread, NULL, ingest_main, ing) != 0) {
        store_close(ing->store);
        free(ing);
        return cmon_fail(eb, CMON_ERR_IO, "cannot start the ingest thread");
    }
    *out = ing;
    return CMON_OK;
}

void ingest_stop(struct ingest *ing)
{
    if (!ing)
        return;
    pthread_mutex_lock(&ing->mu);
    ing->stop = true;
    pthread_cond_signal(&ing->cv);
    pthread_mutex_unlock(&ing->mu);
    pthread_join(ing->thread, NULL);
    pthread_mutex_destroy(&ing->mu);
    pthread_cond_destroy(&ing->cv);
    store_close(ing->store);
    free(ing);
}

enum cmon_err ingest_submit(struct ingest *ing, const char *agent, int64_t seq,
                            const struct cmon_round_result *results, size_t n,
                            struct ingest_wait *wait, struct cmon_errbuf *eb)
{
    return ingest_submit_batch(ing, agent, seq, results, n, NULL, 0, wait, eb);
}

enum cmon_err ingest_submit_batch(struct ingest *ing, const char *agent, int64_t seq,
                                  const struct cmon_round_result *results, size_t n,
                                  const struct cmon_path_report *paths, size_t n_paths,
                                  struct ingest_wait *wait, struct cmon_errbuf *eb)
{
    return ingest_submit_spooled(ing, agent, NULL, seq, results, n, paths, n_paths, wait, eb);
}

enum cmon_err ingest_submit_spooled(struct ingest *ing, const char *agent, const char *spool_id,
                                    int64_t seq, const struct cmon_round_result *results, size_t n,
                                    const struct cmon_path_report *paths, size_t n_paths,
                                    struct ingest_wait *wait, struct cmon_errbuf *eb)
{
    struct ingest_item *it = calloc(1, sizeof *it);
    if (!it || (n && !(it->results = malloc(n * sizeof *results))) ||
        (n_paths && !(it->paths = malloc(n_paths * sizeof *paths)))) {
        if (it)
            item_free(it);
        return cmon_fail(eb, CMON_ERR_NOMEM, "out of memory");
    }
    if (n)
        memcpy(it->results, results, n * sizeof *results);
    if (n_paths)
        memcpy(it->paths, paths, n_paths * sizeof *paths);
    it->n = n;
    it->n_paths = n_paths;
    it->seq = seq;
    it->wait = wait;
    snprintf(it->agent, sizeof it->agent, "%s", agent ? agent : "");
    /* agent names have no '/', so "name/spoolId" never meets a plain name */
    snprintf(it->mark, sizeof it->mark, "%s%s%s", it->agent, spool_id && *spool_id ? "/" : "",
             spool_id ? spool_id : "");
    pthread_mutex_lock(&ing->mu);
    if (ing->stop || (ing->queued + n > ing->max_queued && ing->queued > 0)) {
        bool stopping = ing->stop;
        pthread_mutex_unlock(&ing->mu);
        item_free(it);
        return cmon_fail(eb, CMON_ERR_LIMIT,
                         stopping ? "the server is stopping"
                                  : "the ingest queue is full; retry later");
    }
    if (ing->tail)
        ing->tail->next = it;
    else
        ing->head = it;
    ing->tail = it;
    ing->queued += n;
    pthread_cond_signal(&ing->cv);
    pthread_mutex_unlock(&ing->mu);
    return CMON_OK;
}

void ingest_get_stats(struct ingest *ing, struct ingest_stats *st)
{
    pthread_mutex_lock(&ing->mu);
    *st = ing->stats;
    st->queued_results = ing->queued;
    pthread_mutex_unlock(&ing->mu);
}
