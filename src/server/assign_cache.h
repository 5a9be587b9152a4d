/* assign_cache.h: the running monitors, parsed once per version, for the
 * agents' assignment polls.  A poll that is not a 304 (an agent's first
 * poll, or every agent's after any monitor changed) must tell which
 * monitors have an enabled test sourced at the agent; parsing each
 * monitor's JSON for each such poll made a fleet's polls after one change
 * cost agents x monitors parses.  Here a monitor is parsed when a poll first
 * meets a version of it (its name and updated_ns, as the store keeps them)
 * and the parse serves every poll until the monitor changes.
 * Ownership: the cache owns its parsed monitors; assign_cache_free.
 * Threads: any; one mutex (a parse runs under it, so a version is parsed
 * once however many polls meet it at the same moment). */
#ifndef CMON_SERVER_ASSIGN_CACHE_H
#define CMON_SERVER_ASSIGN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct assign_cache;

struct assign_cache *assign_cache_new(void);
void assign_cache_free(struct assign_cache *c);

/* One poll's walk over the running monitors: begin, ask for each, end (end
 * forgets the versions no walk met since this one began: deleted or
 * stopped monitors, and the versions superseded). */
uint64_t assign_cache_begin(struct assign_cache *c);
void assign_cache_end(struct assign_cache *c);

/* Whether monitor sm (running) has an enabled test group with a source
 * endpoint that stands for agent, reporting these addresses (a monitor
 * whose body does not parse names nobody).  *parsed: this call parsed it. */
bool assign_cache_names_agent(struct assign_cache *c, uint64_t walk, const struct store_monitor *sm,
                              const char *agent, const char *const *addresses, size_t n_addresses,
                              bool *parsed);

#endif
