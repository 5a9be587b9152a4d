/* agent_rounds.h: which rounds of an agent's batch the server takes (DESIGN 9:
 * "an agent may write only its own tests' rounds, stamped within a window of
 * the server's clock").  One set-wise test lookup per batch on the caller's
 * (read-only) store connection; refused rounds and paths are removed from the
 * batch and listed as {"index"|"pathIndex", "testId", "code", "message"}.
 * Ownership: the caller owns every array; rejected is a jansson array the
 * caller made.  Threads: any, with a store connection of its own. */
#ifndef CMON_SERVER_AGENT_ROUNDS_H
#define CMON_SERVER_AGENT_ROUNDS_H

#include <jansson.h>
#include <stdbool.h>

#include "model/monitor.h"
#include "model/path.h"
#include "model/result.h"
#include "store/store.h"


/* Keep, in place and in order, the rounds and paths agent may write at
 * now_ns (retention_ns: how far back a replay may reach); append one entry
 * per refused one to rejected.  agent NULL checks the time window only (an
 * admin's writes).  CMON_OK unless the store failed. */
enum cmon_err agent_rounds_filter(struct store *s, const char *agent, int64_t now_ns,
                                  int64_t retention_ns, struct cmon_round_result *res, size_t *n,
                                  struct cmon_path_report *paths, size_t *n_paths, json_t *rejected,
                                  struct cmon_errbuf *eb);

#endif
