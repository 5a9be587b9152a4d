/* agent_body.h: the agent protocol's bodies as data (DESIGN 7) -- the rules
 * for what an agent may say about itself (names, versions, addresses) and,
 * with agent_body.c, pure decoders that return errors instead of replying,
 * shared by the server's handlers and the fuzz target.
 * Pure: no I/O, no clock.  Ownership: decoded strings point into the JSON. */
#ifndef CMON_MODEL_AGENT_BODY_H
#define CMON_MODEL_AGENT_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/path.h"
#include "model/result.h"

/* What one results batch may hold (the server says so to agents). */
#define CMON_AGENT_MAX_BATCH_RESULTS 10000
#define CMON_AGENT_MAX_BATCH_PATHS 1000

/* The batch interval a server tells its agents (batchIntervalMs) unless
 * --agent-batch-ms says otherwise; an agent keeps its own --batch-ms when
 * that is longer. */
#define CMON_AGENT_BATCH_MS 1000

/* An agent's name is its identity (token name, batch bookkeeping): the
 * monitor-name charset [A-Za-z0-9._-], 1..63, no leading '.' or '-'. */
#define CMON_AGENT_NAME_MAX 63
bool cmon_agent_name_valid(const char *name);

/* A string an agent reports that is logged or shown (version, addresses):
 * at most max bytes, no control characters (a newline would forge a log
 * line), valid as jansson gives it (UTF-8). */
bool cmon_agent_text_valid(const char *s, size_t max);

/* Batch numbers stay below 2^62, so nextBatch (one past the highest
 * stored) can never overflow. */
#define CMON_AGENT_BATCH_LIMIT ((int64_t)1 << 62)

/* Why a body was refused: the API's error code and field, and a message.
 * Decoders return CMON_ERR_INVALID with it filled, or CMON_ERR_NOMEM. */
struct cmon_agent_err {
    const char *code; /* "invalid_parameter" or "validation_failed" */
    char field[48];
    char message[256];
};

/* POST /api/v1/agent/results: {"batch", "spoolId"?, "results", "paths"?}. */
struct cmon_agent_batch {
    int64_t seq;
    char spool_id[17]; /* "" when absent */
    struct cmon_round_result *results;
    size_t n_results;
    struct cmon_path_report *paths;
    size_t n_paths;
};
enum cmon_err cmon_agent_batch_decode(const json_t *body, struct cmon_agent_batch *b,
                                      struct cmon_agent_err *e);
void cmon_agent_batch_free(struct cmon_agent_batch *b);

/* POST /api/v1/agents/register {"name", "version"?, "addresses"?,
 * "heartbeatSec"?, "region"?} and /api/v1/agent/heartbeat {"version"?,
 * "addresses"?, "heartbeatSec"?, "spool"?, "region"?}: unknown fields are
 * errors.  addresses[0] is the agent's primary address. */
struct cmon_agent_facts {
    const char *name;    /* register: points into the body */
    const char *version; /* "" when absent; points into the body */
    char *addresses;     /* compact JSON array text, malloc'd */
    const char *region;  /* "" when absent; points into the body */
    int heartbeat_sec;   /* 0 when absent */
    char *spool;         /* heartbeat: compact JSON object text ("{}"), malloc'd */
};
enum cmon_err cmon_agent_register_decode(const json_t *body, struct cmon_agent_facts *f,
                                         struct cmon_agent_err *e);
enum cmon_err cmon_agent_heartbeat_decode(const json_t *body, struct cmon_agent_facts *f,
                                          struct cmon_agent_err *e);
void cmon_agent_facts_free(struct cmon_agent_facts *f);

#endif
