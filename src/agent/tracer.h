/* tracer.h: decides when each test's path is traced and runs the trace on the
 * probe engine -- every interval (default 10 min), and at once when the
 * test's state (judged locally from its thresholds, the same pure function the
 * server uses) changes between rounds.  TCP and HTTP tests trace with TCP SYNs
 * to their port, ICMP tests with ICMP echo; a test whose configuration
 * disables traceroute is never traced.  Finished paths go to on_path; the
 * server compares them with the previous path (route changes, hop issues).
 * Loop affinity: the engine's loop thread.  Ownership: the tracer copies what
 * it needs from the tests it is given; the path passed to on_path is valid
 * during the call only. */
#ifndef CMON_AGENT_TRACER_H
#define CMON_AGENT_TRACER_H

#include <stdint.h>

#include "model/monitor.h"
#include "model/path.h"
#include "model/result.h"
#include "probe/probe.h"

struct agent_tracer;

struct agent_tracer_opts {
    int64_t interval_ns; /* 0: 600 s */
    int probes_per_hop;  /* 0: 10 */
    int max_ttl;         /* 0: 30 */
    void (*on_path)(void *arg, const char *test_id, int64_t time_ns, const struct cmon_path *p);
    void *arg;
    const struct cmon_log *log;
};

enum cmon_err agent_tracer_new(struct probe_engine *eng, const struct agent_tracer_opts *opts,
                               struct agent_tracer **out, struct cmon_errbuf *eb);
/* Add or replace a test (by id). */
enum cmon_err agent_tracer_put(struct agent_tracer *tr, const struct cmon_test *t,
                               const struct cmon_test_config *cfg, struct cmon_errbuf *eb);
void agent_tracer_remove(struct agent_tracer *tr, const char *test_id);
/* Feed a finished round; may start the test's trace.  The interval is timed
 * on mono_ns (a wall-clock step neither stops nor bunches traces); wall_ns
 * stamps the path. */
void agent_tracer_round(struct agent_tracer *tr, const struct cmon_round_result *r, int64_t mono_ns,
                        int64_t wall_ns);
/* Number of traces in flight. */
size_t agent_tracer_running(const struct agent_tracer *tr);
/* Cancel traces in flight and free everything (call before closing the engine). */
void agent_tracer_close(struct agent_tracer *tr);

#endif
