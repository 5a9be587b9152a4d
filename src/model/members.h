/* members.h: the figures of a compound source's test (DESIGN 3) -- an
 * endpoint standing for several agents, each running the test: the latest
 * round of each member within one frequency of the newest, combined over
 * all their checks (checks failed % and the RTT of every successful check),
 * with the worst member named.
 * Pure: no I/O, no clock.  Ownership: the caller's arrays; nothing kept. */
#ifndef CMON_MODEL_MEMBERS_H
#define CMON_MODEL_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/result.h"

struct cmon_member_round {
    const char *agent;
    const struct cmon_round_result *r;
};

/* Keep, in place, each agent's latest round among those starting within
 * frequency_sec of the newest round; sorted by agent.  Returns how many
 * (the members that count). */
size_t cmon_members_pick(struct cmon_member_round *rounds, size_t n, int frequency_sec);

struct cmon_members_fold {
    int64_t latest_ns; /* the newest round's start */
    double checks_failed_pct;
    bool has_rtt;
    double rtt_ms;
    size_t worst; /* index of the member with the most failed checks (then RTT) */
};
/* n >= 1 members as cmon_members_pick left them. */
void cmon_members_fold(const struct cmon_member_round *m, size_t n, struct cmon_members_fold *out);

#endif
