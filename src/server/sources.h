/* sources.h: the source agents' reported facts (addresses, primary first,
 * and region) as the API, /metrics and alerts show and filter them: a test
 * names its agent (that keeps test ids stable); SourceAddress is the agent's
 * primary address and Region its region (DESIGN 6).
 * Ownership: a struct source_book owns its copies; source_book_free.
 * Threads: any; one book per request or evaluation, never shared. */
#ifndef CMON_SERVER_SOURCES_H
#define CMON_SERVER_SOURCES_H

#include <jansson.h>
#include <stdbool.h>

#include "model/dims.h"
#include "server/server.h"
#include "store/store.h"

struct source_agent {
    char *name, *primary, *region; /* primary/region "" when not reported */
    json_t *addresses;             /* array of strings, primary first */
};

struct source_book {
    struct source_agent *v; /* sorted by name */
    size_t n, cap;
    const char *embedded; /* borrowed from the options */
    bool nomem;
};

/* Every agent the store knows (agent_list; none when the store has no agent
 * ops) and the embedded agent of o (its --address, else the host's; o may
 * be NULL: no embedded agent). */
enum cmon_err source_book_load(const struct cmon_server_opts *o, struct store *s,
                               struct source_book *b, struct cmon_errbuf *eb);
void source_book_free(struct source_book *b);
const struct source_agent *source_book_find(const struct source_book *b, const char *agent);

/* One agent's reported addresses as the store has them (agent_get): what
 * an assignment poll and a batch's trust check need of it, instead of every
 * agent's.  Owns its copies; agent_addrs_free. */
#define AGENT_ADDRS_MAX 32
struct agent_addrs {
    char *json;   /* the stored JSON array text, "[]" when none */
    json_t *arr;  /* parsed */
    const char *v[AGENT_ADDRS_MAX];
    size_t n;
};
enum cmon_err agent_addrs_load(struct store *s, const char *agent, struct agent_addrs *out,
                               struct cmon_errbuf *eb);
void agent_addrs_free(struct agent_addrs *a);
/* Whether agent, reporting a's addresses, is one of the agents the source
 * endpoint stands for (model: cmon_endpoint_has_agent). */
bool agent_addrs_member(const struct agent_addrs *a, const struct cmon_endpoint *ep,
                        const char *agent);

/* A test's SourceAddress: its agent's primary address, or what the test
 * stores (the agent's name, a compound endpoint's address) when the agent
 * reported none.  Its Region: "" when none. */
const char *source_address_of(const struct source_book *b, const struct store_test *t);
const char *source_region_of(const struct source_book *b, const struct store_test *t);

/* Every dimension's value for test t (model/dims.h order), pointing into t,
 * b and out (DestinationPort's text). */
struct test_dims {
    const char *v[CMON_DIM__COUNT];
    char port[16];
};
void test_dims_of(const struct source_book *b, const struct store_test *t, struct test_dims *out);

enum source_match {
    SOURCE_MATCH_ADDRESS_CONTAINS, /* any address contains value (case-insensitive) */
    SOURCE_MATCH_PRIMARY,          /* the primary address equals value */
    SOURCE_MATCH_REGION,           /* the region equals value */
};
/* The names of the matching agents as JSON array text (caller frees), for
 * the store's source-agent filters; NULL when out of memory. */
char *source_book_select(const struct source_book *b, enum source_match how, const char *value);

#endif
