/* scheduler.h: runs every test's rounds on the probe engine's loop.  Every
 * frequency_sec a test starts a round of checks_per_round checks, spread
 * evenly over at most spread_ms (2 s); rounds of different tests are phase-
 * spread across the period (phase = hash(test id) mod period of the wall
 * clock), so 10k tests every 60 s do not all fire at :00.  Once placed, a
 * test's rounds follow each other on monotonic time, one period apart.  One timer heap, one
 * uv_timer: an idle test holds no fd, handle or thread, only ~200 bytes (plus its strings). Each
 * finished round is folded into a struct cmon_round_result and handed to on_result.
 *
 * Overload: a loop given more than it can do skips rounds rather than
 * launching them late or failing checks for want of descriptors.  A round
 * due longer than max_late_ms ago is skipped (the loop stalled), and so is
 * one whose checks would take the checks committed (not launched yet, or in
 * flight) past a window of 1.5 s of the checks the loop has been launching
 * per second (so the rounds it takes run nearly on time), or the checks in
 * flight past the descriptors
 * (max_fds) or its protocol's bound (probe_ops.max_inflight); a round that
 * starts late spreads its checks from when it starts (no catch-up burst).
 * At most a batch of checks is launched per turn of the loop, so it reads
 * replies between batches.  Skips are counted (probe_sched_stats) and
 * reported to on_skip.
 *
 * Loop affinity: every function runs on the engine's loop thread.
 * Ownership: the scheduler copies what it needs from the cmon_test and
 * cmon_test_config passed to probe_sched_put; the caller keeps ownership of
 * those.  The result passed to on_result is valid during the call only.
 *
 * Typical use (the embedded agent of `cmon run`):
 *     probe_sched_new(loop, eng, &(struct probe_sched_opts){.on_result = cb}, &s, &eb);
 *     for each expanded test: probe_sched_put(s, &tests[i], &mon->configs[tests[i].config], &eb);
 *     ... later: probe_sched_put again to replace (same id), probe_sched_remove(s, id);
 *     shutdown: probe_sched_close(s, ...); probe_engine_close(eng, ...); run the loop
 *     until both done callbacks ran. */
#ifndef CMON_PROBE_SCHEDULER_H
#define CMON_PROBE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"
#include "model/result.h"
#include "probe/probe.h"

struct probe_sched;

enum probe_sched_skip {
    PROBE_SKIP_LATE = 1, /* due longer than max_late_ms ago: the loop is behind */
    PROBE_SKIP_BUSY,     /* no room for its checks among those in flight */
};

struct probe_sched_opts {
    /* Wall clock, Unix ns: picks a new test's phase and stamps rounds
     * (start_ns); re-read at every round, so stamps follow NTP steps.
     * NULL: cmon_wall_ns. */
    int64_t (*now_ns)(void *ctx);
    /* Monotonic clock, ns: every round and check is timed on it, so a step
     * of the wall clock neither silences rounds nor bunches them.
     * NULL: cmon_mono_ns.  Unit tests inject both clocks (same clock_ctx)
     * and drive the scheduler with probe_sched_run_due. */
    int64_t (*mono_ns)(void *ctx);
    void *clock_ctx;
    /* Unit tests only (NULL otherwise): asked, with clock_ctx, before each
     * step that may allocate (building a test, growing the heap or the test
     * table); true makes that step fail as out of memory. */
    bool (*fail_alloc)(void *ctx);
    uint32_t spread_ms; /* a round's checks start within this; 0: 2000 */
    uint32_t max_late_ms; /* a round due longer ago is skipped; 0: 1000 */
    /* descriptors the checks in flight may hold together; 0: the soft
     * RLIMIT_NOFILE less PROBE_SCHED_FD_HEADROOM, read at probe_sched_new */
    uint32_t max_fds;
    void (*on_result)(void *arg, const struct cmon_round_result *r);
    /* a round not made (optional); with arg */
    void (*on_skip)(void *arg, const char *test_id, enum probe_sched_skip why);
    void *arg;
    const struct cmon_log *log;
};

enum cmon_err probe_sched_new(uv_loop_t *loop, struct probe_engine *eng,
                              const struct probe_sched_opts *opts, struct probe_sched **out,
                              struct cmon_errbuf *eb);

/* Add a test, or replace the one with the same id.  A replaced test's round
 * in progress finishes with the old settings and is reported; the next round
 * uses the new ones.  checks_per_round and timeout_ms left 0 take the
 * model's cmon_protocol_defaults; frequency from t->frequency_sec
 * (cfg->frequency_sec when t's is 0).  Any frequency >= 1 s is accepted (the
 * model enforces 30..1800 for monitor files). */
enum cmon_err probe_sched_put(struct probe_sched *s, const struct cmon_test *t,
                              const struct cmon_test_config *cfg, struct cmon_errbuf *eb);
/* Stop scheduling a test; a round in progress stops launching checks and its
 * result is dropped.  false when the id is unknown. */
bool probe_sched_remove(struct probe_sched *s, const char *test_id);
size_t probe_sched_count(const struct probe_sched *s);

/* Process every event due at the monotonic clock's now (the uv_timer does
 * the same in batches of checks). */
void probe_sched_run_due(struct probe_sched *s);

#define PROBE_SCHED_FD_HEADROOM 256 /* descriptors left to everything but checks */

struct probe_sched_stats {
    uint64_t rounds;                     /* started */
    uint64_t skipped_late, skipped_busy; /* rounds not made, by reason */
    uint64_t checks_cut; /* checks of started rounds not launched: the descriptors ran out */
    uint32_t inflight;   /* checks in flight now */
    uint32_t fds, max_fds; /* descriptors they hold (counted), and the bound */
    uint64_t committed, window; /* checks pending + in flight, and the window now */
};
void probe_sched_stats(const struct probe_sched *s, struct probe_sched_stats *out);

/* Stop scheduling.  Rounds in flight finish (results dropped) and done runs
 * once the last of them has ended.  To end them at once, call
 * probe_engine_close right after this (not from done): it cancels their
 * checks; from done the shutdown waits for those checks' timeouts. */
void probe_sched_close(struct probe_sched *s, void (*done)(void *arg), void *arg);

/* --- pure helpers (exposed for tests) --- */
/* hash(test_id) mod period. */
int64_t probe_sched_phase_ns(const char *test_id, int64_t period_ns);
/* The first t >= now with t = phase (mod period). */
int64_t probe_sched_next_round(int64_t now_ns, int64_t phase_ns, int64_t period_ns);
/* Start offset of check i of n within a round spread over spread_ms. */
int64_t probe_sched_check_offset_ns(uint32_t i, uint32_t n, uint32_t spread_ms);

#endif
