/* ingest.h: the ingest thread -- owns the store's write connection, takes
 * round results from a bounded queue and commits them in batched
 * transactions, evaluating the touched tests' states in the same transaction.
 * Remote agent batches (with a sequence number, stored exactly once) and the
 * embedded agent's rounds take this one path.
 * Ownership: ingest_submit copies the results.  Threads: submit/wait from any
 * thread; the ingest thread is internal. */
#ifndef CMON_SERVER_INGEST_H
#define CMON_SERVER_INGEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"
#include "model/result.h"

struct ingest;

/* Lets a submitter wait until its batch is committed (agent acks). */
struct ingest_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool duplicate; /* (agent, seq) had been stored before */
    enum cmon_err err;
    char msg[512];
};

void ingest_wait_init(struct ingest_wait *w);
void ingest_wait_destroy(struct ingest_wait *w);
/* Blocks until the ingest thread has committed (or failed) the batch. */
void ingest_wait_for(struct ingest_wait *w);

struct ingest_stats {
    uint64_t results_stored, batches_committed, batches_duplicate, results_dropped;
    uint64_t queued_results;
};

enum cmon_err ingest_start(const char *store_url, size_t max_queued_results,
                           const struct cmon_log *log, struct ingest **out, struct cmon_errbuf *eb);
/* Commits what is queued, then stops the thread and frees. */
void ingest_stop(struct ingest *ing);

/* seq < 0: no exactly-once bookkeeping (embedded agent).  wait may be NULL;
 * when given it must outlive the commit (ingest_wait_for). */
enum cmon_err ingest_submit(struct ingest *ing, const char *agent, int64_t seq,
                            const struct cmon_round_result *results, size_t n,
                            struct ingest_wait *wait, struct cmon_errbuf *eb);
/* The same with traceroute paths (model/path.h), stored with their
 * route-change mark in the same transaction; both arrays are copied. */
struct cmon_path_report;
enum cmon_err ingest_submit_batch(struct ingest *ing, const char *agent, int64_t seq,
                                  const struct cmon_round_result *results, size_t n,
                                  const struct cmon_path_report *paths, size_t n_paths,
                                  struct ingest_wait *wait, struct cmon_errbuf *eb);
/* The same for a remote agent's batch from one spool: exactly once per
 * (agent, spool_id, seq), so an agent that lost its spool (a new spool id)
 * starts a fresh sequence.  spool_id NULL or "": per (agent, seq). */
enum cmon_err ingest_submit_spooled(struct ingest *ing, const char *agent, const char *spool_id,
                                    int64_t seq, const struct cmon_round_result *results, size_t n,
                                    const struct cmon_path_report *paths, size_t n_paths,
                                    struct ingest_wait *wait, struct cmon_errbuf *eb);
void ingest_get_stats(struct ingest *ing, struct ingest_stats *st);

#endif
