/* members.h: the tests of compound sources (DESIGN 3) on the server -- the
 * members' latest rounds within one frequency (model/members.h), combined by
 * the evaluator into the test's live figures, state and reason (which names
 * the worst member), and listed member by member for
 * GET /api/v1/tests/{id}/members.
 * Ownership: struct members owns copies of the rounds; members_free.
 * Threads: the caller's, with the caller's store connection. */
#ifndef CMON_SERVER_MEMBERS_H
#define CMON_SERVER_MEMBERS_H

#include <stdbool.h>

#include "model/members.h"
#include "model/state.h"
#include "store/store.h"

/* Is the test's source an endpoint standing for several agents? */
bool members_compound(const struct store_test *t);

struct member_copy {
    char agent[64];
    struct cmon_round_result r;
};
struct members {
    struct member_copy *rounds;
    size_t n_rounds, cap;
    struct cmon_member_round *m; /* the members that count (cmon_members_pick) */
    size_t n;
    bool nomem;
};

/* The rounds of test_id that can count at now_ns (those of the last
 * 2 x frequency + 30 s, after which a test is Indeterminate), picked. */
enum cmon_err members_load(struct store *s, const char *test_id, int frequency_sec,
                           int64_t now_ns, struct members *out, struct cmon_errbuf *eb);
void members_free(struct members *m);

/* A test's state over its members: in (from eval_input_from_test) gets the
 * combined figures; combined (may be NULL) the round to store as its live
 * figures.  Without members the input is left as it was. */
void members_eval(const struct members *m, struct cmon_state_input *in,
                  struct cmon_round_result *combined, struct cmon_state_eval *out);

#endif
