/* agent_internal.h: what the agent's files share -- the agent struct, the
 * blocking HTTP client with server failover (agent_http.c), the state file
 * (agent_state.c), the push thread (agent_push.c) and the loop side
 * (agent.c, on the shared runtime of runtime.h).
 * Ownership: struct agent owns its push thread, runtime, spool and curl handle.
 * Threads: fields are marked with the thread that owns them; the rest is
 * guarded by mu. */
#ifndef CMON_AGENT_AGENT_INTERNAL_H
#define CMON_AGENT_AGENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agent/agent.h"
#include "agent/batch.h"
#include "agent/spool.h"
#include "agent/runtime.h"
#include "model/monitor.h"

#define AGENT_MAX_PENDING_ROUNDS 200000

/* ---- HTTP client (push thread) ---- */
struct agent_http {
    char *servers[AGENT_MAX_SERVERS];
    size_t n_servers, current; /* current: the server that answered last */
    const char *ca_file;
    void *curl;              /* CURL * */
    const atomic_bool *stop; /* aborts transfers in flight */
    const struct cmon_log *log;
    /* called about every 200 ms while a request waits on the network, so a
     * slow or frozen server never delays spooling the rounds that finish */
    void (*on_wait)(void *arg);
    void *wait_arg;
    int64_t last_wait_ns;
};

struct agent_reply {
    long status; /* 0 when no server answered */
    char *body;  /* malloc'd, NUL-terminated ("" when empty) */
    size_t len;
    char etag[80];
};

enum cmon_err agent_http_init(struct agent_http *h, const struct agent_opts *o,
                              const atomic_bool *stop, struct cmon_errbuf *eb);
void agent_http_free(struct agent_http *h);
/* One request to the current server, then the others in turn while they
 * cannot be reached.  CMON_OK when a server answered (any status; the caller
 * reads rep->status); CMON_ERR_NET when none could be reached (TLS
 * verification failures say so in eb).  token may be NULL; if_none_match may
 * be NULL.  The caller frees rep->body. */
enum cmon_err agent_http_request(struct agent_http *h, const char *method, const char *path,
                                 const char *token, const char *body, size_t len,
                                 const char *if_none_match, struct agent_reply *rep,
                                 struct cmon_errbuf *eb);
/* The API's error message of a reply ("" when none). */
const char *agent_reply_message(const struct agent_reply *rep, char *buf, size_t cap);

/* ---- state file (push thread) ---- */
struct agent_saved {
    char name[64];
    char token[64];
};
/* CMON_ERR_NOTFOUND when there is no saved token. */
enum cmon_err agent_state_load(const char *dir, struct agent_saved *st, struct cmon_errbuf *eb);
enum cmon_err agent_state_save(const char *dir, const struct agent_saved *st,
                               struct cmon_errbuf *eb);
void agent_state_forget(const char *dir);
/* This host's non-loopback addresses as a JSON array (new reference). */
json_t *agent_host_addresses(void);

/* ---- the agent ---- */
struct agent {
    struct agent_opts o;
    char name[64];
    char address[64], region[64]; /* o.address / o.region point here (or NULL) */
    char state_dir[4096];
    const struct cmon_log *log;

    /* the probe loops (runtime.h); results come back through hand_over.
     * Set before the push thread starts; agent_stop clears it under rt_mu
     * before stopping the loops, so the push thread never assigns to (or
     * reads) stopped loops.  rt_mu, not mu: an assignment is parsed under
     * it, and the loops take mu for every round */
    struct agent_runtime *rt;
    pthread_mutex_t rt_mu;

    /* push thread */
    pthread_t push_thread;
    struct agent_http http;
    struct agent_spool *spool;
    struct agent_saved saved;
    bool registered;
    int64_t min_seq;                  /* the server's nextBatch at registration */
    struct agent_batch_limits limits; /* the server's, from register/heartbeat */
    char spool_id[17];                /* hex of spool_id(), sent with every batch */
    uint64_t refused_rounds; /* rounds the server refused (rejected, or a lone round 400/413) */
    char etag[80];           /* of the assignments applied */
    int64_t backoff_ms;      /* current backoff after failures */

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
    json_t *rounds;           /* array of round JSON, not yet spooled */
    json_t *paths;            /* array of {testId, startNs, path} */
    int64_t first_pending_ns; /* mono time the oldest pending round arrived */
    uint64_t dropped_rounds;
};

/* The push thread's body (agent_push.c). */
void *agent_push_main(void *arg);

#endif
