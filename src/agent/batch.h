/* batch.h: cutting the agent's results into batches the server takes
 * (DESIGN 7; docs/agents.md "Batch size").  The server says its body limit
 * (maxBatchBytes) and path limit (maxBatchPaths); batches are cut by their
 * serialized size under the limit with a margin, counting paths, and by
 * count.  A batch the server still refuses (413, 400) is split in halves
 * down to single rounds.
 * Pure: JSON in, JSON text out, no I/O.  Ownership: returned texts are
 * malloc'd for the caller; arrays passed in stay the caller's. */
#ifndef CMON_AGENT_BATCH_H
#define CMON_AGENT_BATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define AGENT_BATCH_DEFAULT_BYTES (1u << 20) /* the server default, until told */
#define AGENT_BATCH_DEFAULT_PATHS 1000
#define AGENT_BATCH_MAX_ROUNDS 2000

struct agent_batch_limits {
    size_t max_bytes; /* the server's body limit */
    size_t max_paths;
    size_t max_rounds;
    int interval_ms; /* the server's batchIntervalMs; 0: not told (an older server) */
};

/* The bytes a batch's items may take under max_bytes: a margin of 1/16
 * plus room for the envelope ({"batch","spoolId",...}). */
size_t agent_batch_budget(size_t max_bytes);

/* Move a prefix of rounds, then of paths, that fits the limits from the
 * pending arrays into a new batch text {"batch": seq, "spoolId": id,
 * "results": [...], "paths": [...]}; *n_results gets its round count.  At
 * least one item moves, so a lone oversized item still goes (and is split
 * or refused by the server).  NULL when out of memory (nothing moved). */
char *agent_batch_cut(json_t *rounds, json_t *paths, const struct agent_batch_limits *lim,
                      uint64_t seq, const char *spool_id, uint32_t *n_results);

/* Split a refused batch's items (results, then paths) into two halves
 * numbered seq_a and seq_b, keeping its spoolId.  CMON_ERR_LIMIT when it
 * holds a single item (nothing left to split); CMON_ERR_INVALID when the
 * text is not a batch. */
struct agent_batch_half {
    char *text; /* malloc'd */
    uint32_t n_results;
};
enum cmon_err agent_batch_halve(const char *text, size_t len, uint64_t seq_a, uint64_t seq_b,
                                struct agent_batch_half out[2], struct cmon_errbuf *eb);

/* The number of results and paths in a batch text (0 when unreadable). */
size_t agent_batch_items(const char *text, size_t len, size_t *n_results);

#endif
