/* evaluator.h: recompute tests' states (DESIGN 4) from what the store holds,
 * with the pure cmon_test_state_eval of src/model/state.h, and record changes
 * with time and reason.  Called by the writer thread (writer.h) for the tests
 * a transaction touched, after monitor changes, and on its timer (which is
 * what turns silent tests Indeterminate).
 * Threads: the functions use the store they are given, from the caller's thread. */
#ifndef CMON_SERVER_EVALUATOR_H
#define CMON_SERVER_EVALUATOR_H

#include <stdint.h>

#include "core/log.h"
#include "model/state.h"
#include "store/store.h"

/* Map a stored test to the evaluator's input. */
void eval_input_from_test(const struct store_test *t, int64_t now_ns, struct cmon_state_input *in);

/* Evaluate every test matching f (NULL: all) and store the verdicts.
 * Runs inside the caller's transaction if one is open. */
enum cmon_err eval_tests(struct store *s, const struct store_test_filter *f, int64_t now_ns,
                         size_t *changed, struct cmon_errbuf *eb);
/* The same for the tests with the given ids (the writer thread's touched
 * tests; sorted by strcmp, no duplicates), listing the agents once instead
 * of once per test (store_test_query_ids: one scan on SQLite for many). */
enum cmon_err eval_test_ids(struct store *s, const char *const *ids, size_t n, int64_t now_ns,
                            size_t *changed, struct cmon_errbuf *eb);

#endif
