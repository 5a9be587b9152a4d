/* spool.h: the agent's on-disk spool of result batches (DESIGN section 7).
 * Every batch is appended (length + CRC record, fsync) before it is sent and
 * forgotten only once the server acknowledged it, so no result is lost across
 * server outages, agent restarts or kill -9.  Records live in segment files
 * "spool-<first seq>.log" in one directory; the highest acknowledged sequence
 * number is kept in "acked" (written by rename, fsync'd).  A segment whose
 * batches are all acknowledged is deleted.
 * Thread affinity: none inside; not thread-safe -- one thread at a time (the
 * agent calls it from libuv's thread pool so its loop never blocks on disk).
 * Ownership: the spool owns its fds and index; spool_get() hands the caller a
 * malloc'd copy of the payload. */
#ifndef CMON_AGENT_SPOOL_H
#define CMON_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/log.h"

struct agent_spool;

struct spool_opts {
    const char *dir;            /* created if missing (mode 0700) */
    uint64_t max_bytes;         /* total size of the unacknowledged records; 0: 256 MiB */
    uint64_t segment_bytes;     /* start a new segment past this; 0: 4 MiB */
    const struct cmon_log *log; /* may be NULL */
};

struct spool_stats {
    uint64_t pending_batches; /* appended, not yet acknowledged */
    uint64_t pending_bytes;
    uint64_t acked_seq;       /* highest acknowledged batch sequence */
    uint64_t dropped_batches; /* refused because the spool was full or the disk failed */
    uint64_t dropped_results;
    uint64_t corrupt_records; /* torn or corrupt records skipped at open */
};

/* Open (or create) the spool in opts->dir and index what is in it.  A torn or
 * corrupt record ends its segment: it is logged, counted and cut off. */
enum cmon_err spool_open(const struct spool_opts *opts, struct agent_spool **out,
                         struct cmon_errbuf *eb);
void spool_close(struct agent_spool *sp);

/* The sequence number the next batch should use (one past the highest seen,
 * acknowledged or not, so numbers never repeat across restarts). */
uint64_t spool_next_seq(const struct agent_spool *sp);

/* Append batch seq (must be >= spool_next_seq) holding n_results results and
 * fsync it.  CMON_ERR_LIMIT: the spool is full (max_bytes); CMON_ERR_IO: the
 * disk failed (ENOSPC...).  In both cases nothing of the batch stays on disk,
 * the drop is counted and logged, and the spool remains usable. */
enum cmon_err spool_append(struct agent_spool *sp, uint64_t seq, const void *data, size_t len,
                           uint32_t n_results, struct cmon_errbuf *eb);

/* The spool's random 64-bit id, made when the spool was created and kept
 * in it: batches carry it so the server's exactly-once bookkeeping is per
 * spool, and an agent that lost its spool starts a fresh sequence. */
uint64_t spool_id(const struct agent_spool *sp);

/* Replace the oldest pending batch (parent) by parts with new sequence
 * numbers (ascending, >= spool_next_seq), in one fsync'd append; then the
 * parent is acknowledged.  Exactly once across a crash at any point: at
 * open, a split whose last part is on disk forgets its parent, and parts of
 * a split cut short are forgotten (the parent is still pending). */
#define SPOOL_MAX_PARTS 8
struct spool_part {
    uint64_t seq;
    const void *data;
    size_t len;
    uint32_t n_results;
};
enum cmon_err spool_split(struct agent_spool *sp, uint64_t parent, const struct spool_part *parts,
                          size_t n, struct cmon_errbuf *eb);

/* Number of unacknowledged batches, oldest first for spool_get(i). */
size_t spool_pending(const struct agent_spool *sp);
/* A copy of pending batch i (0 = oldest): *data is malloc'd, caller frees. */
enum cmon_err spool_get(struct agent_spool *sp, size_t i, uint64_t *seq, char **data, size_t *len,
                        struct cmon_errbuf *eb);

/* The server acknowledged every batch up to and including seq: persist that,
 * and delete segments that hold nothing unacknowledged. */
enum cmon_err spool_ack(struct agent_spool *sp, uint64_t seq, struct cmon_errbuf *eb);

void spool_stats(const struct agent_spool *sp, struct spool_stats *st);

#endif
